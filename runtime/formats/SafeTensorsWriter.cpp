//===- SafeTensorsWriter.cpp - Atomic safetensors and sharded checkpoints -===//

#include "runtime/formats/SafeTensorsWriter.h"

#include "runtime/formats/AtomicFile.h"
#include "runtime/formats/Json.h"
#include "runtime/support/Error.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>

namespace awq {

namespace {

namespace fs = std::filesystem;

/// Builds the padded header of a file holding `tensors` back to back.
std::string buildHeader(const std::vector<const TensorRef *> &tensors,
                        const std::map<std::string, std::string> &metadata) {
  // ordered_json keeps the tensors in data order, which makes files easy to
  // inspect; readers do not depend on key order.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto &[key, value] : metadata)
      meta[key] = value;
    header["__metadata__"] = std::move(meta);
  }
  uint64_t offset = 0;
  for (const TensorRef *tensor : tensors) {
    nlohmann::ordered_json info = nlohmann::ordered_json::object();
    info["dtype"] = dtypeName(tensor->dtype);
    info["shape"] = tensor->shape;
    info["data_offsets"] = {offset, offset + tensor->size};
    appendUniqueKey(header, tensor->name, std::move(info));
    offset += tensor->size;
  }
  std::string text = header.dump();
  // Padding keeps the data buffer 8-byte aligned relative to the file start.
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

/// Writes the length prefix and header of a file holding `tensors`; returns
/// where the data buffer starts.
uint64_t writeHeader(AtomicFileWriter &writer,
                     const std::vector<const TensorRef *> &tensors,
                     const std::map<std::string, std::string> &metadata) {
  const std::string header = buildHeader(tensors, metadata);
  const uint64_t length = header.size();
  uint8_t prefix[8];
  for (int i = 0; i < 8; ++i)
    prefix[i] = static_cast<uint8_t>(length >> (8 * i));
  writer.write(prefix, sizeof(prefix));
  writer.write(header);
  return sizeof(prefix) + length;
}

/// Streams one complete safetensors file into `writer` (not committed).
void writeBody(AtomicFileWriter &writer,
               const std::vector<const TensorRef *> &tensors,
               const std::map<std::string, std::string> &metadata) {
  writeHeader(writer, tensors, metadata);
  for (const TensorRef *tensor : tensors)
    writer.write(tensor->data, tensor->size);
}

void removeIfExists(const fs::path &path) {
  std::error_code ec;
  fs::remove(path, ec);
}

} // namespace

std::vector<uint64_t> tensorLayoutSizes(const std::vector<TensorRef> &tensors,
                                        const std::string &what) {
  std::set<std::string> seen;
  std::vector<uint64_t> sizes;
  sizes.reserve(tensors.size());
  for (const TensorRef &tensor : tensors) {
    if (tensor.name.empty())
      throw Error(what + ": a tensor has an empty name");
    if (tensor.name == "__metadata__")
      throw Error(what + ": '__metadata__' is reserved and cannot name a "
                         "tensor");
    if (!seen.insert(tensor.name).second)
      throw Error(what + ": tensor '" + tensor.name + "' is given twice");
    std::optional<uint64_t> numel = checkedNumel(tensor.shape);
    std::optional<uint64_t> bytes =
        numel ? checkedMul(*numel, dtypeSize(tensor.dtype)) : std::nullopt;
    if (!bytes)
      throw Error(what + ": tensor '" + tensor.name + "': shape " +
                  formatShape(tensor.shape) +
                  " has a negative extent or overflows a 64-bit byte count");
    sizes.push_back(*bytes);
  }
  return sizes;
}

void validateTensorRefs(const std::vector<TensorRef> &tensors,
                        const std::string &what) {
  const std::vector<uint64_t> sizes = tensorLayoutSizes(tensors, what);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorRef &tensor = tensors[i];
    if (sizes[i] != tensor.size)
      throw Error(what + ": tensor '" + tensor.name +
                  "': " + dtypeName(tensor.dtype) + " x shape " +
                  formatShape(tensor.shape) + " needs " +
                  std::to_string(sizes[i]) + " bytes, but " +
                  std::to_string(tensor.size) + " were given");
    if (tensor.size && !tensor.data)
      throw Error(what + ": tensor '" + tensor.name + "' has no data");
  }
}

