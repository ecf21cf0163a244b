//===- AwqTypes.cpp - Verifiers of the awq types and attributes -----------===//
#include "dialects/awq/AwqDialect.h"

using namespace mlir;
using namespace mlir::awq;

LogicalResult QWeightType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t k, int64_t n, unsigned bits,
                                  int64_t group, ZeroMode zeroMode,
                                  Layout layout) {
  if (bits != 3 && bits != 4 && bits != 8)
    return emitError() << "quantized weight bits must be 3, 4 or 8, got "
                       << bits;
  if (k <= 0 || n <= 0)
    return emitError() << "quantized weight shape must be positive, got k = "
                       << k << ", n = " << n;
  if (group != 32 && group != 64 && group != 128 && group != k)
    return emitError() << "group size must be 32, 64, 128 or k (" << k
                       << ") for one group per column, got " << group;
  if (k % group != 0)
    return emitError() << "group size " << group
                       << " does not divide k = " << k;
  if (layout == Layout::autoawq_gemm) {
    // AutoAWQ packs 32 / bits values of one row into an int32 along N; our
    // 3-bit variant packs 32 values into three words.
    int64_t packFactor = bits == 3 ? 32 : 32 / bits;
    if (n % packFactor != 0)
      return emitError() << "autoawq_gemm layout with " << bits
                         << "-bit weights packs " << packFactor
                         << " columns per word: n = " << n
                         << " is not a multiple of " << packFactor;
  }
  return success();
}

QWeightType QWeightType::withN(int64_t n) const {
  return QWeightType::get(getContext(), getK(), n, getBits(), getGroup(),
                          getZeroMode(), getLayout());
}

QWeightType QWeightType::withZeroMode(ZeroMode mode) const {
  return QWeightType::get(getContext(), getK(), getN(), getBits(), getGroup(),
                          mode, getLayout());
}

QWeightType QWeightType::withLayout(Layout layout) const {
  return QWeightType::get(getContext(), getK(), getN(), getBits(), getGroup(),
                          getZeroMode(), layout);
}

static bool isPowerOfTwo(int64_t value) {
  return value > 0 && (value & (value - 1)) == 0;
}

LogicalResult
GemvConfigAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                       int64_t threads, int64_t colsPerWarp, int64_t kSplit,
                       int64_t maxRows) {
  if (threads < 32 || threads > 1024 || threads % 32 != 0)
    return emitError() << "gemv threads must be a multiple of 32 in [32, "
                          "1024], got "
                       << threads;
  if (!isPowerOfTwo(colsPerWarp))
    return emitError() << "gemv cols_per_warp must be a power of two, got "
                       << colsPerWarp;
  if (kSplit < 1)
    return emitError() << "gemv k_split must be at least 1, got " << kSplit;
  if (maxRows != 1 && maxRows != 2 && maxRows != 4 && maxRows != 8)
    return emitError() << "gemv max_rows must be 1, 2, 4 or 8, got " << maxRows;
  if (colsPerWarp * maxRows > 32)
    return emitError() << "gemv cols_per_warp x max_rows must be at most 32 "
                          "(one warp reduction holds every sum), got "
                       << colsPerWarp << " x " << maxRows;
  return success();
}

LogicalResult
GemmConfigAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                       int64_t tileM, int64_t tileN, int64_t tileK,
                       int64_t warpsM, int64_t warpsN, int64_t stages,
                       int64_t splitK) {
  if (warpsM < 1 || warpsN < 1 || warpsM * warpsN > 16)
    return emitError() << "gemm warps_m x warps_n must be 1 to 16 warps, got "
                       << warpsM << " x " << warpsN;
  if (tileM <= 0 || tileM % (16 * warpsM) != 0)
    return emitError() << "gemm tile_m must be a positive multiple of 16 x "
                          "warps_m (whole m16 mma tiles per warp), got "
                       << tileM;
  if (tileN <= 0 || tileN % (64 * warpsN) != 0)
    return emitError() << "gemm tile_n must be a positive multiple of 64 x "
                          "warps_n (whole 64-column weight packets per "
                          "warp), got "
                       << tileN;
  if (tileK != 32 && tileK != 64 && tileK != 128)
    return emitError() << "gemm tile_k must be 32, 64 or 128, got " << tileK;
  if (stages < 2 || stages > 4)
    return emitError() << "gemm stages must be 2, 3 or 4, got " << stages;
  if (splitK < 1)
    return emitError() << "gemm split_k must be at least 1, got " << splitK;
  return success();
}
