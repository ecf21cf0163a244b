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
#include <memory>
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

/// Where SafeTensorsCheckpointWriter keeps its shards until commit().
enum class ShardFiles {
  /// Unique temporary names, removed unless committed.
  Temporary,
  /// `<shard>.partial` in the directory, kept when not committed and
  /// reopened (not truncated) by a later writer of the same layout, so an
  /// interrupted run can be resumed (markWritten, read, sync).
  Resumable,
};

/// A checkpoint whose layout is fixed before its data exists, so tensors
/// can be written as they are produced, in any order, and dropped: shards,
/// offsets and headers follow from the tensors' names, dtypes and shapes
/// (`data` and `size` of the refs given are ignored; sizes come from the
/// shapes). Each shard is a temporary file until commit(), which requires
/// every tensor to have been written once; without it the destructor
/// removes them, so the directory never holds a partial checkpoint.
class SafeTensorsCheckpointWriter {
public:
  /// Lays out `tensors` in the given order as writeSafeTensorsCheckpoint
  /// does and creates the shard files with their headers. Throws awq::Error
  /// naming `dir` and the tensor on a bad name, shape or directory.
  SafeTensorsCheckpointWriter(
      const std::string &dir, const std::vector<TensorRef> &tensors,
      const std::map<std::string, std::string> &metadata,
      uint64_t maxShardBytes = 0, ShardFiles files = ShardFiles::Temporary);
  /// One safetensors file at `path` (never sharded; commit() touches no
  /// other file): the file writeSafeTensors writes, without holding every
  /// tensor at once. Throws awq::Error as the constructor does.
  static std::unique_ptr<SafeTensorsCheckpointWriter>
  singleFile(const std::string &path, const std::vector<TensorRef> &tensors,
             const std::map<std::string, std::string> &metadata);
  ~SafeTensorsCheckpointWriter();
  SafeTensorsCheckpointWriter(const SafeTensorsCheckpointWriter &) = delete;
  SafeTensorsCheckpointWriter &
  operator=(const SafeTensorsCheckpointWriter &) = delete;

  /// Writes the bytes of tensor `name`: `size` must be its size, and each
  /// tensor is written once. Throws awq::Error naming the tensor otherwise.
  void write(const std::string &name, const void *data, size_t size);
  /// Resumable: records that tensor `name` was written by an earlier
  /// writer (its bytes are in the reopened shard). Throws awq::Error naming
  /// the tensor when its shard file did not exist before this writer.
  void markWritten(const std::string &name);
  /// The bytes of a tensor written (or marked) so far, read back from its
  /// shard. Throws awq::Error naming the tensor.
  std::vector<uint8_t> read(const std::string &name) const;
  /// fsyncs every shard: what was written survives a crash from here on.
  void sync();
  /// Bytes of tensor data over all shards.
  uint64_t totalBytes() const { return totalBytes_; }
  /// Flushes every shard, renames them into place, then writes the index
  /// (when sharded) and removes a stale single file or index. Throws
  /// awq::Error naming the first tensor never written.
  WrittenCheckpoint commit();

private:
  /// `fileName`: the single file's name, or empty for a checkpoint.
  SafeTensorsCheckpointWriter(
      const std::string &dir, const std::string &fileName,
      const std::vector<TensorRef> &tensors,
      const std::map<std::string, std::string> &metadata,
      uint64_t maxShardBytes, ShardFiles files);
  struct Shard;
  struct Slot {
    size_t shard = 0;
    uint64_t offset = 0; ///< From the start of the shard file.
    uint64_t size = 0;
    bool written = false;
  };
  const Slot &slot(const std::string &name) const;
  std::string dir_;
  std::vector<std::string> order_; ///< Names in layout order.
  std::map<std::string, Slot> slots_;
  std::vector<std::unique_ptr<Shard>> shards_;
  uint64_t totalBytes_ = 0;
  bool singleFile_ = false;
  bool committed_ = false;
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
