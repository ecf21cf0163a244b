//===- ModelBuilder.cpp - awq IR from a model description -----------------===//
#include "compiler/builder/ModelBuilder.h"

#include "runtime/kernels/KernelPlan.h"

#include "dialects/awq/AwqDialect.h"
#include "runtime/support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include <map>

using namespace mlir;
namespace ir = mlir::awq;

namespace awq {
namespace {

class Builder {
public:
  Builder(MLIRContext &context, const ModelDescription &description,
          const BuildOptions &options)
      : context(context), description(description), options(options),
        builder(&context), loc(builder.getUnknownLoc()) {}

  OwningOpRef<ModuleOp> build();

private:
  /// The description's dtype: activations and every 16-bit parameter.
  Type elementType() {
    return description.activation == ActivationType::BF16
               ? Type(builder.getBF16Type())
               : Type(builder.getF16Type());
  }
  RankedTensorType activationType(int64_t cols) {
    return RankedTensorType::get({ShapedType::kDynamic, cols}, elementType());
  }
  RankedTensorType vectorType(int64_t length) {
    return RankedTensorType::get({length}, elementType());
  }

  /// An argument of @forward standing for an activation computed outside.
  Value argument(const std::string &name, int64_t cols);
  Value external(const std::string &tensor, Type type);
  ir::QWeightType weightType(const LayerDescription &layer);
  Value inputOfGroup(const InputGroup &group, int64_t k);
  Value linear(const LayerDescription &layer);

  MLIRContext &context;
  const ModelDescription &description;
  const BuildOptions &options;
  OpBuilder builder;
  Location loc;
  func::FuncOp forward;
  std::vector<std::pair<std::string, Type>> argumentNames;
  std::map<std::string, Value> arguments;
  std::map<std::string, Value> groupInputs;
  std::map<std::string, Value> layerOutputs;
  std::map<std::string, Value> externals;
};

Value Builder::argument(const std::string &name, int64_t cols) {
  auto it = arguments.find(name);
  if (it != arguments.end()) {
    if (cast<RankedTensorType>(it->second.getType()).getDimSize(1) != cols)
      throw Error(
          description.name + ": activation '" + name + "' is used with " +
          std::to_string(cols) + " columns and with " +
          std::to_string(
              cast<RankedTensorType>(it->second.getType()).getDimSize(1)));
    return it->second;
  }
  Block &entry = forward.getBody().front();
  Value value = entry.addArgument(activationType(cols), loc);
  arguments[name] = value;
  argumentNames.emplace_back(name, value.getType());
  return value;
}

Value Builder::external(const std::string &tensor, Type type) {
  // One value per tensor, so ops that share a tensor share its value.
  Value &value = externals[tensor];
  if (value) {
    if (value.getType() != type)
      throw Error(description.name + ": tensor '" + tensor +
                  "' is used with two different types");
    return value;
  }
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(&forward.getBody().front());
  return value = ir::ExternalOp::create(
             builder, loc, type, builder.getStringAttr(tensor),
             options.checkpointPath.empty()
                 ? StringAttr()
                 : builder.getStringAttr(options.checkpointPath));
}

ir::QWeightType Builder::weightType(const LayerDescription &layer) {
  QuantParams params = layer.params();
  std::string message;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    message = diag.str();
    return success();
  });
  auto type = ir::QWeightType::getChecked(
      [&] { return emitError(loc); }, &context, layer.k, layer.n,
      static_cast<unsigned>(params.bits), params.groupSize,
      params.zeroPoint ? ir::ZeroMode::zero_point : ir::ZeroMode::symmetric,
      ir::Layout::autoawq_gemm);
  if (!type)
    throw Error(description.name + ": layer '" + layer.name + "': " + message);
  return type;
}

Value Builder::inputOfGroup(const InputGroup &group, int64_t k) {
  auto it = groupInputs.find(group.name);
  if (it != groupInputs.end())
    return it->second;
  Value input;
  const Producer &producer = group.producer;
  switch (producer.kind) {
  case ProducerKind::RmsNorm:
  case ProducerKind::LayerNorm: {
    Value normInput = argument(group.name + ".norm_input", k);
    Value weight = external(producer.weight, vectorType(k));
    auto epsilon =
        builder.getF32FloatAttr(static_cast<float>(producer.epsilon));
    if (producer.kind == ProducerKind::RmsNorm) {
      input = ir::RMSNormOp::create(builder, loc, normInput.getType(),
                                    normInput, weight, epsilon);
    } else {
      Value bias = producer.bias.empty()
                       ? Value()
                       : external(producer.bias, vectorType(k));
      input = ir::LayerNormOp::create(builder, loc, normInput.getType(),
                                      normInput, weight, bias, epsilon);
    }
    break;
  }
  case ProducerKind::Linear: {
    const LayerDescription *producerLayer =
        description.findLayer(producer.name);
    if (!producerLayer)
      throw Error(description.name + ": input group '" + group.name +
                  "' is produced by unknown layer '" + producer.name + "'");
    input = linear(*producerLayer);
    break;
  }
  case ProducerKind::Activation:
    if (producer.name == "silu_mul" && producer.inputs.size() == 2) {
      const LayerDescription *gate = description.findLayer(producer.inputs[0]);
      const LayerDescription *up = description.findLayer(producer.inputs[1]);
      if (gate && up && gate->epilogue.kind == EpilogueKind::SiluMul &&
          gate->epilogue.role == SiluMulRole::Up)
        std::swap(gate, up);
      if (gate && up) {
        Value g = linear(*gate), u = linear(*up);
        input = ir::SiluMulOp::create(builder, loc, g.getType(), g, u);
        break;
      }
    }
    // Attention and other activations are computed outside awqc.
    input = argument(group.name, k);
    break;
  case ProducerKind::Embedding:
  case ProducerKind::Input:
    input = argument(group.name, k);
    break;
  }
  groupInputs[group.name] = input;
  return input;
}

