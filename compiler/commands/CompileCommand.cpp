//===- CompileCommand.cpp - `awqc compile`: a model to kernels ------------===//
#include "compiler/commands/CompileCommand.h"

#include "compiler/bundle/BundleBuilder.h"
#include "compiler/codegen/CudaEmitter.h"
#include "compiler/execute/WeightEvaluator.h"
#include "compiler/frontend/AwqcOptions.h"
#include "compiler/frontend/CommandLine.h"
#include "compiler/frontend/ModelLoader.h"
#include "compiler/frontend/OutputStaging.h"
#include "dialects/awq/AwqDialect.h"
#include "passes/Passes.h"
#include "runtime/bundle/Bundle.h"
#include "runtime/formats/AtomicFile.h"
#include "runtime/jit/JitCompiler.h"
#include "runtime/kernels/KernelDescription.h"
#include "runtime/kernels/KernelPlan.h"
#include "runtime/nvrtc/NvrtcCompiler.h"
#include "runtime/support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <future>
#include <iostream>
#include <unistd.h>

namespace fs = std::filesystem;
namespace ir = mlir::awq;

namespace awq {
namespace {

using namespace awqc_options;

constexpr const char *kCompileSummary =
    "Compiles a model into a kernel bundle: one file holding the manifest, "
    "one CUDA\nsource per distinct kernel, the device library's headers and "
    "the repacked\nweights, which the runtime JIT-compiles for the GPU it "
    "finds (docs/bundle.md).\n\nINPUT: an awq IR file (.mlir), a model "
    "description (.json) or a quantized\ncheckpoint directory. OUTPUT: a "
    "bundle for a name ending in .awqb; any other\nname is a directory "
    "receiving kernels.mlir, kernels/*.cu and manifest.json.";

/// A kernel in the manifest: what it computes, the layers it serves, and
/// how to launch it for any M (geometry as a function of M, buffers and
/// workspace), all from its KernelInstance.
nlohmann::json describeKernel(const ir::EmittedKernel &kernel) {
  nlohmann::json entry = describeInstance<nlohmann::json>(kernel.instance);
  entry["name"] = kernel.name;
  entry["serves"] = kernel.layers;
  entry["source"] = "kernels/" + kernel.name + ".cu";
  return entry;
}

/// What awqc compile may replace with a bundle: with --force, an earlier
/// bundle.
OutputRules bundleOutputRules(const std::string &input, bool force) {
  OutputRules rules;
  rules.command = "awqc compile";
  rules.force = force;
  rules.inputs = {input};
  rules.isEarlierOutput = [](const fs::path &file) {
    return bundle::looksLikeBundle(file.string());
  };
  rules.earlierOutput = "a bundle (.awqb)";
  return rules;
}

bool isBundlePath(const std::string &path) {
  return fs::path(path).extension() == ".awqb";
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
    pipeline.gemmMinM = args.intValue(OPT_gemm_min_m, 1, INT32_MAX).value_or(kDefaultGemmMinM);
    const bool toBundle = isBundlePath(output);
    const OutputRules rules =
        toBundle ? bundleOutputRules(input, args.flag(OPT_force))
                 : compileOutputRules(input, args.flag(OPT_force));
    const bool noWeights = args.flag(OPT_no_weights);
    const std::optional<int64_t> randomSeed =
        args.intValue(OPT_random_weights, 0, INT64_MAX);
    const int64_t maxM =
        args.intValue(OPT_max_m, 1, bundle::kMaxRowsLimit).value_or(4096);
    if (!toBundle && (noWeights || randomSeed || args.value(OPT_max_m)))
      throw Error("--no-weights, --random-weights and --max-m apply to a "
                  "bundle output (a name ending in .awqb), not to " +
                  output);
    std::vector<std::string> aotTargets;
    for (const std::string &list : args.values(OPT_aot))
      for (std::string rest = list; !rest.empty();) {
        const size_t comma = rest.find(',');
        const std::string target = rest.substr(0, comma);
        rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
        // compute_XY embeds PTX: the driver compiles it for newer GPUs.
        const bool virtualArch = target.rfind("compute_", 0) == 0;
        if (!parseTarget(virtualArch ? "sm_" + target.substr(8) : target))
          throw Error("--aot: unknown target '" + target + "' (known: " +
                      knownTargets() + ", or compute_XY for PTX)");
        aotTargets.push_back(target);
      }
    if (!toBundle && !aotTargets.empty())
      throw Error("--aot applies to a bundle output (a name ending in .awqb)");
    if (noWeights && randomSeed)
      throw Error("--no-weights and --random-weights exclude each other");
    // Fail on an unusable output before the compilation.
    if (toBundle)
      checkOutputFile(output, rules);
    else
      checkOutputDirectory(output, rules);

    ModelSession session;
    mlir::MLIRContext &context = session.context();
    const std::string &diagnostics = session.diagnostics();

    LoadedModel loaded = session.load(input, target);
    mlir::OwningOpRef<mlir::ModuleOp> module = std::move(loaded.module);
    if (!module)
      throw Error(diagnostics.empty() ? input + ": cannot parse" : diagnostics);

    // The input's hash (it reads every byte) overlaps the compilation.
    std::future<std::string> inputHash;
    if (toBundle)
      inputHash = std::async(std::launch::async, hashInput, input);

    // Weights are found before any work, so a missing checkpoint fails fast.
    std::unique_ptr<WeightSource> weights;
    if (toBundle && !noWeights) {
      if (randomSeed)
        weights = makeRandomWeightSource(static_cast<uint64_t>(*randomSeed));
      else if (!loaded.checkpoint.empty())
        weights = makeCheckpointWeightSource(loaded.checkpoint);
      else
        throw Error(input + " names no checkpoint to take weights from: "
                            "give --random-weights=SEED (tests, demos) or "
                            "--no-weights (benchmarks)");
    }

    mlir::PassManager pm(&context);
    if (args.flag(OPT_dump_ir_after_all)) {
      // Printing after each pass needs a single-threaded context.
      context.disableMultithreading();
      pm.enableIRPrinting([](mlir::Pass *, mlir::Operation *) { return false; },
                          [](mlir::Pass *, mlir::Operation *) { return true; },
                          /*printModuleScope=*/true,
                          /*printAfterOnlyOnChange=*/false,
                          /*printAfterOnlyOnFailure=*/false, llvm::errs());
    }
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

    if (toBundle) {
      BundleOptions options;
      options.maxM = maxM;
      options.compiler = versionString("awqc");
      options.inputPath = input;
      options.inputSha256 = inputHash.get();
      options.weights = weights.get();
      options.deviceIncludeDir = deviceIncludeDir();
      if (!aotTargets.empty()) {
        // The kernels as the bundle will carry them, compiled now.
        rt::KernelCache cache;
        std::vector<rt::JitKernel> sources;
        for (const ir::EmittedKernel &kernel : kernels)
          sources.push_back({kernel.name, kernel.source});
        for (const std::string &aotTarget : aotTargets) {
          if (aotTarget.rfind("compute_", 0) == 0) {
            NvrtcOptions nvrtc;
            nvrtc.arch = aotTarget;
            nvrtc.headers = readDeviceHeaders(options.deviceIncludeDir);
            nvrtc.ptxasVerbose = false;
            for (const rt::JitKernel &kernel : sources) {
              CompileResult ptx =
                  compileToCubin(kernel.source, kernel.name + ".cu", nvrtc);
              options.aot.push_back(
                  {kernel.name, aotTarget,
                   std::vector<char>(ptx.ptx.begin(), ptx.ptx.end())});
            }
            continue;
          }
          rt::JitOptions jit;
          jit.target = aotTarget;
          jit.headers = readDeviceHeaders(options.deviceIncludeDir);
          jit.cache = &cache;
          rt::JitSummary summary = rt::jitCompile(sources, jit);
          for (size_t i = 0; i < sources.size(); ++i)
            options.aot.push_back({sources[i].name, aotTarget,
                                   std::move(summary.kernels[i].cubin)});
        }
      }
      // On a terminal, one line rewritten at most ten times a second.
      const bool terminal = ::isatty(2) && &err == &std::cerr;
      auto lastDraw = std::chrono::steady_clock::now();
      options.progress = [&](size_t done, size_t total) {
        const auto now = std::chrono::steady_clock::now();
        if (!terminal ||
            (done != total && now - lastDraw < std::chrono::milliseconds(100)))
          return;
        lastDraw = now;
        err << "\rawqc compile: writing the bundle, tensor " << done << " of "
            << total << (done == total ? "\r\033[K" : "") << std::flush;
      };
      bundle::Manifest manifest;
      const bundle::WriteStats stats =
          writeModuleBundle(*module, kernels, output, options, &manifest);
      if (!diagnostics.empty())
        err << diagnostics;
      size_t uses = 0;
      for (const bundle::Layer &layer : manifest.layers)
        uses += layer.kernels.size();
      out << "awqc compile: " << manifest.layers.size() << " layer(s), "
          << manifest.kernels.size() << " distinct kernel(s) for " << uses
          << " kernel use(s), " << targetName << ", M up to " << maxM << ", "
          << (manifest.hasWeights ? "" : "no weights, ") << stats.fileBytes
          << " bytes in " << fs::absolute(output).lexically_normal().string()
          << "\n";
      return 0;
    }

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
