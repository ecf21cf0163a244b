//===- awq-run.cpp - Run every layer's kernels on the CPU and check them --===//
//
// awq-run INPUT [options]
//   INPUT: an awq IR file (.mlir, graph or kernel level), a model description
//   (.json) or a quantized checkpoint directory.
// Compiles the input through the awq pipeline, emits the CUDA kernels,
// builds them for the host emulation, and runs every layer at the chosen
// batch sizes on random activations, printing the error against the fp64
// CPU reference and the host time per layer.
//
//===----------------------------------------------------------------------===//
#include "compiler/builder/ModelBuilder.h"
#include "compiler/codegen/CudaEmitter.h"
#include "compiler/execute/HostKernelRunner.h"
#include "compiler/execute/WeightEvaluator.h"
#include "compiler/formats/ModelDescription.h"
#include "dialects/awq/AwqDialect.h"
#include "dialects/awq/KernelSchedules.h"
#include "passes/Passes.h"
#include "runtime/support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/SourceMgr.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

namespace cl = llvm::cl;
namespace ir = mlir::awq;
namespace fs = std::filesystem;

static cl::opt<std::string> inputPath(
    cl::Positional, cl::Required,
    cl::desc("<awq IR file | model description | checkpoint directory>"));
static cl::opt<std::string>
    target("target",
           cl::desc("GPU architecture the kernels are built for (default: the "
                    "module's awq.target, else sm_80)"),
           cl::init(""));
static cl::list<int64_t>
    batches("batch", cl::desc("Row counts M to run (default 1,4,8,33)"),
            cl::CommaSeparated);
static cl::opt<std::string> checkpoint(
    "checkpoint",
    cl::desc("Read weights from this checkpoint instead of random ones"),
    cl::init(""));
static cl::opt<uint64_t>
    seed("seed", cl::desc("Seed of the random weights and activations"),
         cl::init(1));
static cl::opt<bool> both(
    "both-families",
    cl::desc("Run both kernel families at every M, not just the one M selects"),
    cl::init(false));
static cl::opt<std::string>
    families("families",
             cl::desc("Kernel families to build: both, gemv or gemm"),
             cl::init("both"));

namespace {

/// One layer: its kernels and the M from which the GEMM one runs.
struct LayerKernels {
  std::string layer;
  std::string gemv, gemm;
  int64_t gemmMinM = 1;
  mlir::Operation *gemvOp = nullptr, *gemmOp = nullptr;
};

mlir::OwningOpRef<mlir::ModuleOp> loadInput(mlir::MLIRContext &context,
                                            llvm::SourceMgr &sourceMgr,
                                            std::string &checkpointPath) {
  fs::path path(inputPath.getValue());
  // awqc quantize writes model.json next to the weights when it kept
  // activation scales the checkpoint format cannot express: prefer it.
  if (fs::is_directory(path) && fs::exists(path / "model.json"))
    path /= "model.json";
  if (fs::is_directory(path) || path.extension() == ".json") {
    awq::ModelDescription description =
        fs::is_directory(path) ? awq::describeCheckpoint(path.string())
                               : awq::parseModelDescription(path.string());
    std::string resolved =
        fs::is_directory(path)
            ? path.string()
            : awq::resolveCheckpointPath(description, path.string());
    if (checkpointPath.empty() &&
        fs::exists(fs::path(resolved) / "config.json"))
      checkpointPath = resolved;
    awq::BuildOptions options;
    options.checkpointPath = resolved;
    options.target = target.empty() ? "sm_80" : target.getValue();
    return awq::buildModule(context, description, options);
  }
  std::string error;
  auto file = mlir::openInputFile(path.string(), &error);
  if (!file)
    throw awq::Error(path.string() + ": " + error);
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  return mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &context);
}

std::string layerName(mlir::Operation *op) {
  std::string names = llvm::join(ir::getSourceTensors(op->getOperand(1)), ", ");
  return names.empty() ? "(unnamed)" : names;
}

