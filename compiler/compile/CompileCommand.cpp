//===- CompileCommand.cpp - `awqc compile`: a model to kernels ------------===//
#include "compiler/compile/CompileCommand.h"

#include "compiler/builder/ModelBuilder.h"
#include "compiler/codegen/CudaEmitter.h"
#include "compiler/formats/ModelDescription.h"
#include "dialects/awq/AwqDialect.h"
#include "passes/Passes.h"
#include "runtime/support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>

namespace fs = std::filesystem;
namespace ir = mlir::awq;

namespace awq {
namespace {

struct Options {
  std::string input, output, target, families = "both";
  int64_t gemmMinM = 5;
};

const char *kUsage =
    "usage: awqc compile INPUT -o DIR [--target sm_80|sm_86|sm_89|sm_90]\n"
    "                    [--families both|gemv|gemm] [--gemm-min-m N]\n"
    "  INPUT: an awq IR file (.mlir), a model description (.json) or a\n"
    "  quantized checkpoint directory. DIR receives kernels.mlir, "
    "kernels/*.cu\n"
    "  and manifest.json.\n";

Options parseArguments(const std::vector<std::string> &args) {
  Options options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &arg = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size())
        throw Error("awqc compile: " + arg + " needs a value");
      return args[++i];
    };
    if (arg == "-o" || arg == "--output")
      options.output = value();
    else if (arg == "--target")
      options.target = value();
    else if (arg == "--families")
      options.families = value();
    else if (arg == "--gemm-min-m") {
      std::string text = value();
      try {
        size_t used = 0;
        options.gemmMinM = std::stoll(text, &used);
        if (used != text.size())
          throw std::invalid_argument(text);
      } catch (const std::exception &) {
        throw Error("awqc compile: --gemm-min-m expects an integer, got '" +
                    text + "'");
      }
    } else if (!arg.empty() && arg[0] == '-')
      throw Error("awqc compile: unknown option '" + arg + "'\n" + kUsage);
    else if (options.input.empty())
      options.input = arg;
    else
      throw Error("awqc compile: more than one input ('" + options.input +
                  "' and '" + arg + "')");
  }
  if (options.input.empty() || options.output.empty())
    throw Error(
        std::string("awqc compile: an input and -o DIR are required\n") +
        kUsage);
  return options;
}

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
  const KernelLaunch one = instance.launch(1);
  nlohmann::json launch = {{"block", one.threads},
                           {"shared_bytes", one.sharedBytes}};
  if (instance.family == KernelFamily::Gemv) {
    launch["grid_x"] = one.gridX;
    launch["grid_y"] = one.gridY;
    launch["grid_z"] = "ceil(M / " + std::to_string(instance.gemv.maxRows) + ")";
    launch["rows_per_block"] = instance.gemv.maxRows;
    launch["split_k"] = instance.gemv.kSplit;
    launch["workspace_floats"] = instance.gemv.kSplit > 1 ? "M * N" : "0";
    launch["counters"] = instance.gemv.kSplit > 1
                             ? "grid_x * grid_z"
                             : std::string("0");
  } else {
    launch["grid_x"] = one.gridX;
    launch["grid_y"] = "ceil(M / " + std::to_string(instance.gemm.tileM) + ")";
    launch["grid_z"] = one.gridZ;
    launch["tile_m"] = instance.gemm.tileM;
    launch["split_k"] = instance.gemm.splitK;
    launch["workspace_floats"] = instance.gemm.splitK > 1 ? "M * N" : "0";
    launch["counters"] = instance.gemm.splitK > 1 ? "grid_x * grid_y"
                                                  : std::string("0");
  }
  entry["launch"] = launch;
  return entry;
}

void writeFile(const fs::path &path, const std::string &contents) {
  std::ofstream file(path, std::ios::binary);
  file << contents;
  if (!file.flush())
    throw Error(path.string() + ": cannot write");
}

} // namespace

