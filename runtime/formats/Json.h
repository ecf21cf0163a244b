//===- Json.h - JSON parsing that rejects duplicate keys ------------------===//
//
// nlohmann_json keeps the last of two equal keys in one object and drops the
// first without a word: a safetensors header would hide a tensor, a config
// a setting. Every JSON file awq reads goes through this parser instead.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_FORMATS_JSON_H
#define AWQ_RUNTIME_FORMATS_JSON_H

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace awq {

/// Parses `text`. Throws awq::Error "<where> is not valid JSON: ..." on a
/// syntax error and "<where>: key 'K' appears more than once at the top
/// level" (or "in one object") on a duplicate key. `where` names the file
/// and, optionally, the part of it, e.g. "model.safetensors: header".
nlohmann::json parseJsonRejectingDuplicateKeys(std::string_view text,
                                               const std::string &where);

} // namespace awq

#endif // AWQ_RUNTIME_FORMATS_JSON_H
