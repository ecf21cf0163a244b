//===- ModelLoader.cpp - A model on the command line to an awq module -----===//

#include "compiler/frontend/ModelLoader.h"

#include "compiler/builder/ModelBuilder.h"
#include "compiler/formats/ModelDescription.h"
#include "compiler/formats/QuantizationConfig.h"
#include "compiler/formats/QuantizedCheckpoint.h"
#include "dialects/awq/AwqDialect.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "runtime/formats/SafeTensors.h"
#include "runtime/support/Error.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"

#include <filesystem>

namespace awq {

namespace fs = std::filesystem;

namespace {

/// Every awq.external of `module` against the safetensors headers and
/// config.json of the checkpoint in `dir`.
void checkCheckpointHeaders(mlir::ModuleOp module, const std::string &dir) {
  std::vector<ExpectedTensor> expected;
  module.walk([&](mlir::awq::ExternalOp external) {
    ExpectedTensor tensor;
    tensor.name = external.getTensor().str();
    if (auto weight =
            mlir::dyn_cast<mlir::awq::QWeightType>(external.getType())) {
      tensor.quantized = true;
      tensor.k = weight.getK();
      tensor.n = weight.getN();
      tensor.params.bits = static_cast<int>(weight.getBits());
      tensor.params.groupSize = weight.getGroup();
      tensor.params.zeroPoint =
          weight.getZeroMode() != mlir::awq::ZeroMode::symmetric;
      std::string why = mlir::awq::getWeightActivationType(external.getResult(),
                                                           tensor.activation);
      if (!why.empty())
        throw Error("tensor '" + tensor.name + "': " + why);
    } else {
      auto type = mlir::cast<mlir::RankedTensorType>(external.getType());
      if (type.getRank() != 1)
        return;
      tensor.length = type.getDimSize(0);
      tensor.activation = mlir::awq::activationTypeOf(type.getElementType());
    }
    expected.push_back(std::move(tensor));
  });
  checkCheckpointTensors(SafeTensorsCheckpoint::open(dir),
                         readQuantizationConfig(dir), expected);
}

} // namespace

LoadedModel loadModel(mlir::MLIRContext &context, llvm::SourceMgr &sourceMgr,
                      const std::string &input, const std::string &target) {
  fs::path path(input);
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status))
    throw Error(input + ": no such file or directory");
  // A FIFO or device would block the reader or never end.
  if (!fs::is_regular_file(status) && !fs::is_directory(status))
    throw Error(input + ": expected a regular file or a directory");
  LoadedModel loaded;
  // awqc quantize writes model.json next to the weights when it kept
  // activation scales the checkpoint format cannot express: prefer it.
  if (fs::is_directory(path) && fs::exists(path / "model.json"))
    path /= "model.json";
  if (fs::is_directory(path) || path.extension() == ".json") {
    const bool directory = fs::is_directory(path);
    ModelDescription description = directory
                                       ? describeCheckpoint(path.string())
                                       : parseModelDescription(path.string());
    BuildOptions options;
    options.checkpointPath =
        directory ? path.string()
                  : resolveCheckpointPath(description, path.string());
    if (!target.empty())
      options.target = target;
    if (fs::exists(fs::path(options.checkpointPath) / "config.json"))
      loaded.checkpoint = options.checkpointPath;
    loaded.module = buildModule(context, description, options);
    // The weights the model names must be in its checkpoint with the shapes
    // the model expects: checked from the headers, before any work.
    if (loaded.module && !loaded.checkpoint.empty())
      checkCheckpointHeaders(*loaded.module, loaded.checkpoint);
    return loaded;
  }
  std::string error;
  auto file = mlir::openInputFile(path.string(), &error);
  if (!file)
    throw Error(input + ": " + error);
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  loaded.module = mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &context);
  return loaded;
}

namespace {
mlir::DialectRegistry modelDialects() {
  mlir::DialectRegistry registry;
  registry.insert<mlir::awq::AwqDialect, mlir::func::FuncDialect>();
  return registry;
}
} // namespace

ModelSession::ModelSession()
    : context_(modelDialects()), diagnosticStream_(diagnostics_),
      handler_(sourceMgr_, &context_, diagnosticStream_) {
  context_.loadAllAvailableDialects();
  // Diagnostics name the op and its location; the whole module is noise.
  context_.printOpOnDiagnostic(false);
}

std::string resolveTarget(mlir::ModuleOp module, const std::string &requested) {
  if (!requested.empty())
    return requested;
  mlir::Attribute attr =
      module->getAttr(mlir::awq::AwqDialect::getTargetAttrName());
  if (auto target = mlir::dyn_cast_or_null<mlir::awq::TargetAttr>(attr))
    return target.getName().str();
  if (auto name = mlir::dyn_cast_or_null<mlir::StringAttr>(attr))
    return name.str();
  return kDefaultTarget;
}

} // namespace awq
