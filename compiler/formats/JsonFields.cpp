//===- JsonFields.cpp - Typed access to JSON with file + path in errors ---===//

#include "compiler/formats/JsonFields.h"

#include "runtime/formats/MappedFile.h"

#include "runtime/formats/Json.h"
#include "runtime/support/Error.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

namespace awq {

using nlohmann::json;

namespace {

/// A short rendering of a value for "got ..." in messages.
std::string describe(const json &value) {
  if (value.is_object())
    return "an object";
  if (value.is_array())
    return "an array";
  if (value.is_null())
    return "null";
  std::string text = value.dump();
  const char *kind = value.is_string()    ? "string "
                     : value.is_boolean() ? "boolean "
                                          : "number ";
  if (text.size() > 80)
    text = text.substr(0, 77) + "...";
  return kind + text;
}

} // namespace

std::string JsonField::where() const {
  return file_ + ": " + (path_.empty() ? std::string("top level") : path_);
}

void JsonField::fail(const std::string &expected) const {
  throw Error(where() + ": expected " + expected + ", got " +
              describe(*value_));
}

void JsonField::failWith(const std::string &message) const {
  throw Error(where() + ": " + message);
}

std::string JsonField::childPath(const std::string &key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void JsonField::requireObject() const {
  if (!value_->is_object())
    fail("an object");
}

size_t JsonField::requireArray() const {
  if (!value_->is_array())
    fail("an array");
  return value_->size();
}

JsonField JsonField::field(const std::string &key) const {
  requireObject();
  auto it = value_->find(key);
  if (it == value_->end())
    throw Error(file_ + ": " + childPath(key) + ": missing required field");
  return JsonField(*it, file_, childPath(key));
}

std::optional<JsonField>
JsonField::optionalField(const std::string &key) const {
  requireObject();
  auto it = value_->find(key);
  if (it == value_->end() || it->is_null())
    return std::nullopt;
  return JsonField(*it, file_, childPath(key));
}

JsonField JsonField::element(size_t index) const {
  requireArray();
  return JsonField(value_->at(index), file_,
                   path_ + "[" + std::to_string(index) + "]");
}

void JsonField::rejectUnknownKeys(
    std::initializer_list<const char *> known) const {
  requireObject();
  for (auto it = value_->begin(); it != value_->end(); ++it) {
    bool found = false;
    for (const char *name : known)
      found = found || it.key() == name;
    if (found)
      continue;
    std::string list;
    for (const char *name : known)
      list += (list.empty() ? "" : ", ") + std::string(name);
    throw Error(file_ + ": " + childPath(it.key()) +
                ": unknown field; expected one of: " + list);
  }
}

std::string JsonField::asString() const {
  if (!value_->is_string())
    fail("a string");
  return value_->get<std::string>();
}

std::string JsonField::asName() const {
  if (!value_->is_string() || value_->get_ref<const std::string &>().empty())
    fail("a non-empty string");
  return value_->get<std::string>();
}

bool JsonField::asBool() const {
  if (!value_->is_boolean())
    fail("true or false");
  return value_->get<bool>();
}

int64_t JsonField::asInt(int64_t min, int64_t max) const {
  std::string range;
  if (min != INT64_MIN || max != INT64_MAX)
    range = " in [" + std::to_string(min) + ", " +
            (max == INT64_MAX ? std::string("2^63-1") : std::to_string(max)) +
            "]";
  if (value_->is_number_unsigned()) {
    uint64_t v = value_->get<uint64_t>();
    if (v <= static_cast<uint64_t>(max) && static_cast<int64_t>(v) >= min)
      return static_cast<int64_t>(v);
  } else if (value_->is_number_integer()) {
    int64_t v = value_->get<int64_t>();
    if (v >= min && v <= max)
      return v;
  }
  fail("an integer" + range);
}

double JsonField::asNumber() const {
  if (!value_->is_number() || !std::isfinite(value_->get<double>()))
    fail("a finite number");
  return value_->get<double>();
}

json parseJsonText(const std::string &text, const std::string &file) {
  return parseJsonRejectingDuplicateKeys(text, file);
}

json readJsonFile(const std::string &file) {
  return parseJsonText(readRegularFile(file), file);
}

} // namespace awq
