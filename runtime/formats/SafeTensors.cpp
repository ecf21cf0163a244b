//===- SafeTensors.cpp - Validated, zero-copy safetensors reading ---------===//

#include "runtime/formats/SafeTensors.h"

#include "runtime/formats/Json.h"
#include "runtime/formats/MappedFile.h"
#include "runtime/support/Error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <unordered_map>

namespace awq {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char *typeName(const json &value) { return value.type_name(); }

/// Reads a JSON integer in [0, limit]; throws naming the field that
/// `describeField()` spells otherwise (built only then: a header can hold
/// 200k tensors).
template <typename DescribeField>
uint64_t readUnsigned(const json &value, uint64_t limit,
                      const DescribeField &describeField) {
  if (!value.is_number_unsigned() || value.get<uint64_t>() > limit) {
    std::string got = value.is_number() ? value.dump() : typeName(value);
    throw Error(describeField() + " must be a non-negative integer" +
                (limit < std::numeric_limits<uint64_t>::max()
                     ? " at most " + std::to_string(limit)
                     : std::string()) +
                ", got " + got);
  }
  return value.get<uint64_t>();
}

uint64_t readLittleEndian64(const uint8_t *bytes) {
  uint64_t value;
  std::memcpy(&value, bytes, sizeof(value));
  return value; // The host is little-endian (static_assert in the header).
}

struct PendingTensor {
  TensorView view;
  uint64_t begin;
  uint64_t end;
};

} // namespace

uint64_t TensorView::numel() const { return checkedNumel(shape).value_or(0); }

void TensorView::copyTo(void *out) const {
  if (size)
    std::memcpy(out, data, size);
}

//===----------------------------------------------------------------------===//
// SafeTensorsFile
//===----------------------------------------------------------------------===//

struct SafeTensorsFile::Impl {
  std::string path;
  MappedFile mapping;
  uint64_t headerSize = 0;
  std::vector<TensorView> tensors;
  std::unordered_map<std::string_view, size_t> byName;
  std::map<std::string, std::string> metadata;

  explicit Impl(const std::string &filePath)
      : path(filePath), mapping(filePath) {}
  void parse();
};

