//===- QuantizeRecordJson.h - Quantization results as JSON records --------===//
//
// The resume journal and the --report document write the same results: the
// journal exactly (doubles by their bits, so a resumed run reproduces them),
// the report readably (JSON numbers, for scripts). A layer's record is
// listed once here, for both; a new field is added in one place.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_QUANTIZE_QUANTIZERECORDJSON_H
#define AWQ_COMPILER_QUANTIZE_QUANTIZERECORDJSON_H

#include "compiler/quantize/QuantizeModel.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace awq {

/// How a record is written.
enum class RecordStyle {
  /// Doubles as the hex of their bits (infinities and NaN too) and every
  /// field present: reads back exactly (the resume journal).
  Exact,
  /// Doubles as JSON numbers, null when not finite, and empty optional
  /// fields left out (the --report document).
  Readable,
};

/// The lowercase hex of `size` bytes, in memory order.
std::string hexBytes(const void *data, size_t size);
/// Reads hexBytes' text back into `size` bytes; false when it is not that.
bool unhexBytes(const std::string &text, void *data, size_t size);

/// `value` as `style` writes doubles.
nlohmann::json doubleToJson(double value, RecordStyle style);

/// Reads the fields of a JSON object; anything malformed throws awq::Error
/// naming `where` and the field.
class RecordReader {
public:
  /// `object` must outlive the reader.
  RecordReader(const nlohmann::json &object, std::string where);

  const nlohmann::json &at(const char *field) const;
  std::string string(const char *field) const;
  int64_t integer(const char *field) const;
  bool boolean(const char *field) const;
  /// A double written in RecordStyle::Exact.
  double real(const char *field) const;
  /// `value` (found in `field`) as RecordStyle::Exact writes a double.
  double decode(const nlohmann::json &value, const char *field) const;
  std::vector<double> reals(const char *field) const;
  std::vector<std::string> strings(const char *field) const;
  /// Floats written as hexBytes of the whole array.
  std::vector<float> floats(const char *field) const;
  QuantizeMethod method(const char *field) const;
  [[noreturn]] void fail(const std::string &field,
                         const std::string &what) const;

private:
  const nlohmann::json &object_;
  std::string where_;
};

/// A layer's record (the report adds figures derived from it).
nlohmann::json layerReportToJson(const LayerQuantReport &layer,
                                 RecordStyle style);
/// Reads a RecordStyle::Exact record back exactly. Throws awq::Error naming
/// `where` and the field on a malformed one.
LayerQuantReport layerReportFromJson(const nlohmann::json &record,
                                     const std::string &where);

} // namespace awq

#endif // AWQ_COMPILER_QUANTIZE_QUANTIZERECORDJSON_H
