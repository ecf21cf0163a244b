//===- TestPrintKernelInfo.cpp - Prints what the awq interfaces derive ----===//
//
// --awq-test-print-kernel-info prints, for every LinearLikeOpInterface op, the
// linear shape and, for kernel ops, the values KernelOpInterface computes from
// it (family, K loop, dequantization, shared memory). Tested by
// test/lit/passes/awq-test-print-kernel-info.mlir.
//
//===----------------------------------------------------------------------===//
#include "dialects/awq/AwqDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::awq;

namespace {

StringRef yesNo(bool value) { return value ? "true" : "false"; }

struct TestPrintKernelInfoPass
    : public PassWrapper<TestPrintKernelInfoPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestPrintKernelInfoPass)

  StringRef getArgument() const final { return "awq-test-print-kernel-info"; }
  StringRef getDescription() const final {
    return "Print the linear shape and derived kernel values of every "
           "linear-like awq op";
  }

  void runOnOperation() override {
    raw_ostream &os = llvm::outs();
    getOperation().walk([&](LinearLikeOpInterface op) {
      ::awq::LinearShape s = op.getLinearShape();
      os << op->getName() << ": k = " << s.k << ", n = " << s.n
         << ", n_out = " << s.nOut() << ", bits = " << s.bits
         << ", group = " << s.group << ", zero_point = " << yesNo(s.zeroPoint)
         << ", act_scale = " << yesNo(s.actScale)
         << ", bias = " << yesNo(s.bias) << ", residual = " << yesNo(s.residual)
         << ", silu_mul = " << yesNo(s.siluMul) << "\n";
      auto kernel = dyn_cast<KernelOpInterface>(op.getOperation());
      if (!kernel)
        return;
      os << "  kernel " << kernel.getKernelName()
         << ": family = " << stringifyKernelFamily(kernel.getKernelFamily())
         << ", k_loop = " << kernel.getKLoop()
         << ", dequant = " << stringifyDequantKind(kernel.getDequantKind())
         << ", shared_bytes = " << kernel.getSharedBytes() << "\n";
    });
  }
};

} // namespace

namespace mlir::awq::test {
void registerTestPrintKernelInfoPass() {
  PassRegistration<TestPrintKernelInfoPass>();
}
} // namespace mlir::awq::test
