//===- Json.h - JSON parsing that rejects duplicate keys ------------------===//
//
// nlohmann_json keeps the last of two equal keys in one object and drops the
// first without a word: a safetensors header would hide a tensor, a config
// a setting. Every JSON file awq reads goes through this parser instead. It
// also bounds the nesting depth (deep documents would overflow the stack of
// the recursive copies and dumps later) and runs in time linear in the size
// of the document (nlohmann's callback parser rescans an object's members
// at every nested object's end: quadratic for a 200k-tensor header).
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_FORMATS_JSON_H
#define AWQ_RUNTIME_FORMATS_JSON_H

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <type_traits>

namespace awq {

/// Objects and arrays nested deeper than this are refused. awq's own
/// formats nest at most 6 deep.
constexpr int kMaxJsonDepth = 64;

/// Parses `text`. Throws awq::Error "<where> is not valid JSON: ..." on a
/// syntax error, "<where>: key 'K' appears more than once at the top
/// level" (or "in one object") on a duplicate key, and "<where>: nested more
/// than 64 levels deep" on a deeper document. `where` names the file
/// and, optionally, the part of it, e.g. "model.safetensors: header".
nlohmann::json parseJsonRejectingDuplicateKeys(std::string_view text,
                                               const std::string &where);

/// Adds `key: value` to the JSON object `object` without searching for an
/// existing `key`: ordered_json's operator[] scans every member, so building
/// a 200k-tensor header with it is quadratic. The caller guarantees that the
/// keys it appends are distinct (the writers validate names first).
template <typename JsonT>
void appendUniqueKey(JsonT &object, std::string key, JsonT value) {
  auto &members = object.template get_ref<typename JsonT::object_t &>();
  if constexpr (std::is_same_v<JsonT, nlohmann::ordered_json>)
    members.emplace_back(std::move(key), std::move(value));
  else
    members.emplace_hint(members.end(), std::move(key), std::move(value));
}

} // namespace awq

#endif // AWQ_RUNTIME_FORMATS_JSON_H
