//===- KernelStatsCommand.cpp - awq-kernel-stats: the static kernel report ===//
#include "compiler/kernelstats/KernelStatsCommand.h"

#include "compiler/codegen/CudaEmitter.h"
#include "compiler/frontend/CommandLine.h"
#include "compiler/frontend/ModelLoader.h"
#include "compiler/kernelstats/Disassembler.h"
#include "compiler/kernelstats/KernelStats.h"
#include "compiler/kernelstats/KernelStatsOptions.h"
#include "compiler/kernelstats/Report.h"
#include "dialects/awq/AwqDialect.h"
#include "passes/Passes.h"
#include "runtime/kernels/KernelPlan.h"
#include "runtime/support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

#ifndef AWQC_SOURCE_DIR_DEFAULT
#error "AWQC_SOURCE_DIR_DEFAULT must be defined by the build"
#endif

namespace ir = mlir::awq;

namespace awq {

using namespace kernel_stats_options;

namespace {

constexpr const char *kOverview =
    "The static kernel report: for every kernel awqc emits and each target, "
    "NVRTC compile\ntime, registers, spills, shared memory, resident warps "
    "per SM, the main loop's\ninstructions per weight by class and pipe (from "
    "the SASS), the weight loads,\nbytes in flight, and a roofline / "
    "Little's-law bandwidth estimate for named GPUs\n(docs/kernels.md, "
    "\"Reading the machine code\").\n\nINPUT: as for `awqc compile` (IR, "
    "model description or checkpoint); default: a\nLLaMA-2-7B block "
    "(examples/llama-2-7b-block.json).";

std::vector<std::string>
splitCommaLists(const std::vector<std::string> &lists) {
  std::vector<std::string> out;
  for (const std::string &list : lists)
    for (std::string rest = list; !rest.empty();) {
      const size_t comma = rest.find(',');
      out.push_back(rest.substr(0, comma));
      rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    }
  return out;
}

} // namespace

std::string defaultKernelStatsInput() {
  return std::string(AWQC_SOURCE_DIR_DEFAULT) +
         "/examples/llama-2-7b-block.json";
}

CompiledKernels compileKernels(const std::string &input,
                               const std::string &target,
                               const std::string &families, int64_t maxM) {
  ModelSession session;
  mlir::MLIRContext &context = session.context();
  LoadedModel loaded = session.load(input, target);
  const std::string &diagnostics = session.diagnostics();
  if (!loaded.module)
    throw Error(diagnostics.empty() ? input + ": cannot parse" : diagnostics);
  mlir::PassManager pm(&context);
  ir::AwqPipelineOptions pipeline;
  pipeline.families = families;
  pipeline.target = resolveTarget(*loaded.module, target);
  ir::buildAwqPipeline(pm, pipeline);
  if (mlir::failed(pm.run(*loaded.module)))
    throw Error(input + ":\n" + diagnostics);
  std::vector<ir::EmittedKernel> kernels;
  if (mlir::failed(ir::emitKernels(*loaded.module, kernels)))
    throw Error(input + ":\n" + diagnostics);
  CompiledKernels out;
  for (ir::EmittedKernel &kernel : kernels)
    out.kernels.emplace_back(kernel.name, kernel.instance);
  out.layers = layerKernels(*loaded.module, maxM);
  return out;
}

std::vector<std::pair<std::string, KernelInstance>>
compileKernelInstances(const std::string &input, const std::string &target,
                       const std::string &families) {
  return compileKernels(input, target, families).kernels;
}

int runKernelStatsCommand(const std::vector<std::string> &argv,
                          std::ostream &out, std::ostream &err) {
  const char *command = "awq-kernel-stats";
  return runGuarded(command, err, [&]() -> int {
    CommandSpec spec{command, "", OPT_help, {}, {OPT_target}, {"INPUT"}};
    const CommandArguments args(table(), spec, argv);
    if (args.helpRequested()) {
      args.printHelp(out, "awq-kernel-stats [INPUT] [options]", kOverview);
      return 0;
    }
    if (args.flag(OPT_version)) {
      out << versionString(command) << "\n";
      return 0;
    }
    const std::string input = args.positionals().empty()
                                  ? defaultKernelStatsInput()
                                  : args.positionals()[0];
    std::vector<std::string> targets = splitCommaLists(args.values(OPT_target));
    if (targets.empty())
      targets = {"sm_90"};
    for (const std::string &target : targets) {
      const std::optional<Target> parsed = parseTarget(target);
      if (!parsed)
        args.fail("--target: unknown target '" + target +
                  "' (known: " + knownTargets() + ")");
      if (const char *why = archViolation(*parsed->arch))
        args.fail("--target " + target + " (" + parsed->arch->part +
                  "): " + why);
    }
    const std::string families =
        args.choiceValue(OPT_families, {"both", "gemv", "gemm"})
            .value_or("both");
    // --activation: the same kernels with another element type (the plan
    // does not depend on it), e.g. to compare fp16 and bf16 counts.
    std::optional<ActivationType> activation;
    if (const std::optional<std::string> name =
            args.choiceValue(OPT_activation, {"f16", "bf16"})) {
      activation.emplace();
      parseActivationType(*name, *activation);
      for (const std::string &target : targets)
        if (const char *why = activationViolation(
                [&] {
                  LinearShape shape;
                  shape.activation = *activation;
                  return shape;
                }(),
                *parseTarget(target)->arch))
          args.fail("--activation " + *name + " on " + target + ": " + why);
    }
    // Before any compilation: without a disassembler there is no report.
    const Disassembler tool =
        findDisassembler(args.value(OPT_disassembler).value_or(""));
    if (tool.path.empty())
      throw Error("no SASS disassembler found: install the CUDA toolkit's "
                  "nvdisasm or cuobjdump, run .ci/bootstrap.sh (installs "
                  "nvidia-cuda-nvdisasm into .venv), or name one with "
                  "--disassembler or AWQC_DISASSEMBLER (looked at " +
                  disassemblerSearchDescription() + ")");
    std::vector<int64_t> rowCounts;
    for (const std::string &text : splitCommaLists(args.values(OPT_rows)))
      rowCounts.push_back(
          args.intValue(OPT_rows, text, 1, bundle::kMaxRowsLimit));
    if (rowCounts.empty())
      rowCounts = {1, 2, 4, 8, 16};
    const int64_t maxM = *std::max_element(rowCounts.begin(), rowCounts.end());
    const std::vector<std::string> nvrtcOptions = args.values(OPT_nvrtc_option);
    const bool json = args.flag(OPT_json);
    std::vector<KernelStats> all;
    std::vector<LayerRowsCost> costs;
    for (const std::string &target : targets) {
      CompiledKernels compiled = compileKernels(input, target, families, maxM);
      const std::string suffix =
          activation ? std::string("_") + activationTypeName(*activation)
                     : std::string();
      for (auto [name, instance] : compiled.kernels) {
        if (activation && instance.shape.activation != *activation) {
          instance.shape.activation = *activation;
          name += suffix;
        }
        all.push_back(
            analyzeKernel(name, instance, target, tool, nvrtcOptions));
      }
      for (LayerKernels &layer : compiled.layers) {
        for (bundle::KernelUse &use : layer.kernels)
          if (activation && layer.shape.activation != *activation)
            use.kernel += suffix;
        costs.push_back({layer.name, target,
                         costByRows(layer.kernels, all, target, rowCounts)});
      }
    }
    if (json) {
      nlohmann::json array = nlohmann::json::array();
      for (const KernelStats &stats : all)
        for (nlohmann::json &row : reportJson(stats))
          array.push_back(std::move(row));
      for (nlohmann::json &row : rowsCostJson(costs))
        array.push_back(std::move(row));
      out << array.dump(2) << "\n";
      return 0;
    }
    out << "awq-kernel-stats: " << input << ", disassembler " << tool.path
        << " (" << tool.foundBy << ")\n\n";
    printReport(all, out);
    printRowsCost(costs, out);
    return 0;
  });
}

} // namespace awq
