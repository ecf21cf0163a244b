//===- SelectKernels.cpp - Kernel family, tiles and pipeline per linear ---===//
//
// Implements --awq-select-kernels; tested by
// test/lit/passes/awq-select-kernels.mlir.
//
//===----------------------------------------------------------------------===//
#include "dialects/awq/KernelSchedules.h"
#include "passes/Passes.h"
#include "runtime/kernels/KernelPlan.h"

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

struct SelectKernelsPass
    : public mlir::awq::impl::SelectKernelsPassBase<SelectKernelsPass> {
  using SelectKernelsPassBase::SelectKernelsPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *context = &getContext();
    // The module's target: #awq.target<...>, or its name as a string for
    // short hand-written IR.
    auto moduleTarget =
        module->getAttrOfType<TargetAttr>(AwqDialect::getTargetAttrName());
    auto moduleTargetName =
        module->getAttrOfType<StringAttr>(AwqDialect::getTargetAttrName());
    if (!moduleTarget && !moduleTargetName &&
        module->hasAttr(AwqDialect::getTargetAttrName())) {
      module.emitError("the module's awq.target must be a #awq.target "
                       "attribute, e.g. #awq.target<\"sm_90\", sms = 132>, "
                       "or a target name");
      return signalPassFailure();
    }
    std::string targetName = target;
    if (targetName.empty() && moduleTarget)
      targetName = moduleTarget.getName().str();
    if (targetName.empty() && moduleTargetName)
      targetName = moduleTargetName.str();
    if (targetName.empty()) {
      module.emitError("no target architecture: pass target=sm_XX or set the "
                       "module's awq.target attribute");
      return signalPassFailure();
    }
    std::optional<::awq::Target> parsed = ::awq::parseTarget(targetName);
    if (!parsed) {
      module.emitError() << "unknown target '" << targetName
                         << "'; expected one of " << ::awq::knownTargets()
                         << " (with an 'a' suffix from sm_90 on)";
      return signalPassFailure();
    }
    const ::awq::ArchInfo *arch = parsed->arch;
    if (const char *why = ::awq::archViolation(*arch)) {
      module.emitError() << "target " << targetName << " (" << arch->part
                         << "): " << why;
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
    // The SM count: the option, else the module's, else the part's.
    int64_t sms = smCount > 0 ? static_cast<int64_t>(smCount)
                  : moduleTarget && moduleTarget.getName() == targetName
                      ? moduleTarget.getSmCount()
                      : arch->smCount;
    TargetAttr targetAttr =
        TargetAttr::getChecked([&] { return module.emitError(); }, context,
                               StringRef(targetName), sms);
    if (!targetAttr)
      return signalPassFailure();
    module->setAttr(AwqDialect::getTargetAttrName(), targetAttr);
    ::awq::PlanOptions plan;
    plan.smCount = sms;

    WalkResult result = module.walk([&](LinearOp linear) {
      if (linear.getGemv() || linear.getGemm())
        return WalkResult::advance();
      ::awq::LinearShape shape = linear.getLinearShape();
      // Checked before planning so the error names the target, not a
      // missing kernel.
      if (const char *why = ::awq::activationViolation(shape, *arch)) {
        linear.emitOpError() << "cannot run on target " << targetName << " ("
                             << arch->part << "): " << why;
        return WalkResult::interrupt();
      }
      std::optional<::awq::GemvParams> gemv;
      std::optional<::awq::GemmParams> gemm;
      if (families != "gemv")
        gemm = ::awq::planGemm(shape, *arch, plan);
      // The GEMV serves the rows below gemm_min_m, or all of them when no
      // GEMM fits the layer.
      ::awq::PlanOptions gemvPlan = plan;
      if (gemm)
        gemvPlan.gemvRows = static_cast<int64_t>(gemmMinM) - 1;
      if (families != "gemm")
        gemv = ::awq::planGemv(shape, *arch, gemvPlan);
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
