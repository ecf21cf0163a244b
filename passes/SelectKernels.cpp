//===- SelectKernels.cpp - Kernel family, tiles and pipeline per linear ---===//
//
// Implements --awq-select-kernels; tested by
// test/lit/passes/awq-select-kernels.mlir.
//
//===----------------------------------------------------------------------===//
#include "dialects/awq/KernelSchedules.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringExtras.h"

#include <algorithm>

namespace mlir::awq {
#define GEN_PASS_DEF_SELECTKERNELSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::awq

using namespace mlir;
using namespace mlir::awq;

namespace {

/// The GEMV launch: fixed block shape, split-K until the grid holds two
/// blocks per SM (a memory-bound kernel needs many loads in flight).
std::optional<::awq::GemvParams> chooseGemv(const ::awq::LinearShape &shape,
                                            int64_t smCount) {
  ::awq::GemvParams params;
  params.threads = 128;
  // An 8-bit unit is twice the words of a 4-bit one: half the columns per
  // warp keeps the register-double-buffered tile from spilling.
  params.colsPerWarp = shape.bits == 8 ? 4 : 8;
  params.maxRows = 4;
  params.kSplit = 1;
  ::awq::GemvGeometry geometry = ::awq::gemvGeometry(shape, params);
  int64_t wanted = ::awq::ceilDiv(2 * smCount, geometry.gridX);
  params.kSplit = std::clamp<int64_t>(wanted, 1, geometry.tiles);
  // Every split needs at least one tile.
  while (params.kSplit > 1 && !::awq::checkGemv(shape, params).empty())
    --params.kSplit;
  if (!::awq::checkGemv(shape, params).empty())
    return std::nullopt;
  return params;
}

/// The GEMM tiles: the deepest pipeline the architecture's shared memory
/// holds, and split-K when the column tiles alone leave SMs idle at small M.
std::optional<::awq::GemmParams> chooseGemm(const ::awq::LinearShape &shape,
                                            const ::awq::ArchInfo &arch,
                                            int64_t smCount) {
  ::awq::GemmParams params;
  params.tileM = 64;
  params.warpsM = 2;
  if (shape.n <= 64) {
    params.tileN = 64;
    params.warpsN = 1;
  } else {
    params.tileN = 128;
    params.warpsN = 2;
  }
  for (int64_t tileK : {64, 32, 128}) {
    params.tileK = tileK;
    for (int64_t stages : {4, 3, 2}) {
      params.stages = stages;
      params.splitK = 1;
      if (!::awq::checkGemm(shape, params).empty() ||
          ::awq::gemmGeometry(shape, params).sharedBytes > arch.maxSharedBytes)
        continue;
      ::awq::GemmGeometry geometry = ::awq::gemmGeometry(shape, params);
      if (geometry.gridX < smCount)
        params.splitK = std::clamp<int64_t>(
            smCount / geometry.gridX, 1, std::min<int64_t>(4, geometry.kTiles));
      return params;
    }
  }
  return std::nullopt;
}

struct SelectKernelsPass
    : public mlir::awq::impl::SelectKernelsPassBase<SelectKernelsPass> {
  using SelectKernelsPassBase::SelectKernelsPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::string targetName = target;
    if (targetName.empty())
      if (auto attr = module->getAttrOfType<StringAttr>(
              AwqDialect::getTargetAttrName()))
        targetName = attr.str();
    if (targetName.empty()) {
      module.emitError("no target architecture: pass target=sm_XX or set the "
                       "module's awq.target attribute");
      return signalPassFailure();
    }
    const ::awq::ArchInfo *arch = ::awq::findArch(targetName);
    if (!arch) {
      module.emitError() << "unknown target '" << targetName
                         << "'; expected sm_80, sm_86, sm_89 or sm_90";
      return signalPassFailure();
    }
    if (families != "both" && families != "gemv" && families != "gemm") {
      module.emitError() << "families must be both, gemv or gemm, got '"
                         << families << "'";
      return signalPassFailure();
    }
    if (gemmMinM < 2) {
      module.emitError() << "gemm-min-m must be at least 2, got "
                         << static_cast<int64_t>(gemmMinM);
      return signalPassFailure();
    }
    int64_t sms = smCount > 0 ? static_cast<int64_t>(smCount) : arch->smCount;
    module->setAttr(AwqDialect::getTargetAttrName(),
                    StringAttr::get(&getContext(), targetName));

    WalkResult result = module.walk([&](LinearOp linear) {
      if (linear.getGemv() || linear.getGemm())
        return WalkResult::advance();
      ::awq::LinearShape shape = linear.getLinearShape();
      std::optional<::awq::GemvParams> gemv;
      std::optional<::awq::GemmParams> gemm;
      if (families != "gemm")
        gemv = chooseGemv(shape, sms);
      if (families != "gemv")
        gemm = chooseGemm(shape, *arch, sms);
      if (!gemv && !gemm) {
        ::awq::GemvParams defaultGemv;
        ::awq::GemmParams defaultGemm;
        std::string why = families == "gemm"
                              ? ::awq::checkGemm(shape, defaultGemm)
                              : ::awq::checkGemv(shape, defaultGemv);
        linear.emitOpError()
            << "no " << (families == "both" ? "" : families + " ")
            << "kernel fits this layer: " << why;
        return WalkResult::interrupt();
      }
      MLIRContext *context = &getContext();
      if (gemv)
        linear.setGemvAttr(GemvConfigAttr::get(context, gemv->threads,
                                               gemv->colsPerWarp, gemv->kSplit,
                                               gemv->maxRows));
      if (gemm) {
        linear.setGemmAttr(GemmConfigAttr::get(
            context, gemm->tileM, gemm->tileN, gemm->tileK, gemm->warpsM,
            gemm->warpsN, gemm->stages, gemm->splitK));
        linear.setGemmMinMAttr(
            IntegerAttr::get(IntegerType::get(context, 64),
                             gemv ? static_cast<int64_t>(gemmMinM) : 1));
      }
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
