//===- AwqTypes.cpp - Verifiers of the awq types and attributes -----------===//
#include "dialects/awq/AwqDialect.h"

#include "awq/contract.h"
#include "runtime/kernels/KernelPlan.h"

using namespace mlir;
using namespace mlir::awq;

LogicalResult QWeightType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t k, int64_t n, unsigned bits,
                                  int64_t group, ZeroMode zeroMode,
                                  Layout layout) {
  if (!::awq::isSupportedBits(bits))
    return emitError() << "quantized weight bits must be 3, 4 or 8, got "
                       << bits;
  if (k <= 0 || n <= 0 || k > ::awq::kMaxFeatures || n > ::awq::kMaxFeatures)
    return emitError() << "quantized weight shape must be in [1, 2^30], got "
                          "k = "
                       << k << ", n = " << n;
  if (!::awq::isSupportedGroupSize(k, group))
    return emitError() << "group size must be k (" << k
                       << ") for one group per column or a multiple of 32 "
                          "that divides k, got "
                       << group;
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

LogicalResult
GemvConfigAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                       int64_t threads, int64_t colsPerWarp, int64_t kSplit,
                       int64_t maxRows) {
  if (const char *why = ::awq::gemvParamsViolation(
          ::awq::GemvParams{threads, colsPerWarp, kSplit, maxRows}))
    return emitError() << "gemv " << why << ", got threads = " << threads
                       << ", cols_per_warp = " << colsPerWarp
                       << ", k_split = " << kSplit
                       << ", max_rows = " << maxRows;
  return success();
}

LogicalResult
GemmConfigAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                       int64_t tileM, int64_t tileN, int64_t tileK,
                       int64_t warpsM, int64_t warpsN, int64_t stages,
                       int64_t splitK) {
  if (const char *why = ::awq::gemmParamsViolation(::awq::GemmParams{
          tileM, tileN, tileK, warpsM, warpsN, stages, splitK}))
    return emitError() << "gemm " << why << ", got tile " << tileM << " x "
                       << tileN << " x " << tileK << ", warps " << warpsM
                       << " x " << warpsN << ", stages = " << stages
                       << ", split_k = " << splitK;
  return success();
}

LogicalResult TargetAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 StringRef name, int64_t smCount) {
  if (!::awq::parseTarget(name.str()))
    return emitError() << "unknown target '" << name << "'; expected one of "
                       << ::awq::knownTargets()
                       << " (with an 'a' suffix from sm_90 on)";
  if (smCount < 1 || smCount > 1024)
    return emitError() << "target sms must be between 1 and 1024, got "
                       << smCount;
  return success();
}

const ::awq::ArchInfo *TargetAttr::getArch() const {
  std::optional<::awq::Target> target = ::awq::parseTarget(getName().str());
  return target ? target->arch : nullptr;
}

int64_t TargetAttr::getMaxSharedBytes() const {
  const ::awq::ArchInfo *arch = getArch();
  return arch ? arch->maxSharedBytes : 0;
}
