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
#include "compiler/codegen/CudaEmitter.h"
#include "compiler/execute/HostKernelRunner.h"
#include "compiler/execute/WeightEvaluator.h"
#include "compiler/frontend/CommandLine.h"
#include "compiler/frontend/ModelLoader.h"
#include "dialects/awq/AwqDialect.h"
#include "dialects/awq/KernelSchedules.h"
#include "passes/Passes.h"
#include "runtime/bundle/Bundle.h"
#include "runtime/support/Error.h"
#include "tools/awq-run/RunBundle.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Option/Option.h"
#include "llvm/Support/SourceMgr.h"

#include <cstdio>
#include <iostream>
#include <map>

namespace ir = mlir::awq;

namespace {

enum OptionID : unsigned {
  OPT_INVALID = 0,
#define OPTION(...) LLVM_MAKE_OPT_ID(__VA_ARGS__),
#include "tools/awq-run/AwqRunOptions.inc"
#undef OPTION
};

using namespace llvm::opt;

#define OPTTABLE_STR_TABLE_CODE
#include "tools/awq-run/AwqRunOptions.inc"
#undef OPTTABLE_STR_TABLE_CODE

#define OPTTABLE_PREFIXES_TABLE_CODE
#include "tools/awq-run/AwqRunOptions.inc"
#undef OPTTABLE_PREFIXES_TABLE_CODE

constexpr OptTable::Info kInfos[] = {
#define OPTION(...) LLVM_CONSTRUCT_OPT_INFO(__VA_ARGS__),
#include "tools/awq-run/AwqRunOptions.inc"
#undef OPTION
};

class AwqRunOptTable : public GenericOptTable {
public:
  AwqRunOptTable()
      : GenericOptTable(OptionStrTable, OptionPrefixesTable, kInfos) {
    setDashDashParsing(true);
  }
};

constexpr const char *kOverview =
    "Compiles INPUT through the awq pipeline, emits the CUDA kernels, builds "
    "them for the\nhost emulation and runs every layer at the chosen batch "
    "sizes on random\nactivations, printing the error against the fp64 CPU "
    "reference and the host\ntime per layer.\n\nINPUT: an awq IR file "
    "(.mlir, graph or kernel level), a model description\n(.json) or a "
    "quantized checkpoint directory.";

/// The parsed command line.
struct RunOptions {
  std::string input, target, checkpoint, families;
  std::vector<int64_t> batches;
  uint64_t seed = 1;
  bool both = false;
  /// Set for a bundle input.
  std::optional<awq::BundleRunOptions> bundle;
};

/// One layer: its kernels and the M from which the GEMM one runs.
struct LayerKernels {
  std::string layer;
  std::string gemv, gemm;
  int64_t gemmMinM = 1;
  mlir::Operation *gemvOp = nullptr, *gemmOp = nullptr;
};

std::string layerName(mlir::Operation *op) {
  std::string names = llvm::join(ir::getSourceTensors(op->getOperand(1)), ", ");
  return names.empty() ? "(unnamed)" : names;
}

int run(const RunOptions &opts) {
  mlir::DialectRegistry registry;
  registry.insert<ir::AwqDialect, mlir::func::FuncDialect>();
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  // Diagnostics name the op and its location; the whole module is noise.
  context.printOpOnDiagnostic(false);
  llvm::SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);

  awq::LoadedModel loaded =
      awq::loadModel(context, sourceMgr, opts.input, opts.target);
  mlir::OwningOpRef<mlir::ModuleOp> module = std::move(loaded.module);
  if (!module)
    return 1;
  const std::string checkpointPath =
      opts.checkpoint.empty() ? loaded.checkpoint : opts.checkpoint;

  bool needsLowering = false;
  module->walk([&](ir::LinearOp) { needsLowering = true; });
  if (needsLowering) {
    mlir::PassManager pm(&context);
    ir::AwqPipelineOptions options;
    options.target = awq::resolveTarget(*module, opts.target);
    options.families = opts.families;
    ir::buildAwqPipeline(pm, options);
    if (mlir::failed(pm.run(*module)))
      return 1;
  }

