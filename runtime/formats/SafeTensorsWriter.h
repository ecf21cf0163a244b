//===- SafeTensorsWriter.h - Atomic safetensors and sharded checkpoints ---===//
//
// Writes the standard safetensors layout: an 8-byte little-endian header
// length, a JSON header padded with spaces to a multiple of 8 bytes, then the
// tensor bytes in the order given. Files appear only when complete.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_FORMATS_SAFETENSORSWRITER_H
#define AWQ_RUNTIME_FORMATS_SAFETENSORSWRITER_H

#include "runtime/formats/DType.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace awq {

/// A tensor to write; `data` is borrowed and must hold `size` bytes.
struct TensorRef {
  std::string name;
  DType dtype = DType::U8;
  std::vector<int64_t> shape;
  const void *data = nullptr;
  size_t size = 0;
};

/// Checks names (non-empty, unique, not "__metadata__") and that
/// dtype x shape matches each size; throws awq::Error naming `what` and the
/// tensor.
void validateTensorRefs(const std::vector<TensorRef> &tensors,
                        const std::string &what);

/// Writes one safetensors file through a temporary file in the same
/// directory, renamed on success and removed on any failure.
void writeSafeTensors(const std::string &path,
                      const std::vector<TensorRef> &tensors,
                      const std::map<std::string, std::string> &metadata = {});

/// What writeSafeTensorsCheckpoint wrote, relative to its directory.
struct WrittenCheckpoint {
  std::vector<std::string> files; ///< Shards (or the single file).
  std::string index;              ///< The index file, empty when unsharded.
};

/// Writes a checkpoint into the existing directory `dir`. With
/// `maxShardBytes` == 0, or when all data fits in one shard, writes
/// `model.safetensors`. Otherwise splits the tensors, in order, into shards
/// of at most `maxShardBytes` data bytes (a larger tensor gets a shard of its
/// own) named `model-0000i-of-0000n.safetensors`, plus
/// `model.safetensors.index.json` with `metadata.total_size` and
/// `weight_map`. Every shard is written in full before any is renamed into
/// place, and the index last. A stale `model.safetensors` (when sharding) or
/// index (when not) is removed so readers find only the new checkpoint.
WrittenCheckpoint
writeSafeTensorsCheckpoint(const std::string &dir,
                           const std::vector<TensorRef> &tensors,
                           const std::map<std::string, std::string> &metadata,
                           uint64_t maxShardBytes = 0);

} // namespace awq

#endif // AWQ_RUNTIME_FORMATS_SAFETENSORSWRITER_H