void SafeTensorsFile::Impl::parse() {
  const uint64_t fileSize = mapping.size();
  if (fileSize < 8)
    throw Error(path +
                ": truncated: a safetensors file starts with an 8-byte "
                "header length, but the file has " +
                std::to_string(fileSize) + " bytes");
  headerSize = readLittleEndian64(mapping.data());
  if (headerSize > kMaxSafeTensorsHeaderBytes)
    throw Error(path + ": header length " + std::to_string(headerSize) +
                " exceeds the limit of " +
                std::to_string(kMaxSafeTensorsHeaderBytes) + " bytes");
  if (headerSize > fileSize - 8)
    throw Error(path + ": header length " + std::to_string(headerSize) +
                " runs past the end of the file (" + std::to_string(fileSize) +
                " bytes, so at most " + std::to_string(fileSize - 8) +
                " header bytes)");
  if (headerSize < 2)
    throw Error(path + ": header length " + std::to_string(headerSize) +
                " is too short for a JSON object");

  std::string_view text(reinterpret_cast<const char *>(mapping.data()) + 8,
                        headerSize);
  json header = parseJsonRejectingDuplicateKeys(text, path + ": header");
  if (!header.is_object())
    throw Error(path +
                ": header must be a JSON object mapping tensor names "
                "to {dtype, shape, data_offsets}, got " +
                typeName(header));

  const uint64_t dataSize = fileSize - 8 - headerSize;
  const uint8_t *dataStart = mapping.data() + 8 + headerSize;
  std::vector<PendingTensor> pending;
  pending.reserve(header.size());

  for (auto &[name, info] : header.items()) {
    if (name == "__metadata__") {
      if (!info.is_object())
        throw Error(path + ": __metadata__ must be an object of strings, got " +
                    typeName(info));
      for (auto &[key, value] : info.items()) {
        if (!value.is_string())
          throw Error(path + ": __metadata__ value of '" + key +
                      "' must be a string, got " + typeName(value));
        metadata.emplace(key, value.get<std::string>());
      }
      continue;
    }

    auto prefix = [&] { return path + ": tensor '" + name + "': "; };
    if (!info.is_object())
      throw Error(prefix() +
                  "expected an object with dtype, shape and "
                  "data_offsets, got " +
                  typeName(info));
    for (const char *field : {"dtype", "shape", "data_offsets"})
      if (!info.contains(field))
        throw Error(prefix() + "missing field '" + field + "'");

    const json &dtypeJson = info["dtype"];
    if (!dtypeJson.is_string())
      throw Error(prefix() + "field 'dtype' must be a string, got " +
                  typeName(dtypeJson));
    const std::string &dtypeText = dtypeJson.get_ref<const std::string &>();
    std::optional<DType> dtype = parseDType(dtypeText);
    if (!dtype)
      throw Error(prefix() + "unknown dtype '" + dtypeText +
                  "'; expected one of " + knownDTypeNames());

    const json &shapeJson = info["shape"];
    if (!shapeJson.is_array())
      throw Error(prefix() +
                  "field 'shape' must be an array of non-negative "
                  "integers, got " +
                  typeName(shapeJson));
    std::vector<int64_t> shape;
    shape.reserve(shapeJson.size());
    for (size_t i = 0; i < shapeJson.size(); ++i)
      shape.push_back(static_cast<int64_t>(
          readUnsigned(shapeJson[i], std::numeric_limits<int64_t>::max(), [&] {
            return prefix() + "field 'shape[" + std::to_string(i) + "]'";
          })));

    const json &offsetsJson = info["data_offsets"];
    if (!offsetsJson.is_array() || offsetsJson.size() != 2)
      throw Error(prefix() +
                  "field 'data_offsets' must be an array of two "
                  "integers [begin, end], got " +
                  (offsetsJson.is_array()
                       ? offsetsJson.dump()
                       : std::string(typeName(offsetsJson))));
    const uint64_t begin =
        readUnsigned(offsetsJson[0], std::numeric_limits<uint64_t>::max(),
                     [&] { return prefix() + "field 'data_offsets[0]'"; });
    const uint64_t end =
        readUnsigned(offsetsJson[1], std::numeric_limits<uint64_t>::max(),
                     [&] { return prefix() + "field 'data_offsets[1]'"; });
    auto offsetsText = [&] {
      return "data_offsets [" + std::to_string(begin) + ", " +
             std::to_string(end) + "]";
    };
    if (begin > end)
      throw Error(prefix() + offsetsText() + ": begin is after end");
    if (end > dataSize)
      throw Error(prefix() + offsetsText() +
                  " run past the data buffer, which has " +
                  std::to_string(dataSize) + " bytes");

    std::optional<uint64_t> numel = checkedNumel(shape);
    std::optional<uint64_t> bytes =
        numel ? checkedMul(*numel, dtypeSize(*dtype)) : std::nullopt;
    if (!bytes)
      throw Error(prefix() + "shape " + formatShape(shape) + " of " +
                  dtypeText + " overflows a 64-bit byte count");
    if (*bytes != end - begin)
      throw Error(prefix() + dtypeText + " x shape " + formatShape(shape) +
                  " needs " + std::to_string(*bytes) + " bytes, but " +
                  offsetsText() + " span " + std::to_string(end - begin));

    PendingTensor tensor;
    tensor.view.name = name;
    tensor.view.dtype = *dtype;
    tensor.view.shape = std::move(shape);
    tensor.view.data = dataStart + begin;
    tensor.view.size = static_cast<size_t>(end - begin);
    tensor.begin = begin;
    tensor.end = end;
    pending.push_back(std::move(tensor));
  }

  // The format requires the byte ranges to tile the data buffer exactly:
  // no byte shared by two tensors and none owned by no tensor.
  std::sort(pending.begin(), pending.end(),
            [](const PendingTensor &a, const PendingTensor &b) {
              return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
            });
  uint64_t cursor = 0;
  const std::string *previous = nullptr;
  for (const PendingTensor &tensor : pending) {
    if (tensor.begin < cursor)
      throw Error(path + ": tensor '" + tensor.view.name + "': data_offsets [" +
                  std::to_string(tensor.begin) + ", " +
                  std::to_string(tensor.end) + "] overlap tensor '" +
                  *previous + "', which ends at " + std::to_string(cursor));
    if (tensor.begin > cursor)
      throw Error(path + ": data bytes [" + std::to_string(cursor) + ", " +
                  std::to_string(tensor.begin) +
                  ") belong to no tensor (a gap before tensor '" +
                  tensor.view.name +
                  "'); tensors must cover the data buffer exactly");
    cursor = tensor.end;
    previous = &tensor.view.name;
  }
  if (cursor != dataSize)
    throw Error(path + ": data bytes [" + std::to_string(cursor) + ", " +
                std::to_string(dataSize) +
                ") at the end of the file belong to no tensor; tensors must "
                "cover the data buffer exactly");

  tensors.reserve(pending.size());
  for (PendingTensor &tensor : pending) {
    tensor.view.file = path;
    tensors.push_back(std::move(tensor.view));
  }
  // Keys view the names stored in `tensors`, which no longer moves.
  for (size_t i = 0; i < tensors.size(); ++i)
    byName.emplace(tensors[i].name, i);
}

