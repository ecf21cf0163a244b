//===- DType.cpp - Element types of safetensors tensors -------------------===//

#include "runtime/formats/DType.h"

#include <iterator>

namespace awq {

namespace {

struct DTypeInfo {
  DType dtype;
  const char *name;
  size_t size;
};

// Spellings as written by huggingface/safetensors.
constexpr DTypeInfo kDTypes[] = {
    {DType::Bool, "BOOL", 1},      {DType::U8, "U8", 1},
    {DType::I8, "I8", 1},          {DType::I16, "I16", 2},
    {DType::U16, "U16", 2},        {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},      {DType::I32, "I32", 4},
    {DType::U32, "U32", 4},        {DType::F32, "F32", 4},
    {DType::F64, "F64", 8},        {DType::I64, "I64", 8},
    {DType::U64, "U64", 8},        {DType::C64, "C64", 8},
    {DType::F8E4M3, "F8_E4M3", 1}, {DType::F8E5M2, "F8_E5M2", 1},
    {DType::F8E8M0, "F8_E8M0", 1},
};

const DTypeInfo &infoOf(DType dtype) {
  for (const DTypeInfo &info : kDTypes)
    if (info.dtype == dtype)
      return info;
  // Unreachable for values of the enum; keep a defined answer regardless.
  return kDTypes[0];
}

} // namespace

const char *dtypeName(DType dtype) { return infoOf(dtype).name; }

size_t dtypeSize(DType dtype) { return infoOf(dtype).size; }

std::optional<DType> parseDType(std::string_view name) {
  for (const DTypeInfo &info : kDTypes)
    if (name == info.name)
      return info.dtype;
  return std::nullopt;
}

std::string knownDTypeNames() {
  std::string names;
  for (const DTypeInfo &info : kDTypes) {
    if (!names.empty())
      names += ", ";
    names += info.name;
  }
  return names;
}

std::optional<uint64_t> checkedMul(uint64_t a, uint64_t b) {
  uint64_t product;
  if (__builtin_mul_overflow(a, b, &product))
    return std::nullopt;
  return product;
}

std::optional<uint64_t> checkedNumel(const std::vector<int64_t> &shape) {
  uint64_t numel = 1;
  for (int64_t extent : shape) {
    if (extent < 0)
      return std::nullopt;
    std::optional<uint64_t> next =
        checkedMul(numel, static_cast<uint64_t>(extent));
    if (!next)
      return std::nullopt;
    numel = *next;
  }
  return numel;
}

std::string formatShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

} // namespace awq
