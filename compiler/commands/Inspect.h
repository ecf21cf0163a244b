//===- Inspect.h - Summaries of safetensors files, checkpoints, models ----===//
//
// `awqc inspect PATH` tells what a file is and what is in it without
// unpacking anything: a safetensors file (tensors, dtypes, metadata), a
// checkpoint directory (quantized: layers, bits, group size, zero point,
// sizes; unquantized: architecture and tensors) or a model description
// (input groups, layers, epilogues). The JSON form is the primary result;
// the text form is rendered from it, so the two never disagree.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_COMMANDS_INSPECT_H
#define AWQ_COMPILER_COMMANDS_INSPECT_H

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace awq {

/// Summarises `path`. The result has "kind": "safetensors",
/// "quantized_checkpoint", "checkpoint" or "model_description". Throws
/// awq::Error naming the path when it is none of these or is malformed.
nlohmann::json inspectPath(const std::string &path);

/// The human-readable rendering of an inspectPath() result.
std::string formatInspection(const nlohmann::json &summary);

/// "1.50 MiB", "512 B".
std::string formatBytes(uint64_t bytes);

} // namespace awq

#endif // AWQ_COMPILER_COMMANDS_INSPECT_H