SafeTensorsFile::SafeTensorsFile(const std::string &path)
    : impl_(std::make_unique<Impl>(path)) {
  impl_->parse();
}

SafeTensorsFile::~SafeTensorsFile() = default;
SafeTensorsFile::SafeTensorsFile(SafeTensorsFile &&) noexcept = default;
SafeTensorsFile &
SafeTensorsFile::operator=(SafeTensorsFile &&) noexcept = default;

const std::string &SafeTensorsFile::path() const { return impl_->path; }

const std::vector<TensorView> &SafeTensorsFile::tensors() const {
  return impl_->tensors;
}

const TensorView *SafeTensorsFile::find(std::string_view name) const {
  auto it = impl_->byName.find(name);
  return it == impl_->byName.end() ? nullptr : &impl_->tensors[it->second];
}

const TensorView &SafeTensorsFile::get(std::string_view name) const {
  if (const TensorView *view = find(name))
    return *view;
  throw Error(impl_->path + ": no tensor named '" + std::string(name) + "'");
}

const std::map<std::string, std::string> &SafeTensorsFile::metadata() const {
  return impl_->metadata;
}

uint64_t SafeTensorsFile::headerSize() const { return impl_->headerSize; }

//===----------------------------------------------------------------------===//
// SafeTensorsCheckpoint
//===----------------------------------------------------------------------===//

struct SafeTensorsCheckpoint::Impl {
  std::string source;
  std::vector<std::unique_ptr<SafeTensorsFile>> shards;
  std::unordered_map<std::string_view, const TensorView *> byName;
  std::map<std::string, std::string> metadata;

  /// Indexes the tensors and metadata of every shard.
  void index();
};

void SafeTensorsCheckpoint::Impl::index() {
  std::map<std::string, const std::string *> metadataOrigin;
  for (const auto &shard : shards) {
    for (const TensorView &view : shard->tensors()) {
      auto [it, inserted] = byName.emplace(view.name, &view);
      if (!inserted)
        throw Error(shard->path() + ": tensor '" + view.name +
                    "' is also stored in " + std::string(it->second->file) +
                    "; tensor names must be unique across shards");
    }
    for (const auto &[key, value] : shard->metadata()) {
      auto [it, inserted] = metadata.emplace(key, value);
      if (inserted) {
        metadataOrigin[key] = &shard->path();
      } else if (it->second != value) {
        throw Error(shard->path() + ": __metadata__ '" + key + "' is '" +
                    value + "' but " + *metadataOrigin[key] + " says '" +
                    it->second + "'");
      }
    }
  }
}

