//===- DType.h - Element types of safetensors tensors ---------------------===//
//
// The dtype strings of the safetensors header, their element sizes, and the
// checked arithmetic used to turn untrusted shapes into byte counts.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_FORMATS_DTYPE_H
#define AWQ_RUNTIME_FORMATS_DTYPE_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace awq {

/// Element types a safetensors header may name. Sub-byte types (F4, F6_*)
/// are not supported: their byte length is not dtype size x element count.
enum class DType : uint8_t {
  Bool,
  U8,
  I8,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  F64,
  I64,
  U64,
  C64,
  F8E4M3,
  F8E5M2,
  F8E8M0,
};

/// The header spelling of `dtype`, e.g. "F16" or "F8_E4M3".
const char *dtypeName(DType dtype);

/// Bytes per element.
size_t dtypeSize(DType dtype);

/// Parses a header spelling; std::nullopt when it is not a known dtype.
std::optional<DType> parseDType(std::string_view name);

/// Every supported spelling, comma separated, for error messages.
std::string knownDTypeNames();

/// a * b, or std::nullopt when the product does not fit in uint64_t.
std::optional<uint64_t> checkedMul(uint64_t a, uint64_t b);

/// The number of elements of `shape`, or std::nullopt on a negative extent
/// or when the product overflows.
std::optional<uint64_t> checkedNumel(const std::vector<int64_t> &shape);

/// Formats a shape as "[2, 3]" for messages.
std::string formatShape(const std::vector<int64_t> &shape);

} // namespace awq

#endif // AWQ_RUNTIME_FORMATS_DTYPE_H
