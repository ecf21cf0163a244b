//===- QuantizeReport.h - The per-layer report of awqc quantize -----------===//
//
// The same figures two ways: a fixed-width table for people (stdout) and a
// JSON document for scripts (--report). Errors are output mean squared
// errors on the calibration tokens; "relative" divides by the mean square of
// the FP16 output, so layers of different magnitude compare.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_QUANTIZE_QUANTIZEREPORT_H
#define AWQ_COMPILER_QUANTIZE_QUANTIZEREPORT_H

#include "compiler/quantize/QuantizeModel.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>

namespace awq {

/// The version of the JSON report's schema.
constexpr int kQuantizeReportVersion = 1;

struct QuantizeSummary {
  size_t layers = 0;
  /// Layers whose AWQ error is strictly below their RTN error.
  size_t awqBelowRtn = 0;
  /// Means over layers of error / outputMeanSquare.
  double meanRelativeRtn = 0.0;
  double meanRelativeAwq = 0.0;
  /// Sums over layers of the absolute errors.
  double totalRtn = 0.0;
  double totalAwq = 0.0;
};

QuantizeSummary summarize(const ModelQuantizeResult &result);

/// "4-bit, group 128, zero point, awq (duo scales, asymmetric clip)".
std::string describeSettings(const ModelQuantizeResult &result);

/// The human-readable report: one row per layer, then a summary.
std::string formatReportTable(const ModelQuantizeResult &result);

/// The machine-readable report ("awqc_quantize_report": 1). Non-finite
/// numbers are written as null.
nlohmann::json reportToJson(const ModelQuantizeResult &result);

} // namespace awq

#endif // AWQ_COMPILER_QUANTIZE_QUANTIZEREPORT_H
