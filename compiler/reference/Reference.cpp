//===- Reference.cpp - Plain fp64 CPU oracle for awqc's numerics ----------===//

#include "compiler/reference/Reference.h"

#include "compiler/reference/Parallel.h"
#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include <cmath>
#include <string>

namespace awq {

namespace {

void expectSize(const char *op, const char *tensor, size_t got, size_t want,
                const std::string &shape) {
  if (got != want)
    throw Error(std::string(op) + ": " + tensor + " must have " +
                std::to_string(want) + " elements (" + shape + "), got " +
                std::to_string(got));
}

std::string dims(int64_t a, int64_t b) {
  return std::to_string(a) + "x" + std::to_string(b);
}

} // namespace

std::vector<float> halfsToFloats(const std::vector<uint16_t> &halfs) {
  std::vector<float> out(halfs.size());
  for (size_t i = 0; i < halfs.size(); ++i)
    out[i] = halfToFloat(halfs[i]);
  return out;
}

std::vector<float> dequantize(const QuantizedLinear &layer) {
  validate(layer, "dequantize");
  const int64_t k = layer.k, n = layer.n, g = layer.params.groupSize;
  const ActivationType type = layer.activation;
  std::vector<float> w(static_cast<size_t>(k * n));
  for (int64_t r = 0; r < k; ++r) {
    for (int64_t c = 0; c < n; ++c) {
      const int q = layer.q[r * n + c];
      const int z = layer.zeroAt(r / g, c);
      const float s = elementToFloat(layer.scales[(r / g) * n + c], type);
      w[r * n + c] = static_cast<float>(q - z) * s;
    }
  }
  return w;
}

std::vector<double>
referenceLinear(const std::vector<uint16_t> &x, int64_t m,
                const QuantizedLinear &layer,
                const std::vector<uint16_t> &activationScale,
                const std::vector<uint16_t> &residual, int numThreads) {
  const char *op = "referenceLinear";
  validate(layer, std::string(op) + ": layer");
  const int64_t k = layer.k, n = layer.n;
  if (m <= 0)
    throw Error(std::string(op) + ": M must be positive, got " +
                std::to_string(m));
  expectSize(op, "x", x.size(), static_cast<size_t>(m * k),
             "[M, K] = " + dims(m, k));
  if (!activationScale.empty())
    expectSize(op, "activation scale", activationScale.size(),
               static_cast<size_t>(k), "[K] = " + std::to_string(k));
  if (!residual.empty())
    expectSize(op, "residual", residual.size(), static_cast<size_t>(m * n),
               "[M, N] = " + dims(m, n));

  const ActivationType type = layer.activation;
  const std::vector<float> w = dequantize(layer);
  std::vector<double> a(static_cast<size_t>(k), 1.0);
  for (size_t i = 0; i < activationScale.size(); ++i)
    a[i] = elementToFloat(activationScale[i], type);

  std::vector<double> y(static_cast<size_t>(m * n));
  parallelFor(m, numThreads, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(static_cast<size_t>(n));
    for (int64_t row = begin; row < end; ++row) {
      for (int64_t c = 0; c < n; ++c)
        acc[c] = layer.bias.empty() ? 0.0 : elementToFloat(layer.bias[c], type);
      for (int64_t r = 0; r < k; ++r) {
        const double xa =
            static_cast<double>(elementToFloat(x[row * k + r], type)) * a[r];
        const float *wRow = &w[r * n];
        for (int64_t c = 0; c < n; ++c)
          acc[c] += xa * static_cast<double>(wRow[c]);
      }
      for (int64_t c = 0; c < n; ++c)
        y[row * n + c] =
            acc[c] + (residual.empty()
                          ? 0.0
                          : elementToFloat(residual[row * n + c], type));
    }
  });
  return y;
}