void writeSafeTensors(const std::string &path,
                      const std::vector<TensorRef> &tensors,
                      const std::map<std::string, std::string> &metadata) {
  validateTensorRefs(tensors, path);
  std::vector<const TensorRef *> order;
  order.reserve(tensors.size());
  for (const TensorRef &tensor : tensors)
    order.push_back(&tensor);
  AtomicFileWriter writer(path);
  writeBody(writer, order, metadata);
  writer.commit();
}

struct SafeTensorsCheckpointWriter::Shard {
  std::string name;
  std::unique_ptr<AtomicFileWriter> file;
};

SafeTensorsCheckpointWriter::SafeTensorsCheckpointWriter(
    const std::string &dir, const std::vector<TensorRef> &tensors,
    const std::map<std::string, std::string> &metadata, uint64_t maxShardBytes,
    ShardFiles files)
    : SafeTensorsCheckpointWriter(dir, "", tensors, metadata, maxShardBytes,
                                  files) {}

std::unique_ptr<SafeTensorsCheckpointWriter>
SafeTensorsCheckpointWriter::singleFile(
    const std::string &path, const std::vector<TensorRef> &tensors,
    const std::map<std::string, std::string> &metadata) {
  const fs::path file(path);
  if (file.filename().empty())
    throw Error(path + ": not a file name to write a safetensors file to");
  const std::string dir =
      file.parent_path().empty() ? "." : file.parent_path().string();
  return std::unique_ptr<SafeTensorsCheckpointWriter>(
      new SafeTensorsCheckpointWriter(dir, file.filename().string(), tensors,
                                      metadata, 0, ShardFiles::Temporary));
}

SafeTensorsCheckpointWriter::SafeTensorsCheckpointWriter(
    const std::string &dir, const std::string &fileName,
    const std::vector<TensorRef> &tensors,
    const std::map<std::string, std::string> &metadata, uint64_t maxShardBytes,
    ShardFiles files)
    : dir_(dir), singleFile_(!fileName.empty()) {
  const fs::path directory(dir);
  std::error_code ec;
  if (!fs::is_directory(directory, ec))
    throw Error(dir + ": not an existing directory to write a checkpoint into");
  const std::vector<uint64_t> sizes = tensorLayoutSizes(tensors, dir);

  // Greedy split in the given order, as transformers' save_pretrained does.
  std::vector<TensorRef> laidOut = tensors;
  std::vector<std::vector<const TensorRef *>> shards(1);
  uint64_t shardBytes = 0;
  for (size_t i = 0; i < laidOut.size(); ++i) {
    TensorRef &tensor = laidOut[i];
    tensor.size = sizes[i];
    tensor.data = nullptr;
    if (maxShardBytes && !shards.back().empty() &&
        shardBytes + tensor.size > maxShardBytes) {
      shards.emplace_back();
      shardBytes = 0;
    }
    shards.back().push_back(&tensor);
    shardBytes += tensor.size;
    totalBytes_ += tensor.size;
  }
  if (shards.size() > 99999)
    throw Error(dir + ": " + std::to_string(shards.size()) +
                " shards exceed the 5-digit shard numbering; raise the shard "
                "size limit");

  for (size_t i = 0; i < shards.size(); ++i) {
    auto shard = std::make_unique<Shard>();
    if (shards.size() == 1) {
      shard->name = singleFile_ ? fileName : "model.safetensors";
    } else {
      char name[64];
      std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors",
                    i + 1, shards.size());
      shard->name = name;
    }
    const std::string path = (directory / shard->name).string();
    // A reopened partial shard gets the same header again: the layout is a
    // function of the tensors, which the caller keeps equal across resumes.
    shard->file =
        files == ShardFiles::Resumable
            ? std::make_unique<AtomicFileWriter>(path, path + ".partial")
            : std::make_unique<AtomicFileWriter>(path);
    uint64_t offset = writeHeader(*shard->file, shards[i], metadata);
    for (const TensorRef *tensor : shards[i]) {
      order_.push_back(tensor->name);
      slots_[tensor->name] = Slot{i, offset, tensor->size, false};
      offset += tensor->size;
    }
    shards_.push_back(std::move(shard));
  }
}

SafeTensorsCheckpointWriter::~SafeTensorsCheckpointWriter() = default;