Value Builder::linear(const LayerDescription &layer) {
  auto it = layerOutputs.find(layer.name);
  if (it != layerOutputs.end())
    return it->second;
  const InputGroup *group = description.findInputGroup(layer.inputGroup);
  if (!group)
    throw Error(description.name + ": layer '" + layer.name +
                "' reads unknown input group '" + layer.inputGroup + "'");
  Value input = inputOfGroup(*group, layer.k);
  Value weight = external(layer.weights, weightType(layer));
  Value bias = layer.bias
                   ? external(layer.weights + ".bias", vectorType(layer.n))
                   : Value();
  Value actScale = group->activationScale.empty()
                       ? Value()
                       : external(group->activationScale, vectorType(layer.k));
  Value output = ir::LinearOp::create(
      builder, loc, activationType(layer.n), input, weight, bias, actScale,
      /*residual=*/Value(), ir::Epilogue::none, /*gemv=*/nullptr,
      /*gemm=*/nullptr, /*gemm_min_m=*/nullptr);
  output.getDefiningOp()->setAttr(ir::AwqDialect::getNameAttrName(),
                                  builder.getStringAttr(layer.name));
  if (layer.epilogue.kind == EpilogueKind::ResidualAdd) {
    Value residual = argument(layer.epilogue.residual, layer.n);
    output =
        ir::AddOp::create(builder, loc, output.getType(), output, residual);
  }
  layerOutputs[layer.name] = output;
  return output;
}

OwningOpRef<ModuleOp> Builder::build() {
  context.loadDialect<ir::AwqDialect, func::FuncDialect>();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  // A known target becomes #awq.target; an unknown name is kept for the
  // kernel selection pass to report.
  if (std::optional<::awq::Target> target = ::awq::parseTarget(options.target))
    (*module)->setAttr(ir::AwqDialect::getTargetAttrName(),
                       ir::TargetAttr::get(builder.getContext(), options.target,
                                           target->arch->smCount));
  else
    (*module)->setAttr(ir::AwqDialect::getTargetAttrName(),
                       builder.getStringAttr(options.target));
  if (!description.name.empty())
    (*module)->setAttr(ir::AwqDialect::getModelAttrName(),
                       builder.getStringAttr(description.name));
  builder.setInsertionPointToEnd(module->getBody());
  forward = func::FuncOp::create(builder, loc, "forward",
                                 builder.getFunctionType({}, {}));
  builder.setInsertionPointToStart(forward.addEntryBlock());

  for (const LayerDescription &layer : description.layers)
    linear(layer);

  // Results: the outputs no op inside reads, in description order.
  SmallVector<Value> results;
  SmallVector<Attribute> resultNames;
  for (const LayerDescription &layer : description.layers) {
    Value output = layerOutputs[layer.name];
    if (!output.use_empty())
      continue;
    results.push_back(output);
    resultNames.push_back(builder.getDictionaryAttr(builder.getNamedAttr(
        ir::AwqDialect::getNameAttrName(), builder.getStringAttr(layer.name))));
  }
  func::ReturnOp::create(builder, loc, results);

  SmallVector<Type> inputTypes;
  SmallVector<Attribute> argumentAttrs;
  for (auto &[name, type] : argumentNames) {
    inputTypes.push_back(type);
    argumentAttrs.push_back(builder.getDictionaryAttr(builder.getNamedAttr(
        ir::AwqDialect::getNameAttrName(), builder.getStringAttr(name))));
  }
  SmallVector<Type> resultTypes;
  for (Value result : results)
    resultTypes.push_back(result.getType());
  forward.setFunctionType(builder.getFunctionType(inputTypes, resultTypes));
  forward.setAllArgAttrs(argumentAttrs);
  forward.setAllResultAttrs(resultNames);

  std::string message;
  {
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      message += diag.str() + "\n";
      return success();
    });
    if (failed(verify(*module)))
      throw Error(description.name + ": the built IR does not verify:\n" +
                  message);
  }
  return module;
}

} // namespace

OwningOpRef<ModuleOp> buildModule(MLIRContext &context,
                                  const ModelDescription &description,
                                  const BuildOptions &options) {
  return Builder(context, description, options).build();
}

} // namespace awq
