//===- SafeTensors.h - Validated, zero-copy safetensors reading -----------===//
//
// Opens safetensors files (single or sharded through
// model.safetensors.index.json) by mapping them and exposes each tensor as a
// typed view of the mapped bytes. Files are untrusted: every structural rule
// of the format is checked when a file is opened, and a violation throws
// awq::Error naming the file and the tensor.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_FORMATS_SAFETENSORS_H
#define AWQ_RUNTIME_FORMATS_SAFETENSORS_H

#include "runtime/formats/DType.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace awq {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; views assume a "
              "little-endian host");

/// The largest header accepted, as in the reference implementation: a larger
/// length is a corrupt or hostile file, not a real checkpoint.
constexpr uint64_t kMaxSafeTensorsHeaderBytes = 100'000'000;

/// One tensor inside a mapped file. The bytes stay valid while the owning
/// SafeTensorsFile (or SafeTensorsCheckpoint) is alive. `data` carries no
/// alignment guarantee (the header length need not be a multiple of 8), so
/// read elements with memcpy or use copyTo().
struct TensorView {
  std::string name;
  DType dtype = DType::U8;
  std::vector<int64_t> shape;
  const uint8_t *data = nullptr;
  size_t size = 0;       ///< Bytes; equals numel() * dtypeSize(dtype).
  std::string_view file; ///< Path of the file holding it, for messages.

  uint64_t numel() const;
  /// Copies the bytes into `out`, which must hold `size` bytes.
  void copyTo(void *out) const;
};

/// One mapped and validated safetensors file.
class SafeTensorsFile {
public:
  /// Maps and validates `path`; throws awq::Error on any violation.
  explicit SafeTensorsFile(const std::string &path);
  ~SafeTensorsFile();
  SafeTensorsFile(SafeTensorsFile &&) noexcept;
  SafeTensorsFile &operator=(SafeTensorsFile &&) noexcept;

  const std::string &path() const;
  /// Tensors in data order (by offset).
  const std::vector<TensorView> &tensors() const;
  /// nullptr when absent.
  const TensorView *find(std::string_view name) const;
  /// Throws awq::Error naming the file and tensor when absent.
  const TensorView &get(std::string_view name) const;
  /// The optional `__metadata__` string map.
  const std::map<std::string, std::string> &metadata() const;
  /// Bytes of the JSON header, as stored (padding included).
  uint64_t headerSize() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// A checkpoint made of one or more safetensors files with unique tensor
/// names across all of them.
class SafeTensorsCheckpoint {
public:
  /// `path` may be:
  ///  - a directory: uses `model.safetensors` when present (as transformers
  ///    does), else `model.safetensors.index.json`, else the only
  ///    `*.safetensors` file in it;
  ///  - an index JSON file (`*.index.json`): opens every shard it names;
  ///  - a `.safetensors` file.
  /// Throws awq::Error naming the offending file on any problem.
  static SafeTensorsCheckpoint open(const std::string &path);

  /// Opens an explicit list of files; tensor names must be unique across them.
  static SafeTensorsCheckpoint openFiles(const std::vector<std::string> &files);

  SafeTensorsCheckpoint(SafeTensorsCheckpoint &&) noexcept;
  SafeTensorsCheckpoint &operator=(SafeTensorsCheckpoint &&) noexcept;
  ~SafeTensorsCheckpoint();

  /// What was opened (a file or an index), for messages.
  const std::string &source() const;
  const std::vector<std::unique_ptr<SafeTensorsFile>> &shards() const;
  /// Every tensor name, sorted.
  std::vector<std::string> names() const;
  size_t size() const;
  const TensorView *find(std::string_view name) const;
  /// Throws awq::Error naming the checkpoint and tensor when absent.
  const TensorView &get(std::string_view name) const;
  /// Union of the shards' `__metadata__`; a key with different values in two
  /// shards throws when the checkpoint is opened.
  const std::map<std::string, std::string> &metadata() const;

private:
  SafeTensorsCheckpoint();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace awq

#endif // AWQ_RUNTIME_FORMATS_SAFETENSORS_H