void SafeTensorsCheckpointWriter::write(const std::string &name,
                                        const void *data, size_t size) {
  auto it = slots_.find(name);
  if (it == slots_.end())
    throw Error(dir_ + ": tensor '" + name +
                "' is not part of the checkpoint being written");
  Slot &slot = it->second;
  if (slot.written)
    throw Error(dir_ + ": tensor '" + name + "' is written twice");
  if (size != slot.size)
    throw Error(dir_ + ": tensor '" + name + "' needs " +
                std::to_string(slot.size) + " bytes, but " +
                std::to_string(size) + " were given");
  if (size && !data)
    throw Error(dir_ + ": tensor '" + name + "' has no data");
  // Sparse until written: pwrite past the end extends the file.
  if (size)
    shards_[slot.shard]->file->writeAt(slot.offset, data, size);
  slot.written = true;
}

const SafeTensorsCheckpointWriter::Slot &
SafeTensorsCheckpointWriter::slot(const std::string &name) const {
  auto it = slots_.find(name);
  if (it == slots_.end())
    throw Error(dir_ + ": tensor '" + name +
                "' is not part of the checkpoint being written");
  return it->second;
}

void SafeTensorsCheckpointWriter::markWritten(const std::string &name) {
  slot(name);
  Slot &entry = slots_.at(name);
  if (entry.written)
    throw Error(dir_ + ": tensor '" + name + "' is written twice");
  const AtomicFileWriter &file = *shards_[entry.shard]->file;
  if (!file.reopened())
    throw Error(dir_ + ": tensor '" + name + "' should be in " +
                file.tempPath() + ", which did not exist");
  entry.written = true;
}

std::vector<uint8_t>
SafeTensorsCheckpointWriter::read(const std::string &name) const {
  const Slot &entry = slot(name);
  if (!entry.written)
    throw Error(dir_ + ": tensor '" + name + "' was not written yet");
  std::vector<uint8_t> bytes(entry.size);
  if (!bytes.empty())
    shards_[entry.shard]->file->readAt(entry.offset, bytes.data(),
                                       bytes.size());
  return bytes;
}

void SafeTensorsCheckpointWriter::sync() {
  for (auto &shard : shards_)
    shard->file->sync();
}

WrittenCheckpoint SafeTensorsCheckpointWriter::commit() {
  if (committed_)
    throw Error(dir_ + ": checkpoint already committed");
  for (const std::string &name : order_)
    if (!slots_.at(name).written)
      throw Error(dir_ + ": tensor '" + name +
                  "' was never written; the checkpoint is incomplete");
  const fs::path directory(dir_);
  const fs::path singlePath = directory / "model.safetensors";
  const fs::path indexPath = directory / "model.safetensors.index.json";
  WrittenCheckpoint written;
  // Every shard is complete on disk before any becomes visible.
  for (auto &shard : shards_)
    shard->file->finish();
  for (auto &shard : shards_) {
    shard->file->commit();
    written.files.push_back(shard->name);
  }
  committed_ = true;
  if (shards_.size() == 1) {
    // A lone file shares its directory with whatever is there.
    if (!singleFile_)
      removeIfExists(indexPath);
    return written;
  }
  nlohmann::ordered_json weightMap = nlohmann::ordered_json::object();
  for (const std::string &name : order_)
    appendUniqueKey(
        weightMap, name,
        nlohmann::ordered_json(shards_[slots_.at(name).shard]->name));
  nlohmann::ordered_json index;
  index["metadata"] = {{"total_size", totalBytes_}};
  index["weight_map"] = std::move(weightMap);
  writeFileAtomically(indexPath.string(), index.dump(2) + "\n");
  written.index = "model.safetensors.index.json";
  removeIfExists(singlePath);
  return written;
}

WrittenCheckpoint
writeSafeTensorsCheckpoint(const std::string &dir,
                           const std::vector<TensorRef> &tensors,
                           const std::map<std::string, std::string> &metadata,
                           uint64_t maxShardBytes) {
  {
    const fs::path directory(dir);
    std::error_code ec;
    if (!fs::is_directory(directory, ec))
      throw Error(dir +
                  ": not an existing directory to write a checkpoint into");
  }
  validateTensorRefs(tensors, dir);
  SafeTensorsCheckpointWriter writer(dir, tensors, metadata, maxShardBytes);
  for (const TensorRef &tensor : tensors)
    writer.write(tensor.name, tensor.data, tensor.size);
  return writer.commit();
}

} // namespace awq
