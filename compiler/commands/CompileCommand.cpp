//===- CompileCommand.cpp - `awqc compile`: a model to kernels ------------===//
#include "compiler/commands/CompileCommand.h"

#include "compiler/codegen/CudaEmitter.h"
#include "compiler/frontend/AwqcOptions.h"
#include "compiler/frontend/CommandLine.h"
#include "compiler/frontend/ModelLoader.h"
#include "compiler/frontend/OutputStaging.h"
#include "dialects/awq/AwqDialect.h"
#include "passes/Passes.h"
#include "runtime/formats/AtomicFile.h"
#include "runtime/support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

#include <filesystem>

namespace fs = std::filesystem;
namespace ir = mlir::awq;

namespace awq {
namespace {

using namespace awqc_options;

constexpr const char *kCompileSummary =
    "Compiles a model to kernel-level IR, one CUDA source per kernel and "
    "manifest.json.\n\nINPUT: an awq IR file (.mlir), a model description "
    "(.json) or a quantized\ncheckpoint directory. DIR receives "
    "kernels.mlir, kernels/*.cu and manifest.json.";

/// A kernel in the manifest: what it computes, the layers it serves, and
/// how to launch it for any M (geometry as a function of M, buffers and
/// workspace), all from its KernelInstance.
nlohmann::json describeKernel(const ir::EmittedKernel &kernel) {
  const KernelInstance &instance = kernel.instance;
  const LinearShape &s = instance.shape;
  nlohmann::json entry = {
      {"name", kernel.name},
      {"family", familyName(instance.family)},
      {"config", instance.configType()},
      {"serves", kernel.layers},
      {"source", "kernels/" + kernel.name + ".cu"},
      {"k", s.k},
      {"n", s.n},
      {"n_out", s.nOut()},
      {"bits", s.bits},
      {"group_size", s.group},
      {"zero_point", s.zeroPoint},
      {"act_scale", s.actScale},
      {"bias", s.bias},
      {"residual", s.residual},
      {"silu_mul", s.siluMul},
      {"threads", instance.threads()},
      {"shared_bytes", instance.sharedBytes()},
      {"weight_bytes", instance.weightBytes()},
  };
  // Launch geometry as a function of M: the M-independent dimensions, and
  // the divisor of M for the one that grows with it.
  const KernelInstance::LaunchFormula f = instance.launchFormula();
  const char *axes[3] = {"grid_x", "grid_y", "grid_z"};
  nlohmann::json launch = {{"block", f.threads},
                           {"shared_bytes", f.sharedBytes},
                           {"rows_per_block", f.rowsPerBlock},
                           {"split_k", f.splitK}};
  for (int axis = 0; axis < 3; ++axis)
    launch[axes[axis]] =
        axis == f.rowAxis
            ? nlohmann::json("ceil(M / " + std::to_string(f.rowsPerBlock) + ")")
            : nlohmann::json(f.grid[axis]);
  launch["workspace_floats"] = f.splitK > 1 ? "M * N" : "0";
  launch["counters"] = f.splitK > 1 ? "grid_x * " + std::string(axes[f.rowAxis])
                                    : std::string("0");
  entry["launch"] = launch;
  return entry;
}

/// What awqc compile may replace: with --force, an earlier output.
OutputRules compileOutputRules(const std::string &input, bool force) {
  OutputRules rules;
  rules.command = "awqc compile";
  rules.force = force;
  rules.inputs = {input};
  rules.isEarlierOutput = [](const fs::path &dir) {
    return fs::is_directory(dir / "kernels") &&
           fileContains(dir / "manifest.json", "\"awqc_kernels\"");
  };
  rules.earlierOutput = "a directory holding manifest.json and kernels/";
  return rules;
}

} // namespace

int runCompileCommand(const std::vector<std::string> &argv, std::ostream &out,
                      std::ostream &err) {
  const char *command = "awqc compile";
  return runGuarded(command, err, [&]() -> int {
    const CommandArguments args(
        table(), {command, "compile", OPT_help, {"INPUT"}, {}}, argv);
    if (args.helpRequested()) {
      args.printHelp(out, "", kCompileSummary);
      return 0;
    }
    const std::string input = args.positionals()[0];
    const std::string output = args.required(OPT_output);
    const std::string target = args.value(OPT_target).value_or("");
    ir::AwqPipelineOptions pipeline;
    pipeline.families = args.value(OPT_families).value_or("both");
    pipeline.gemmMinM = args.intValue(OPT_gemm_min_m, 1, INT32_MAX).value_or(5);
    const OutputRules rules = compileOutputRules(input, args.flag(OPT_force));
    // Fail on an unusable output before the compilation.
    checkOutputDirectory(output, rules);

    mlir::DialectRegistry registry;
    registry.insert<ir::AwqDialect, mlir::func::FuncDialect>();
    mlir::MLIRContext context(registry);
    context.loadAllAvailableDialects();
    // Diagnostics name the op and its location; the whole module is noise.
    context.printOpOnDiagnostic(false);
    std::string diagnostics;
    llvm::raw_string_ostream diagnosticStream(diagnostics);
    llvm::SourceMgr sourceMgr;
    mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context,
                                             diagnosticStream);

    LoadedModel loaded = loadModel(context, sourceMgr, input, target);
    mlir::OwningOpRef<mlir::ModuleOp> module = std::move(loaded.module);
    if (!module)
      throw Error(diagnostics.empty() ? input + ": cannot parse" : diagnostics);

    mlir::PassManager pm(&context);
    pipeline.target = resolveTarget(*module, target);
    ir::buildAwqPipeline(pm, pipeline);
    if (mlir::failed(pm.run(*module)))
      throw Error(input + ":\n" + diagnostics);

    std::vector<ir::EmittedKernel> kernels;
    if (mlir::failed(ir::emitKernels(*module, kernels)))
      throw Error(input + ":\n" + diagnostics);

    const std::string targetName =
        (*module)
            ->getAttrOfType<ir::TargetAttr>(ir::AwqDialect::getTargetAttrName())
            .getName()
            .str();

    // Everything goes into a sibling staging directory renamed at the end.
    StagingDirectory staging(output, rules);
    const fs::path dir(staging.path());
    fs::create_directory(dir / "kernels");
    std::string irText;
    llvm::raw_string_ostream irStream(irText);
    module->print(irStream);
    writeFileAtomically((dir / "kernels.mlir").string(), irText);
    nlohmann::json manifest = {
        {"awqc_kernels", 1},
        {"target", targetName},
        {"device_library",
         "runtime/device/include (awq/gemv.cuh, awq/gemm.cuh)"},
        {"kernels", nlohmann::json::array()}};
    for (const ir::EmittedKernel &kernel : kernels) {
      writeFileAtomically((dir / "kernels" / (kernel.name + ".cu")).string(),
                          kernel.source);
      manifest["kernels"].push_back(describeKernel(kernel));
    }
    writeFileAtomically((dir / "manifest.json").string(),
                        manifest.dump(2) + "\n");
    staging.commit();
    if (!diagnostics.empty())
      err << diagnostics;
    size_t uses = 0;
    for (const ir::EmittedKernel &kernel : kernels)
      uses += kernel.layers.size();
    out << "awqc compile: " << kernels.size() << " distinct kernel(s) for "
        << uses << " kernel use(s) by layers, " << targetName << " in "
        << fs::absolute(output).lexically_normal().string() << "\n";
    return 0;
  });
}

} // namespace awq