std::vector<double> referenceDenseLinear(const std::vector<float> &x, int64_t m,
                                         const std::vector<float> &weight,
                                         int64_t n,
                                         const std::vector<float> &bias,
                                         int numThreads) {
  const char *op = "referenceDenseLinear";
  if (m <= 0 || n <= 0)
    throw Error(std::string(op) + ": M and N must be positive, got " +
                dims(m, n));
  if (x.empty() || x.size() % static_cast<size_t>(m) != 0)
    throw Error(std::string(op) + ": x must have M * K elements with M = " +
                std::to_string(m) + ", got " + std::to_string(x.size()));
  const int64_t k = static_cast<int64_t>(x.size()) / m;
  expectSize(op, "weight", weight.size(), static_cast<size_t>(n * k),
             "[N, K] = " + dims(n, k));
  if (!bias.empty())
    expectSize(op, "bias", bias.size(), static_cast<size_t>(n),
               "[N] = " + std::to_string(n));

  std::vector<double> y(static_cast<size_t>(m * n));
  parallelFor(m, numThreads, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const float *xRow = &x[row * k];
      for (int64_t c = 0; c < n; ++c) {
        const float *wRow = &weight[c * k];
        double acc = bias.empty() ? 0.0 : bias[c];
        for (int64_t r = 0; r < k; ++r)
          acc += static_cast<double>(xRow[r]) * static_cast<double>(wRow[r]);
        y[row * n + c] = acc;
      }
    }
  });
  return y;
}

namespace {

/// Shared argument checks of the two norms; returns D.
int64_t checkNormArgs(const char *op, const std::vector<float> &x, int64_t rows,
                      const std::vector<float> &weight, double eps,
                      const std::vector<float> &bias) {
  const int64_t d = static_cast<int64_t>(weight.size());
  if (rows <= 0 || d <= 0)
    throw Error(std::string(op) +
                ": rows and weight size must be positive, got " +
                dims(rows, d));
  expectSize(op, "x", x.size(), static_cast<size_t>(rows * d),
             "[rows, D] = " + dims(rows, d));
  if (!bias.empty())
    expectSize(op, "bias", bias.size(), static_cast<size_t>(d),
               "[D] = " + std::to_string(d));
  if (!(eps >= 0.0))
    throw Error(std::string(op) + ": eps must be >= 0, got " +
                std::to_string(eps));
  return d;
}

} // namespace

std::vector<double> referenceRmsNorm(const std::vector<float> &x, int64_t rows,
                                     const std::vector<float> &weight,
                                     double eps,
                                     const std::vector<float> &bias) {
  const int64_t d =
      checkNormArgs("referenceRmsNorm", x, rows, weight, eps, bias);
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double sumSq = 0.0;
    for (int64_t i = 0; i < d; ++i)
      sumSq += static_cast<double>(x[r * d + i]) * x[r * d + i];
    const double inv = 1.0 / std::sqrt(sumSq / static_cast<double>(d) + eps);
    for (int64_t i = 0; i < d; ++i)
      y[r * d + i] =
          x[r * d + i] * inv * weight[i] + (bias.empty() ? 0.0 : bias[i]);
  }
  return y;
}

std::vector<double> referenceLayerNorm(const std::vector<float> &x,
                                       int64_t rows,
                                       const std::vector<float> &weight,
                                       double eps,
                                       const std::vector<float> &bias) {
  const int64_t d =
      checkNormArgs("referenceLayerNorm", x, rows, weight, eps, bias);
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0.0;
    for (int64_t i = 0; i < d; ++i)
      sum += x[r * d + i];
    const double mean = sum / static_cast<double>(d);
    // Two-pass variance: exact enough for an oracle, no cancellation.
    double sumSq = 0.0;
    for (int64_t i = 0; i < d; ++i) {
      const double c = x[r * d + i] - mean;
      sumSq += c * c;
    }
    const double inv = 1.0 / std::sqrt(sumSq / static_cast<double>(d) + eps);
    for (int64_t i = 0; i < d; ++i)
      y[r * d + i] = (x[r * d + i] - mean) * inv * weight[i] +
                     (bias.empty() ? 0.0 : bias[i]);
  }
  return y;
}

std::vector<double> referenceSiluMul(const std::vector<float> &gate,
                                     const std::vector<float> &up) {
  if (gate.size() != up.size())
    throw Error("referenceSiluMul: gate and up must have the same size, got " +
                std::to_string(gate.size()) + " and " +
                std::to_string(up.size()));
  std::vector<double> y(gate.size());
  for (size_t i = 0; i < gate.size(); ++i) {
    const double g = gate[i];
    y[i] = g / (1.0 + std::exp(-g)) * static_cast<double>(up[i]);
  }
  return y;
}

} // namespace awq
