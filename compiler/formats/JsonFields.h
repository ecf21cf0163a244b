//===- JsonFields.h - Typed access to JSON with file + path in errors -----===//
//
// Config files and model descriptions are hand-edited: every error names the
// file, the JSON path of the field (e.g. `layers[3].group_size`) and what was
// expected. JsonField carries that context through nested look-ups.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_FORMATS_JSONFIELDS_H
#define AWQ_COMPILER_FORMATS_JSONFIELDS_H

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

namespace awq {

/// A JSON value together with where it came from.
class JsonField {
public:
  JsonField(const nlohmann::json &value, std::string file, std::string path)
      : value_(&value), file_(std::move(file)), path_(std::move(path)) {}

  const nlohmann::json &value() const { return *value_; }
  const std::string &file() const { return file_; }
  /// The JSON path, e.g. "layers[3].group_size"; empty for the root.
  const std::string &path() const { return path_; }
  /// "file: path" for messages ("file: top level" for the root).
  std::string where() const;

  /// Throws awq::Error: "<file>: <path>: expected <expected>, got <value>".
  [[noreturn]] void fail(const std::string &expected) const;
  /// Throws awq::Error: "<file>: <path>: <message>" (no "got" part).
  [[noreturn]] void failWith(const std::string &message) const;

  /// Child field of an object; throws naming the path when `this` is not an
  /// object or the key is missing.
  JsonField field(const std::string &key) const;
  /// Child field, or std::nullopt when absent or null.
  std::optional<JsonField> optionalField(const std::string &key) const;
  /// Element of an array.
  JsonField element(size_t index) const;
  /// Path of a child, for messages about fields that are absent.
  std::string childPath(const std::string &key) const;

  void requireObject() const;
  /// Requires an array and returns its size.
  size_t requireArray() const;
  /// Throws naming the first key of this object that is not in `known`.
  void rejectUnknownKeys(std::initializer_list<const char *> known) const;

  std::string asString() const;
  /// A non-empty string.
  std::string asName() const;
  bool asBool() const;
  /// An integer in [min, max]; 1.0 or "1" are rejected.
  int64_t asInt(int64_t min = INT64_MIN, int64_t max = INT64_MAX) const;
  /// A finite number.
  double asNumber() const;

private:
  const nlohmann::json *value_;
  std::string file_;
  std::string path_;
};

/// Parses JSON text; throws awq::Error naming `file` on a syntax error or a
/// duplicate key in any object (which nlohmann_json would silently drop).
nlohmann::json parseJsonText(const std::string &text, const std::string &file);

/// Reads and parses a JSON file; throws awq::Error naming it.
nlohmann::json readJsonFile(const std::string &file);

} // namespace awq

#endif // AWQ_COMPILER_FORMATS_JSONFIELDS_H