  std::vector<ir::EmittedKernel> emitted;
  if (mlir::failed(ir::emitKernels(*module, emitted)))
    return 1;
  if (emitted.empty()) {
    std::cerr << "awq-run: " << opts.input << " has no linear layers\n";
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
      checkpointPath.empty() ? awq::makeRandomWeightSource(opts.seed)
                             : awq::makeCheckpointWeightSource(checkpointPath);
  awq::WeightEvaluator evaluator(*source);
  std::vector<int64_t> rows = opts.batches;
  if (rows.empty())
    rows = {1, 4, 8, 33};

  std::printf("weights: %s\n",
              checkpointPath.empty()
                  ? ("random (seed " + std::to_string(opts.seed) + ")").c_str()
                  : checkpointPath.c_str());
  // Layer names are printed whole: the column is as wide as the longest.
  int nameWidth = static_cast<int>(std::string("layer").size());
  for (LayerKernels &layer : layers)
    nameWidth = std::max(
        nameWidth,
        static_cast<int>(
            layerName(layer.gemvOp ? layer.gemvOp : layer.gemmOp).size()));
  std::printf("%-*s %-5s %5s %12s %12s %8s %10s  %s\n", nameWidth, "layer",
              "kernel", "M", "max |err|", "rel err", "err/bound", "host ms",
              "status");
  int failures = 0;
  double worstRatio = 0;
  for (LayerKernels &layer : layers) {
    mlir::Operation *any = layer.gemvOp ? layer.gemvOp : layer.gemmOp;
    std::string name = layerName(any);
    for (int64_t m : rows) {
      std::vector<mlir::Operation *> ops;
      if (opts.both) {
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
        awq::KernelRunResult result =
            runner.run(kernel, data, m, opts.seed + m);
        bool ok = result.ok();
        failures += !ok;
        worstRatio = std::max(worstRatio, result.worstBoundRatio);
        std::printf(
            "%-*s %-5s %5lld %12.3e %12.3e %8.3f %10.2f  %s\n", nameWidth,
            name.c_str(), mlir::isa<ir::GemvKernelOp>(op) ? "gemv" : "gemm",
            static_cast<long long>(m), result.maxAbsError, result.relError,
            result.worstBoundRatio, result.seconds * 1e3, ok ? "ok" : "FAILED");
        if (!ok)
          std::printf("    %s\n", result.worst.c_str());
      }
    }
  }
  std::printf("rel err = max |err| / max |reference|, per launch\n");
  std::printf(
      "%s: %d failed; worst error/bound ratio %.3f (bound: docs/numerics.md)\n",
      failures ? "FAILED" : "all layers match the reference", failures,
      worstRatio);
  return failures ? 1 : 0;
}

/// Parses the command line; returns an exit code when there is nothing to
/// run (help, version).
std::optional<int> parseOptions(const std::vector<std::string> &argv,
                                RunOptions &opts) {
  static const AwqRunOptTable table;
  const awq::CommandArguments args(
      table, {"awq-run", "", OPT_help, {"INPUT"}, {OPT_batch}}, argv);
  if (args.helpRequested()) {
    args.printHelp(std::cout, "awq-run INPUT [options]", kOverview);
    return 0;
  }
  if (args.flag(OPT_version)) {
    std::cout << awq::versionString("awq-run") << "\n";
    return 0;
  }
  opts.input = args.positionals()[0];
  std::vector<int64_t> batches;
  for (const std::string &list : args.values(OPT_batch))
    for (llvm::StringRef m : llvm::split(list, ','))
      batches.push_back(
          args.intValue(OPT_batch, m.trim().str(), 1, INT32_MAX));
  if (llvm::StringRef(opts.input).ends_with(".awqb") ||
      awq::bundle::looksLikeBundle(opts.input)) {
    for (unsigned id : {unsigned(OPT_target), unsigned(OPT_checkpoint),
                        unsigned(OPT_families), unsigned(OPT_both_families)})
      if (args.flag(id) || args.value(id))
        args.fail(args.spelling(id) +
                  " applies to IR, descriptions and checkpoints, not to a "
                  "bundle (its kernels and weights are fixed)");
    awq::BundleRunOptions bundle;
    bundle.path = opts.input;
    bundle.device = args.value(OPT_device).value_or("");
    bundle.cacheDir = args.value(OPT_cache_dir).value_or("");
    bundle.batches = batches;
    bundle.seed = static_cast<uint64_t>(
        args.intValue(OPT_seed, 0, INT64_MAX).value_or(1));
    bundle.bench = args.flag(OPT_bench);
    bundle.replan = !args.flag(OPT_no_replan);
    for (const std::string &list : args.values(OPT_compile_only))
      for (llvm::StringRef target : llvm::split(list, ','))
        if (!target.trim().empty())
          bundle.compileOnly.push_back(target.trim().str());
    if (!bundle.compileOnly.empty() &&
        (bundle.bench || !batches.empty() || args.value(OPT_device)))
      args.fail("--compile-only runs nothing: it excludes --bench, --batch "
                "and --device");
    opts.bundle = bundle;
    return std::nullopt;
  }
  for (unsigned id :
       {unsigned(OPT_device), unsigned(OPT_bench), unsigned(OPT_cache_dir),
        unsigned(OPT_no_replan), unsigned(OPT_compile_only)})
    if (args.flag(id) || args.value(id))
      args.fail(args.spelling(id) + " applies to a bundle (.awqb) input");
  opts.target = args.value(OPT_target).value_or("");
  opts.checkpoint = args.value(OPT_checkpoint).value_or("");
  opts.families = args.value(OPT_families).value_or("both");
  opts.seed =
      static_cast<uint64_t>(args.intValue(OPT_seed, 0, INT64_MAX).value_or(1));
  opts.both = args.flag(OPT_both_families);
  opts.batches = batches;
  return std::nullopt;
}

} // namespace

int main(int argc, char **argv) {
  const std::vector<std::string> argvList(argv + 1, argv + argc);
  if (argc == 2 && std::string(argv[1]) == "--version") {
    std::cout << awq::versionString("awq-run") << "\n";
    return 0;
  }
  return awq::runGuarded("awq-run", std::cerr, [&]() -> int {
    RunOptions opts;
    if (std::optional<int> code = parseOptions(argvList, opts))
      return *code;
    if (opts.bundle)
      return awq::runBundle(*opts.bundle);
    return run(opts);
  });
}
