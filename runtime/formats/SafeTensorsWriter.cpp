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

/// Streams one complete safetensors file into `writer` (not committed).
void writeBody(AtomicFileWriter &writer,
               const std::vector<const TensorRef *> &tensors,
               const std::map<std::string, std::string> &metadata) {
  const std::string header = buildHeader(tensors, metadata);
  const uint64_t length = header.size();
  uint8_t prefix[8];
  for (int i = 0; i < 8; ++i)
    prefix[i] = static_cast<uint8_t>(length >> (8 * i));
  writer.write(prefix, sizeof(prefix));
  writer.write(header);
  for (const TensorRef *tensor : tensors)
    writer.write(tensor->data, tensor->size);
}

void removeIfExists(const fs::path &path) {
  std::error_code ec;
  fs::remove(path, ec);
}

} // namespace

void validateTensorRefs(const std::vector<TensorRef> &tensors,
                        const std::string &what) {
  std::set<std::string> seen;
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
    if (*bytes != tensor.size)
      throw Error(what + ": tensor '" + tensor.name +
                  "': " + dtypeName(tensor.dtype) + " x shape " +
                  formatShape(tensor.shape) + " needs " +
                  std::to_string(*bytes) + " bytes, but " +
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

WrittenCheckpoint
writeSafeTensorsCheckpoint(const std::string &dir,
                           const std::vector<TensorRef> &tensors,
                           const std::map<std::string, std::string> &metadata,
                           uint64_t maxShardBytes) {
  const fs::path directory(dir);
  std::error_code ec;
  if (!fs::is_directory(directory, ec))
    throw Error(dir + ": not an existing directory to write a checkpoint into");
  validateTensorRefs(tensors, dir);

  // Greedy split in the given order, as transformers' save_pretrained does.
  std::vector<std::vector<const TensorRef *>> shards(1);
  uint64_t shardBytes = 0;
  uint64_t totalBytes = 0;
  for (const TensorRef &tensor : tensors) {
    if (maxShardBytes && !shards.back().empty() &&
        shardBytes + tensor.size > maxShardBytes) {
      shards.emplace_back();
      shardBytes = 0;
    }
    shards.back().push_back(&tensor);
    shardBytes += tensor.size;
    totalBytes += tensor.size;
  }

  const fs::path singlePath = directory / "model.safetensors";
  const fs::path indexPath = directory / "model.safetensors.index.json";
  WrittenCheckpoint written;
  if (shards.size() == 1) {
    AtomicFileWriter writer(singlePath.string());
    writeBody(writer, shards.front(), metadata);
    writer.commit();
    written.files.push_back("model.safetensors");
    removeIfExists(indexPath);
    return written;
  }

  if (shards.size() > 99999)
    throw Error(dir + ": " + std::to_string(shards.size()) +
                " shards exceed the 5-digit shard numbering; raise the shard "
                "size limit");
  std::vector<std::unique_ptr<AtomicFileWriter>> writers;
  nlohmann::ordered_json weightMap = nlohmann::ordered_json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", i + 1,
                  shards.size());
    written.files.push_back(name);
    for (const TensorRef *tensor : shards[i])
      appendUniqueKey(weightMap, tensor->name, nlohmann::ordered_json(name));
    writers.push_back(
        std::make_unique<AtomicFileWriter>((directory / name).string()));
    writeBody(*writers.back(), shards[i], metadata);
    writers.back()->finish();
  }
  for (auto &writer : writers)
    writer->commit();

  nlohmann::ordered_json index;
  index["metadata"] = {{"total_size", totalBytes}};
  index["weight_map"] = std::move(weightMap);
  writeFileAtomically(indexPath.string(), index.dump(2) + "\n");
  written.index = "model.safetensors.index.json";
  removeIfExists(singlePath);
  return written;
}

} // namespace awq
