//===- CudaEmitter.cpp - Kernel-level awq IR to CUDA C++ ------------------===//
#include "compiler/codegen/CudaEmitter.h"

#include "dialects/awq/AwqDialect.h"
#include "dialects/awq/KernelSchedules.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::awq;

namespace {

const char *boolText(bool value) { return value ? "true" : "false"; }

std::string layerDescription(Operation *op) {
  if (auto name = op->getAttrOfType<StringAttr>(AwqDialect::getNameAttrName()))
    return name.str();
  return "(unnamed)";
}

/// The header comment every kernel source starts with.
std::string headerComment(const EmittedKernel &kernel, StringRef layerNames,
                          StringRef launch) {
  const ::awq::LinearShape &s = kernel.shape;
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "// awqc kernel " << kernel.name << "\n";
  os << "// Serves: " << layerNames << "\n";
  os << "// " << kernel.family << ": K = " << s.k << ", N = " << s.n
     << " (output columns " << s.nOut() << "), " << s.bits << "-bit, ";
  if (s.group == s.k)
    os << "one group per column";
  else
    os << "group " << s.group;
  os << ", " << (s.zeroPoint ? "zero point" : "symmetric");
  if (s.actScale)
    os << ", activation scale";
  if (s.bias)
    os << ", bias";
  if (s.siluMul)
    os << ", SiLU(gate) * up";
  if (s.residual)
    os << ", residual add";
  os << "\n// Launch: " << launch << "\n";
  return text;
}

/// The checkpoint tensors behind a weight, for the header comment.
std::string describeTensors(Value weight) {
  return llvm::join(getSourceTensors(weight), ", ");
}

/// What both families share: names, the problem solved, the layer served.
template <typename KernelOp>
EmittedKernel describeKernel(KernelOp op, StringRef family) {
  EmittedKernel kernel;
  kernel.name = op.getKernelName().str();
  kernel.family = family.str();
  kernel.shape = op.getLinearShape();
  std::string tensors = describeTensors(op.getWeight());
  kernel.layer = tensors.empty() ? layerDescription(op) : tensors;
  return kernel;
}

EmittedKernel emitGemv(GemvKernelOp op) {
  EmittedKernel kernel = describeKernel(op, "gemv");
  kernel.gemv = gemvParamsOf(op.getConfig());
  ::awq::GemvGeometry g = ::awq::gemvGeometry(kernel.shape, kernel.gemv);
  kernel.threads = kernel.gemv.threads;
  kernel.sharedBytes = g.sharedBytes;
  const ::awq::LinearShape &s = kernel.shape;
  const ::awq::GemvParams &p = kernel.gemv;
  std::string launch = llvm::formatv(
      "grid ({0}, {1}, ceil(M / {2})), block {3}, {4} bytes of dynamic shared "
      "memory{5}",
      g.gridX, g.gridY, p.maxRows, p.threads, g.sharedBytes,
      p.kSplit > 1 ? "; split-K workspace M x N floats and one counter per "
                     "block column and row chunk, all zero"
                   : "");
  std::string config = kernel.name + "_config";
  kernel.source =
      headerComment(kernel, kernel.layer, launch) +
      llvm::formatv(
          "#include \"awq/gemv.cuh\"\n\n"
          "using {0} = awq::GemvConfig<\n"
          "    /*K=*/{1}, /*N=*/{2}, /*Bits=*/{3}, /*GroupSize=*/{4},\n"
          "    /*HasZeroPoint=*/{5}, /*ThreadsPerBlock=*/{6}, "
          "/*ColsPerWarp=*/{7},\n"
          "    /*KSplit=*/{8}, /*MaxRows=*/{9}, /*HasActScale=*/{10},\n"
          "    /*HasBias=*/{11}, /*HasResidual=*/{12}, /*SiluMul=*/{13}>;\n\n"
          "AWQ_GEMV_KERNEL({14}, {0})\n",
          config, s.k, s.n, s.bits, s.group, boolText(s.zeroPoint), p.threads,
          p.colsPerWarp, p.kSplit, p.maxRows, boolText(s.actScale),
          boolText(s.bias), boolText(s.residual), boolText(s.siluMul),
          kernel.name)
          .str();
  return kernel;
}

EmittedKernel emitGemm(GemmKernelOp op) {
  EmittedKernel kernel = describeKernel(op, "gemm");
  kernel.gemm = gemmParamsOf(op.getConfig());
  ::awq::GemmGeometry g = ::awq::gemmGeometry(kernel.shape, kernel.gemm);
  kernel.threads = g.threads;
  kernel.sharedBytes = g.sharedBytes;
  const ::awq::LinearShape &s = kernel.shape;
  const ::awq::GemmParams &p = kernel.gemm;
  std::string launch = llvm::formatv(
      "grid ({0}, ceil(M / {1}), {2}), block {3}, {4} bytes of dynamic shared "
      "memory{5}",
      g.gridX, p.tileM, p.splitK, g.threads, g.sharedBytes,
      p.splitK > 1 ? "; split-K workspace M x N floats and one counter per "
                     "output tile, all zero"
                   : "");
  std::string config = kernel.name + "_config";
  kernel.source =
      headerComment(kernel, kernel.layer, launch) +
      llvm::formatv(
          "// K loop: {15} tiles of {16}, {17}-stage cp.async pipeline, "
          "dequantization: {18}\n"
          "#include \"awq/gemm.cuh\"\n\n"
          "using {0} = awq::GemmConfig<\n"
          "    /*K=*/{1}, /*N=*/{2}, /*Bits=*/{3}, /*GroupSize=*/{4},\n"
          "    /*HasZeroPoint=*/{5}, /*TileM=*/{6}, /*TileN=*/{7}, "
          "/*TileK=*/{8},\n"
          "    /*WarpsM=*/{9}, /*WarpsN=*/{10}, /*Stages=*/{11}, "
          "/*SplitK=*/{12},\n"
          "    /*HasActScale=*/{13}, /*HasBias=*/{14}, /*HasResidual=*/{19}, "
          "/*SiluMul=*/{20}>;\n\n"
          "AWQ_GEMM_KERNEL({21}, {0})\n",
          config, s.k, s.n, s.bits, s.group, boolText(s.zeroPoint), p.tileM,
          p.tileN, p.tileK, p.warpsM, p.warpsN, p.stages, p.splitK,
          boolText(s.actScale), boolText(s.bias), g.kTiles, p.tileK, p.stages,
          stringifyDequantKind(op.getDequantKind()), boolText(s.residual),
          boolText(s.siluMul), kernel.name)
          .str();
  return kernel;
}

} // namespace

namespace mlir::awq {

LogicalResult emitKernels(ModuleOp module,
                          std::vector<EmittedKernel> &kernels) {
  WalkResult result = module.walk([&](Operation *op) {
    if (auto linear = dyn_cast<LinearOp>(op)) {
      linear.emitOpError("has no kernel yet: run the kernel pipeline "
                         "(--awq-select-kernels --awq-lower-to-kernels) first");
      return WalkResult::interrupt();
    }
    if (auto gemv = dyn_cast<GemvKernelOp>(op))
      kernels.push_back(emitGemv(gemv));
    else if (auto gemm = dyn_cast<GemmKernelOp>(op))
      kernels.push_back(emitGemm(gemm));
    return WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

LogicalResult translateToCuda(ModuleOp module, llvm::raw_ostream &os) {
  std::vector<EmittedKernel> kernels;
  if (failed(emitKernels(module, kernels)))
    return failure();
  os << "// Generated by awq-translate --awq-to-cuda: " << kernels.size()
     << " kernel(s). Each section is a self-contained source.\n";
  for (const EmittedKernel &kernel : kernels)
    os << "\n// ===== kernel " << kernel.name << " =====\n" << kernel.source;
  return success();
}

} // namespace mlir::awq