namespace {

std::string readTextFile(const std::string &path) {
  return readRegularFile(path);
}

bool isPlainFileName(const std::string &name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

} // namespace

SafeTensorsCheckpoint::SafeTensorsCheckpoint()
    : impl_(std::make_unique<Impl>()) {}
SafeTensorsCheckpoint::~SafeTensorsCheckpoint() = default;
SafeTensorsCheckpoint::SafeTensorsCheckpoint(
    SafeTensorsCheckpoint &&) noexcept = default;
SafeTensorsCheckpoint &
SafeTensorsCheckpoint::operator=(SafeTensorsCheckpoint &&) noexcept = default;

SafeTensorsCheckpoint
SafeTensorsCheckpoint::openFiles(const std::vector<std::string> &files) {
  if (files.empty())
    throw Error("cannot open a safetensors checkpoint from an empty file list");
  SafeTensorsCheckpoint checkpoint;
  checkpoint.impl_->source = files.front();
  for (const std::string &file : files)
    checkpoint.impl_->shards.push_back(std::make_unique<SafeTensorsFile>(file));
  checkpoint.impl_->index();
  return checkpoint;
}

namespace {

/// Opens the shards an index names and checks the index against them.
SafeTensorsCheckpoint openIndex(const std::string &indexPath) {
  const std::string text = readTextFile(indexPath);
  json index = parseJsonRejectingDuplicateKeys(text, indexPath + ": index");
  if (!index.is_object())
    throw Error(indexPath +
                ": expected a JSON object with a 'weight_map', "
                "got " +
                typeName(index));
  if (!index.contains("weight_map"))
    throw Error(indexPath + ": missing field 'weight_map'");
  const json &weightMap = index["weight_map"];
  if (!weightMap.is_object())
    throw Error(indexPath +
                ": 'weight_map' must be an object mapping tensor "
                "names to shard file names, got " +
                typeName(weightMap));
  if (weightMap.empty())
    throw Error(indexPath + ": 'weight_map' is empty");

  std::map<std::string, std::string> shardOf;
  std::set<std::string> shardNames;
  for (auto &[tensor, shard] : weightMap.items()) {
    if (!shard.is_string())
      throw Error(indexPath + ": weight_map['" + tensor +
                  "'] must be a shard file name, got " + typeName(shard));
    const std::string &shardName = shard.get_ref<const std::string &>();
    // Shards live next to the index: a path would let a hostile index read
    // arbitrary files.
    if (!isPlainFileName(shardName))
      throw Error(indexPath + ": weight_map['" + tensor + "'] = '" + shardName +
                  "' must be a plain file name in the index's directory");
    shardOf.emplace(tensor, shardName);
    shardNames.insert(shardName);
  }

  const fs::path directory = fs::path(indexPath).parent_path();
  std::vector<std::string> files;
  for (const std::string &name : shardNames)
    files.push_back((directory / name).string());
  SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint::openFiles(files);

  for (const auto &[tensor, shardName] : shardOf) {
    const std::string expected = (directory / shardName).string();
    const TensorView *view = checkpoint.find(tensor);
    if (!view || view->file != expected)
      throw Error(indexPath + ": weight_map says tensor '" + tensor +
                  "' is in " + shardName +
                  ", but that file has no such tensor");
  }
  for (const auto &shard : checkpoint.shards())
    for (const TensorView &view : shard->tensors())
      if (!shardOf.count(view.name))
        throw Error(shard->path() + ": tensor '" + view.name +
                    "' is not listed in the weight_map of " + indexPath);
  return checkpoint;
}

} // namespace

SafeTensorsCheckpoint SafeTensorsCheckpoint::open(const std::string &path) {
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status))
    throw Error(path + ": no such file or directory");

  SafeTensorsCheckpoint checkpoint;
  if (fs::is_directory(status)) {
    const fs::path dir(path);
    if (fs::exists(dir / "model.safetensors")) {
      checkpoint = openFiles({(dir / "model.safetensors").string()});
    } else if (fs::exists(dir / "model.safetensors.index.json")) {
      checkpoint = openIndex((dir / "model.safetensors.index.json").string());
    } else {
      std::vector<std::string> candidates;
      for (const fs::directory_entry &entry : fs::directory_iterator(dir, ec))
        if (entry.path().extension() == ".safetensors" &&
            entry.is_regular_file())
          candidates.push_back(entry.path().string());
      if (ec)
        throw Error(path + ": cannot list the directory: " + ec.message());
      std::sort(candidates.begin(), candidates.end());
      if (candidates.empty())
        throw Error(path + ": no model.safetensors, "
                           "model.safetensors.index.json or other "
                           ".safetensors file in this directory");
      if (candidates.size() > 1) {
        std::string list;
        for (const std::string &candidate : candidates)
          list += (list.empty() ? "" : ", ") +
                  fs::path(candidate).filename().string();
        throw Error(path + ": several .safetensors files (" + list +
                    ") but no model.safetensors.index.json saying which "
                    "belong to the checkpoint");
      }
      checkpoint = openFiles(candidates);
    }
  } else if (fs::path(path).extension() == ".json") {
    checkpoint = openIndex(path);
  } else {
    checkpoint = openFiles({path});
  }
  checkpoint.impl_->source = path;
  return checkpoint;
}

const std::string &SafeTensorsCheckpoint::source() const {
  return impl_->source;
}

const std::vector<std::unique_ptr<SafeTensorsFile>> &
SafeTensorsCheckpoint::shards() const {
  return impl_->shards;
}

std::vector<std::string> SafeTensorsCheckpoint::names() const {
  std::vector<std::string> names;
  names.reserve(impl_->byName.size());
  for (const auto &entry : impl_->byName)
    names.emplace_back(entry.first);
  std::sort(names.begin(), names.end());
  return names;
}

size_t SafeTensorsCheckpoint::size() const { return impl_->byName.size(); }

const TensorView *SafeTensorsCheckpoint::find(std::string_view name) const {
  auto it = impl_->byName.find(name);
  return it == impl_->byName.end() ? nullptr : it->second;
}

const TensorView &SafeTensorsCheckpoint::get(std::string_view name) const {
  if (const TensorView *view = find(name))
    return *view;
  throw Error(impl_->source + ": no tensor named '" + std::string(name) + "'");
}

const std::map<std::string, std::string> &
SafeTensorsCheckpoint::metadata() const {
  return impl_->metadata;
}

} // namespace awq