int runCompileCommand(const std::vector<std::string> &args, std::ostream &out,
                      std::ostream &err) {
  Options options = parseArguments(args);

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

  mlir::OwningOpRef<mlir::ModuleOp> module;
  fs::path input(options.input);
  if (!fs::exists(input))
    throw Error(options.input + ": no such file or directory");
  // awqc quantize writes model.json next to the weights when it kept
  // activation scales the checkpoint format cannot express: prefer it.
  if (fs::is_directory(input) && fs::exists(input / "model.json"))
    input /= "model.json";
  if (fs::is_directory(input) || input.extension() == ".json") {
    ModelDescription description = fs::is_directory(input)
                                       ? describeCheckpoint(input.string())
                                       : parseModelDescription(input.string());
    BuildOptions build;
    build.checkpointPath =
        fs::is_directory(input)
            ? input.string()
            : resolveCheckpointPath(description, input.string());
    build.target = options.target.empty() ? "sm_80" : options.target;
    module = buildModule(context, description, build);
  } else {
    module = mlir::parseSourceFile<mlir::ModuleOp>(input.string(), sourceMgr,
                                                   &context);
    if (!module)
      throw Error(diagnostics.empty() ? options.input + ": cannot parse"
                                      : diagnostics);
  }

  mlir::PassManager pm(&context);
  ir::AwqPipelineOptions pipeline;
  pipeline.target = options.target;
  if (options.target.empty() &&
      !(*module)->hasAttr(ir::AwqDialect::getTargetAttrName()))
    pipeline.target = "sm_80";
  pipeline.families = options.families;
  pipeline.gemmMinM = options.gemmMinM;
  ir::buildAwqPipeline(pm, pipeline);
  if (mlir::failed(pm.run(*module)))
    throw Error("awqc compile: " + options.input + ":\n" + diagnostics);

  std::vector<ir::EmittedKernel> kernels;
  if (mlir::failed(ir::emitKernels(*module, kernels)))
    throw Error("awqc compile: " + options.input + ":\n" + diagnostics);

  const std::string targetName =
      (*module)->getAttrOfType<ir::TargetAttr>(ir::AwqDialect::getTargetAttrName()).getName().str();

  // Everything goes into a sibling temporary directory renamed at the end.
  fs::path target = fs::absolute(options.output);
  if (fs::exists(target) && !fs::is_directory(target))
    throw Error(target.string() + ": exists and is not a directory");
  fs::path parent = target.parent_path();
  if (!fs::is_directory(parent))
    throw Error(parent.string() + ": no such directory");
  std::mt19937_64 rng(std::random_device{}());
  fs::path staging = parent / ("." + target.filename().string() + ".tmp-" +
                               std::to_string(rng() % 1000000000));
  try {
    fs::create_directories(staging / "kernels");
    std::string irText;
    llvm::raw_string_ostream irStream(irText);
    module->print(irStream);
    writeFile(staging / "kernels.mlir", irText);
    nlohmann::json manifest = {
        {"awqc_kernels", 1},
        {"target", targetName},
        {"device_library",
         "runtime/device/include (awq/gemv.cuh, awq/gemm.cuh)"},
        {"kernels", nlohmann::json::array()}};
    for (const ir::EmittedKernel &kernel : kernels) {
      writeFile(staging / "kernels" / (kernel.name + ".cu"), kernel.source);
      manifest["kernels"].push_back(describeKernel(kernel));
    }
    writeFile(staging / "manifest.json", manifest.dump(2) + "\n");
    if (fs::exists(target))
      fs::remove_all(target);
    fs::rename(staging, target);
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(staging, ignored);
    throw;
  }
  if (!diagnostics.empty())
    err << diagnostics;
  size_t uses = 0;
  for (const ir::EmittedKernel &kernel : kernels)
    uses += kernel.layers.size();
  out << "awqc compile: " << kernels.size() << " distinct kernel(s) for "
      << uses << " kernel use(s) by layers, " << targetName
      << " in " << target.string() << "\n";
  return 0;
}

} // namespace awq