int run() {
  mlir::DialectRegistry registry;
  registry.insert<ir::AwqDialect, mlir::func::FuncDialect>();
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  // Diagnostics name the op and its location; the whole module is noise.
  context.printOpOnDiagnostic(false);
  llvm::SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);

  std::string checkpointPath = checkpoint;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      loadInput(context, sourceMgr, checkpointPath);
  if (!module)
    return 1;

  bool needsLowering = false;
  module->walk([&](ir::LinearOp) { needsLowering = true; });
  if (needsLowering) {
    mlir::PassManager pm(&context);
    ir::AwqPipelineOptions options;
    options.target = target.empty() ? "" : target.getValue();
    if (target.empty() &&
        !(*module)->hasAttr(ir::AwqDialect::getTargetAttrName()))
      options.target = "sm_80";
    options.families = families.getValue();
    ir::buildAwqPipeline(pm, options);
    if (mlir::failed(pm.run(*module)))
      return 1;
  }

  std::vector<ir::EmittedKernel> emitted;
  if (mlir::failed(ir::emitKernels(*module, emitted)))
    return 1;
  if (emitted.empty()) {
    std::cerr << "awq-run: " << inputPath << " has no linear layers\n";
    return 1;
  }
  std::vector<awq::KernelSpec> specs;
  for (const ir::EmittedKernel &kernel : emitted)
    specs.push_back({kernel.name, kernel.instance, kernel.source});
  std::cerr << "awq-run: building " << specs.size()
            << " kernel(s) for the host emulation...\n";
  awq::HostKernelRunner runner(specs);

  // Pair the kernels of each layer.
  std::vector<LayerKernels> layers;
  std::map<mlir::Operation *, size_t> layerOf;
  module->walk([&](mlir::Operation *op) {
    if (auto select = mlir::dyn_cast<ir::SelectByRowsOp>(op)) {
      LayerKernels layer;
      layer.gemvOp = select.getSmall().getDefiningOp();
      layer.gemmOp = select.getLarge().getDefiningOp();
      layer.gemmMinM = select.getGemmMinM();
      layerOf[layer.gemvOp] = layerOf[layer.gemmOp] = layers.size();
      layers.push_back(layer);
    }
  });
  module->walk([&](mlir::Operation *op) {
    if (!mlir::isa<ir::GemvKernelOp, ir::GemmKernelOp>(op) || layerOf.count(op))
      return;
    LayerKernels layer;
    (mlir::isa<ir::GemvKernelOp>(op) ? layer.gemvOp : layer.gemmOp) = op;
    layerOf[op] = layers.size();
    layers.push_back(layer);
  });

  std::unique_ptr<awq::WeightSource> source =
      checkpointPath.empty() ? awq::makeRandomWeightSource(seed)
                             : awq::makeCheckpointWeightSource(checkpointPath);
  awq::WeightEvaluator evaluator(*source);
  std::vector<int64_t> rows(batches.begin(), batches.end());
  if (rows.empty())
    rows = {1, 4, 8, 33};

  std::printf("weights: %s\n",
              checkpointPath.empty()
                  ? ("random (seed " + std::to_string(seed) + ")").c_str()
                  : checkpointPath.c_str());
  std::printf("%-48s %-5s %5s %12s %12s %8s %10s  %s\n", "layer", "kernel", "M",
              "max |err|", "max rel", "err/bound", "host ms", "status");
  int failures = 0;
  double worstRatio = 0;
  for (LayerKernels &layer : layers) {
    mlir::Operation *any = layer.gemvOp ? layer.gemvOp : layer.gemmOp;
    std::string name = layerName(any);
    for (int64_t m : rows) {
      std::vector<mlir::Operation *> ops;
      if (both) {
        if (layer.gemvOp)
          ops.push_back(layer.gemvOp);
        if (layer.gemmOp)
          ops.push_back(layer.gemmOp);
      } else {
        bool large = layer.gemmOp && (!layer.gemvOp || m >= layer.gemmMinM);
        ops.push_back(large ? layer.gemmOp : layer.gemvOp);
      }
      for (mlir::Operation *op : ops) {
        ir::KernelOperands operands = ir::getKernelOperands(op);
        std::string kernel = operands.kernelName.str();
        awq::QuantizedLinear weights = evaluator.quantized(operands.weight);
        awq::KernelData data;
        if (operands.bias)
          weights.bias = evaluator.vector(operands.bias);
        if (operands.actScale)
          data.actScale = evaluator.vector(operands.actScale);
        data.layer = &weights;
        data.weights = &evaluator.packed(operands.weight);
        awq::KernelRunResult result = runner.run(kernel, data, m, seed + m);
        bool ok = result.ok();
        failures += !ok;
        worstRatio = std::max(worstRatio, result.worstBoundRatio);
        std::printf("%-48s %-5s %5lld %12.3e %12.3e %8.3f %10.2f  %s\n",
                    name.substr(0, 48).c_str(),
                    mlir::isa<ir::GemvKernelOp>(op) ? "gemv" : "gemm",
                    static_cast<long long>(m), result.maxAbsError,
                    result.maxRelError, result.worstBoundRatio,
                    result.seconds * 1e3, ok ? "ok" : "FAILED");
        if (!ok)
          std::printf("    %s\n", result.worst.c_str());
      }
    }
  }
  std::printf(
      "%s: %d failed; worst error/bound ratio %.3f (bound: docs/numerics.md)\n",
      failures ? "FAILED" : "all layers match the reference", failures,
      worstRatio);
  return failures ? 1 : 0;
}

} // namespace

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(
      argc, argv,
      "awq-run: run every layer's emitted kernels on the CPU against the "
      "fp64 reference\n");
  try {
    return run();
  } catch (const std::exception &error) {
    std::cerr << "awq-run: error: " << error.what() << "\n";
    return 1;
  }
}
