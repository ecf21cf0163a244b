//===- QuantizeRecordJson.cpp - Quantization results as JSON records ------===//

#include "compiler/quantize/QuantizeRecordJson.h"

#include "runtime/support/Error.h"

#include <cmath>
#include <cstring>
#include <optional>

namespace awq {

using nlohmann::json;

std::string hexBytes(const void *data, size_t size) {
  static const char digits[] = "0123456789abcdef";
  const auto *bytes = static_cast<const uint8_t *>(data);
  std::string out(2 * size, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
  return out;
}

bool unhexBytes(const std::string &text, void *data, size_t size) {
  if (text.size() != 2 * size)
    return false;
  auto *bytes = static_cast<uint8_t *>(data);
  auto nibble = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : -1;
  };
  for (size_t i = 0; i < size; ++i) {
    const int high = nibble(text[2 * i]), low = nibble(text[2 * i + 1]);
    if (high < 0 || low < 0)
      return false;
    bytes[i] = static_cast<uint8_t>(high * 16 + low);
  }
  return true;
}

json doubleToJson(double value, RecordStyle style) {
  if (style == RecordStyle::Readable)
    return std::isfinite(value) ? json(value) : json(nullptr);
  // By the bits: JSON numbers lose infinities and NaN.
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return hexBytes(&bits, sizeof(bits));
}

RecordReader::RecordReader(const json &object, std::string where)
    : object_(object), where_(std::move(where)) {
  if (!object_.is_object())
    fail("", "expected an object");
}

const json &RecordReader::at(const char *field) const {
  auto it = object_.find(field);
  if (it == object_.end())
    fail(field, "is missing");
  return *it;
}

std::string RecordReader::string(const char *field) const {
  const json &value = at(field);
  if (!value.is_string())
    fail(field, "expected a string");
  return value.get<std::string>();
}

int64_t RecordReader::integer(const char *field) const {
  const json &value = at(field);
  if (!value.is_number_integer())
    fail(field, "expected an integer");
  return value.get<int64_t>();
}

bool RecordReader::boolean(const char *field) const {
  const json &value = at(field);
  if (!value.is_boolean())
    fail(field, "expected true or false");
  return value.get<bool>();
}

double RecordReader::real(const char *field) const {
  return decode(at(field), field);
}

double RecordReader::decode(const json &value, const char *field) const {
  uint64_t bits;
  if (!value.is_string() ||
      !unhexBytes(value.get<std::string>(), &bits, sizeof(bits)))
    fail(field, "expected hex double bits");
  double out;
  std::memcpy(&out, &bits, sizeof(out));
  return out;
}

std::vector<double> RecordReader::reals(const char *field) const {
  const json &value = at(field);
  if (!value.is_array())
    fail(field, "expected an array");
  std::vector<double> out;
  for (const json &element : value)
    out.push_back(decode(element, field));
  return out;
}

std::vector<std::string> RecordReader::strings(const char *field) const {
  const json &value = at(field);
  if (!value.is_array())
    fail(field, "expected an array of strings");
  std::vector<std::string> out;
  for (const json &element : value) {
    if (!element.is_string())
      fail(field, "expected an array of strings");
    out.push_back(element.get<std::string>());
  }
  return out;
}

std::vector<float> RecordReader::floats(const char *field) const {
  const std::string text = string(field);
  std::vector<float> out(text.size() / 8);
  if (!unhexBytes(text, out.data(), out.size() * sizeof(float)))
    fail(field, "expected hex float bits");
  return out;
}

QuantizeMethod RecordReader::method(const char *field) const {
  std::optional<QuantizeMethod> method = parseQuantizeMethod(string(field));
  if (!method)
    fail(field, "unknown method");
  return *method;
}

void RecordReader::fail(const std::string &field,
                        const std::string &what) const {
  throw Error(where_ + (field.empty() ? "" : ": field '" + field + "'") + ": " +
              what);
}

json layerReportToJson(const LayerQuantReport &layer, RecordStyle style) {
  auto real = [style](double value) { return doubleToJson(value, style); };
  json clip = {{"searched", layer.clip.searched},
               {"groups", layer.clip.groups},
               {"clipped_groups", layer.clip.clippedGroups},
               {"mean_shrink", real(layer.clip.meanShrink)},
               {"min_shrink", real(layer.clip.minShrink)},
               {"loss_before", real(layer.clip.lossBefore)},
               {"loss_after", real(layer.clip.lossAfter)}};
  json record = {{"name", layer.name},
                 {"group", layer.group},
                 {"n", layer.n},
                 {"k", layer.k},
                 {"bits", layer.bits},
                 {"group_size", layer.groupSize},
                 {"method", methodName(layer.method)},
                 {"output_mean_square", real(layer.outputMeanSquare)},
                 {"rtn_error", real(layer.rtnError)},
                 {"awq_error", real(layer.awqError)},
                 {"ratio", real(layer.ratio)},
                 {"clip", std::move(clip)}};
  if (style == RecordStyle::Exact || !layer.rowsScaledBy.empty())
    record["rows_scaled_by"] = layer.rowsScaledBy;
  return record;
}

LayerQuantReport layerReportFromJson(const json &record,
                                     const std::string &where) {
  const RecordReader reader(record, where);
  LayerQuantReport layer;
  layer.name = reader.string("name");
  layer.group = reader.string("group");
  layer.n = reader.integer("n");
  layer.k = reader.integer("k");
  layer.bits = static_cast<int>(reader.integer("bits"));
  layer.groupSize = reader.integer("group_size");
  layer.method = reader.method("method");
  layer.outputMeanSquare = reader.real("output_mean_square");
  layer.rtnError = reader.real("rtn_error");
  layer.awqError = reader.real("awq_error");
  layer.ratio = reader.real("ratio");
  const RecordReader clip(reader.at("clip"), where + ": clip");
  layer.clip.searched = clip.boolean("searched");
  layer.clip.groups = clip.integer("groups");
  layer.clip.clippedGroups = clip.integer("clipped_groups");
  layer.clip.meanShrink = clip.real("mean_shrink");
  layer.clip.minShrink = clip.real("min_shrink");
  layer.clip.lossBefore = clip.real("loss_before");
  layer.clip.lossAfter = clip.real("loss_after");
  layer.rowsScaledBy = reader.string("rows_scaled_by");
  return layer;
}

} // namespace awq
