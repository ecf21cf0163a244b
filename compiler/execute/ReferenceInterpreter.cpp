//===- ReferenceInterpreter.cpp - Execute awq IR functions on the CPU -----===//
#include "compiler/execute/ReferenceInterpreter.h"

#include "compiler/reference/Reference.h"
#include "dialects/awq/AwqDialect.h"
#include "dialects/awq/KernelSchedules.h"
#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include "llvm/ADT/DenseMap.h"

#include <cmath>

namespace ir = mlir::awq;

namespace awq {
namespace {

/// The activation type of a tensor value: its element type (f16 or bf16).
ActivationType typeOf(mlir::Value value) {
  return ir::activationTypeOf(
      mlir::cast<mlir::RankedTensorType>(value.getType()).getElementType());
}

/// `value` rounded to the nearest `type` number, as a kernel stores it.
double roundTo(double value, ActivationType type) {
  return elementToFloat(floatToElement(static_cast<float>(value), type), type);
}

Activation makeActivation(int64_t rows, int64_t cols) {
  Activation result;
  result.rows = rows;
  result.cols = cols;
  result.data.assign(static_cast<size_t>(rows * cols), 0.0);
  return result;
}

void roundAll(Activation &value, ActivationType type) {
  for (double &v : value.data)
    v = roundTo(v, type);
}

std::vector<uint16_t> toBits(const Activation &value, ActivationType type) {
  std::vector<uint16_t> bits(value.data.size());
  for (size_t i = 0; i < bits.size(); ++i)
    bits[i] = floatToElement(static_cast<float>(value.data[i]), type);
  return bits;
}

std::vector<double> bitsToDoubles(const std::vector<uint16_t> &bits,
                                  ActivationType type) {
  std::vector<double> result(bits.size());
  for (size_t i = 0; i < bits.size(); ++i)
    result[i] = elementToFloat(bits[i], type);
  return result;
}

/// The values of a parameter vector (f16 or bf16 bits of `value`'s type);
/// empty for a null value.
std::vector<double> paramValues(WeightEvaluator &weights, mlir::Value value) {
  if (!value)
    return {};
  return bitsToDoubles(weights.vector(value), typeOf(value));
}

double silu(double g) { return g / (1.0 + std::exp(-g)); }

std::string opName(mlir::Operation *op) {
  return "'" + op->getName().getStringRef().str() + "'";
}

/// The linear-like semantics shared by awq.linear and the kernel ops.
Activation linearReference(const Activation &x, const QuantizedLinear &layer,
                           const std::vector<uint16_t> &actScale,
                           const Activation *residual, bool siluMul) {
  // The layer's type is that of its scales, bias, activations and output.
  const ActivationType type = layer.activation;
  std::vector<double> t =
      referenceLinear(toBits(x, type), x.rows, layer, actScale);
  const int64_t nOut = siluMul ? layer.n / 2 : layer.n;
  Activation y = makeActivation(x.rows, nOut);
  for (int64_t m = 0; m < x.rows; ++m)
    for (int64_t j = 0; j < nOut; ++j) {
      double value =
          siluMul ? silu(t[m * layer.n + 2 * j]) * t[m * layer.n + 2 * j + 1]
                  : t[m * layer.n + j];
      if (residual)
        value += residual->data[m * nOut + j];
      y.data[m * nOut + j] = value;
    }
  roundAll(y, type);
  return y;
}

} // namespace

std::vector<Activation>
ReferenceInterpreter::run(mlir::func::FuncOp function,
                          const std::vector<Activation> &arguments) {
  if (function.getNumArguments() != arguments.size())
    throw Error("@" + function.getName().str() + " takes " +
                std::to_string(function.getNumArguments()) +
                " arguments, got " + std::to_string(arguments.size()));
  llvm::DenseMap<mlir::Value, Activation> values;
  for (auto [argument, value] : llvm::zip(function.getArguments(), arguments)) {
    auto type = mlir::dyn_cast<mlir::RankedTensorType>(argument.getType());
    if (type && type.getRank() == 2) {
      if (type.getDimSize(1) != value.cols)
        throw Error("@" + function.getName().str() + ": argument #" +
                    std::to_string(argument.getArgNumber()) + " needs " +
                    std::to_string(type.getDimSize(1)) + " columns");
      values[argument] = value;
    }
  }
  auto get = [&](mlir::Value value) -> const Activation & {
    auto it = values.find(value);
    if (it == values.end())
      throw Error("an activation used before it was computed");
    return it->second;
  };
  auto getOptional = [&](mlir::Value value) -> const Activation * {
    return value ? &get(value) : nullptr;
  };
  auto vectorOf = [&](mlir::Value value) -> std::vector<uint16_t> {
    return value ? weights.vector(value) : std::vector<uint16_t>();
  };
  auto valuesOf = [&](mlir::Value value) {
    return paramValues(weights, value);
  };

  std::vector<Activation> results;
  for (mlir::Operation &operation : function.getBody().front()) {
    mlir::Operation *op = &operation;
    if (auto ret = mlir::dyn_cast<mlir::func::ReturnOp>(op)) {
      for (mlir::Value value : ret.getOperands())
        results.push_back(get(value));
      break;
    }
    // Weight and parameter transforms are evaluated lazily by the
    // WeightEvaluator when an activation op needs them.
    if (mlir::isa<ir::ExternalOp, ir::VectorMulOp, ir::ScaleOutputChannelsOp,
                  ir::FoldZeroPointsOp, ir::ConcatWeightsOp,
                  ir::ConcatVectorsOp, ir::RepackOp, ir::DequantizeOp>(op))
      continue;
    if (auto norm = mlir::dyn_cast<ir::RMSNormOp>(op)) {
      const Activation &x = get(norm.getInput());
      std::vector<double> w = valuesOf(norm.getWeight());
      Activation y = makeActivation(x.rows, x.cols);
      for (int64_t m = 0; m < x.rows; ++m) {
        double sum = 0;
        for (int64_t k = 0; k < x.cols; ++k)
          sum += x.data[m * x.cols + k] * x.data[m * x.cols + k];
        double inv =
            1.0 / std::sqrt(sum / x.cols + norm.getEpsilon().convertToDouble());
        for (int64_t k = 0; k < x.cols; ++k)
          y.data[m * x.cols + k] = x.data[m * x.cols + k] * inv * w[k];
      }
      roundAll(y, typeOf(norm.getResult()));
      values[norm.getResult()] = std::move(y);
    } else if (auto norm = mlir::dyn_cast<ir::LayerNormOp>(op)) {
      const Activation &x = get(norm.getInput());
      std::vector<double> w = valuesOf(norm.getWeight());
      std::vector<double> b = valuesOf(norm.getBias());
      Activation y = makeActivation(x.rows, x.cols);
      for (int64_t m = 0; m < x.rows; ++m) {
        double mean = 0, var = 0;
        for (int64_t k = 0; k < x.cols; ++k)
          mean += x.data[m * x.cols + k];
        mean /= x.cols;
        for (int64_t k = 0; k < x.cols; ++k)
          var +=
              (x.data[m * x.cols + k] - mean) * (x.data[m * x.cols + k] - mean);
        double inv =
            1.0 / std::sqrt(var / x.cols + norm.getEpsilon().convertToDouble());
        for (int64_t k = 0; k < x.cols; ++k)
          y.data[m * x.cols + k] =
              (x.data[m * x.cols + k] - mean) * inv * w[k] +
              (b.empty() ? 0.0 : b[k]);
      }
      roundAll(y, typeOf(norm.getResult()));
      values[norm.getResult()] = std::move(y);
    } else if (auto linear = mlir::dyn_cast<ir::LinearOp>(op)) {
      QuantizedLinear layer = weights.quantized(linear.getWeight());
      layer.bias = vectorOf(linear.getBias());
      values[linear.getResult()] = linearReference(
          get(linear.getInput()), layer, vectorOf(linear.getActScale()),
          getOptional(linear.getResidual()),
          linear.getEpilogue() == ir::Epilogue::silu_mul);
    } else if (mlir::isa<ir::GemvKernelOp, ir::GemmKernelOp>(op)) {
      ir::KernelOperands operands = ir::getKernelOperands(op);
      std::string kernelName = operands.kernelName.str();
      mlir::Value input = operands.input, weight = operands.weight;
      mlir::Value bias = operands.bias, actScale = operands.actScale,
                  residual = operands.residual;
      bool siluMul = operands.epilogue == ir::Epilogue::silu_mul;
      QuantizedLinear layer = weights.quantized(weight);
      layer.bias = vectorOf(bias);
      const Activation &x = get(input);
      if (runner) {
        KernelData data;
        data.layer = &layer;
        data.weights = &weights.packed(weight);
        data.actScale = vectorOf(actScale);
        const ActivationType type = typeOf(input);
        std::vector<uint16_t> y = runner->execute(
            kernelName, data, toBits(x, type),
            residual ? toBits(get(residual), type) : std::vector<uint16_t>(),
            x.rows);
        Activation out;
        out.rows = x.rows;
        out.cols = siluMul ? layer.n / 2 : layer.n;
        out.data = bitsToDoubles(y, type);
        values[op->getResult(0)] = std::move(out);
      } else {
        values[op->getResult(0)] = linearReference(
            x, layer, vectorOf(actScale), getOptional(residual), siluMul);
      }
    } else if (auto select = mlir::dyn_cast<ir::SelectByRowsOp>(op)) {
      const Activation &x = get(select.getInput());
      values[select.getResult()] =
          get(x.rows < static_cast<int64_t>(select.getGemmMinM())
                  ? select.getSmall()
                  : select.getLarge());
    } else if (auto siluMul = mlir::dyn_cast<ir::SiluMulOp>(op)) {
      const Activation &g = get(siluMul.getGate()), &u = get(siluMul.getUp());
      Activation y = makeActivation(g.rows, g.cols);
      for (size_t i = 0; i < y.data.size(); ++i)
        y.data[i] = silu(g.data[i]) * u.data[i];
      roundAll(y, typeOf(siluMul.getResult()));
      values[siluMul.getResult()] = std::move(y);
    } else if (auto add = mlir::dyn_cast<ir::AddOp>(op)) {
      const Activation &a = get(add.getLhs()), &b = get(add.getRhs());
      Activation y = makeActivation(a.rows, a.cols);
      for (size_t i = 0; i < y.data.size(); ++i)
        y.data[i] = a.data[i] + b.data[i];
      roundAll(y, typeOf(add.getResult()));
      values[add.getResult()] = std::move(y);
    } else if (auto split = mlir::dyn_cast<ir::SplitOp>(op)) {
      const Activation &x = get(split.getInput());
      int64_t offset = 0;
      for (mlir::Value part : split.getResults()) {
        int64_t cols =
            mlir::cast<mlir::RankedTensorType>(part.getType()).getDimSize(1);
        Activation y = makeActivation(x.rows, cols);
        for (int64_t m = 0; m < x.rows; ++m)
          for (int64_t c = 0; c < cols; ++c)
            y.data[m * cols + c] = x.data[m * x.cols + offset + c];
        offset += cols;
        values[part] = std::move(y);
      }
    } else if (auto scale = mlir::dyn_cast<ir::ScaleActivationOp>(op)) {
      const Activation &x = get(scale.getInput());
      std::vector<double> s = valuesOf(scale.getScale());
      Activation y = makeActivation(x.rows, x.cols);
      for (int64_t m = 0; m < x.rows; ++m)
        for (int64_t k = 0; k < x.cols; ++k)
          y.data[m * x.cols + k] = x.data[m * x.cols + k] * s[k];
      roundAll(y, typeOf(scale.getResult()));
      values[scale.getResult()] = std::move(y);
    } else if (auto matmul = mlir::dyn_cast<ir::MatmulOp>(op)) {
      auto dequant = matmul.getWeight().getDefiningOp<ir::DequantizeOp>();
      if (!dequant)
        throw Error("awq.matmul can only be interpreted on an awq.dequantize "
                    "result");
      const QuantizedLinear &layer = weights.quantized(dequant.getWeight());
      values[matmul.getResult()] =
          linearReference(get(matmul.getInput()), layer, {}, nullptr, false);
    } else {
      throw Error("cannot interpret " + opName(op));
    }
  }
  return results;
}

double relativeError(const std::vector<Activation> &got,
                     const std::vector<Activation> &want) {
  if (got.size() != want.size())
    throw Error("different numbers of outputs");
  double diff = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i].data.size() != want[i].data.size())
      throw Error("output #" + std::to_string(i) + " has a different shape");
    for (size_t j = 0; j < got[i].data.size(); ++j) {
      double d = got[i].data[j] - want[i].data[j];
      if (!std::isfinite(got[i].data[j]))
        return INFINITY;
      diff += d * d;
      norm += want[i].data[j] * want[i].data[j];
    }
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

} // namespace awq
