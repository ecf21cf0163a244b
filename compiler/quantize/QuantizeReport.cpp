//===- QuantizeReport.cpp - The per-layer report of awqc quantize ---------===//

#include "compiler/quantize/QuantizeReport.h"

#include "compiler/quantize/QuantizeRecordJson.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

namespace awq {

using nlohmann::json;

namespace {

double relative(double error, double outputMeanSquare) {
  return outputMeanSquare > 0 ? error / outputMeanSquare : 0.0;
}

json number(double value) { return doubleToJson(value, RecordStyle::Readable); }

std::string format(const char *spec, double value) {
  if (!std::isfinite(value))
    return "-";
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), spec, value);
  return buffer;
}

/// What the table calls the method's own error (the RTN method keeps the
/// AWQ column, equal to RTN's, so its table reads as the baseline).
const char *errorLabel(QuantizeMethod method) {
  switch (method) {
  case QuantizeMethod::Gptq:
    return "GPTQ";
  case QuantizeMethod::AwqGptq:
    return "AWQ+GPTQ";
  case QuantizeMethod::Awq:
  case QuantizeMethod::Rtn:
    break;
  }
  return "AWQ";
}

const char *formulaName(ScaleFormula formula) {
  return formula == ScaleFormula::Duo ? "duo" : "activation";
}

std::string padRight(const std::string &text, size_t width) {
  return text.size() >= width ? text
                              : text + std::string(width - text.size(), ' ');
}

std::string padLeft(const std::string &text, size_t width) {
  return text.size() >= width ? text
                              : std::string(width - text.size(), ' ') + text;
}

} // namespace

QuantizeSummary summarize(const ModelQuantizeResult &result) {
  QuantizeSummary summary;
  summary.layers = result.layers.size();
  for (const LayerQuantReport &layer : result.layers) {
    summary.awqBelowRtn += layer.awqError < layer.rtnError ? 1 : 0;
    summary.meanRelativeRtn += relative(layer.rtnError, layer.outputMeanSquare);
    summary.meanRelativeAwq += relative(layer.awqError, layer.outputMeanSquare);
    summary.totalRtn += layer.rtnError;
    summary.totalAwq += layer.awqError;
  }
  if (summary.layers > 0) {
    summary.meanRelativeRtn /= double(summary.layers);
    summary.meanRelativeAwq /= double(summary.layers);
  }
  return summary;
}

std::string describeSettings(const ModelQuantizeResult &result) {
  std::set<int> widths;
  std::set<int64_t> groupSizes;
  for (const LayerQuantReport &layer : result.layers) {
    widths.insert(layer.bits);
    groupSizes.insert(layer.groupSize);
  }
  if (widths.empty())
    widths.insert(result.settings.bits);
  if (groupSizes.empty())
    groupSizes.insert(result.settings.groupSize);
  std::ostringstream out;
  if (widths.size() > 1)
    out << "mixed ";
  for (auto it = widths.begin(); it != widths.end(); ++it)
    out << (it == widths.begin() ? "" : "/") << *it;
  out << "-bit";
  if (result.mixedPrecision)
    out << " (target " << format("%g", result.mixedPrecision->targetBits)
        << ", " << format("%.3f", result.mixedPrecision->averageBits)
        << " bits per weight)";
  out << ", ";
  if (groupSizes.size() > 1) {
    out << "groups ";
    for (auto it = groupSizes.begin(); it != groupSizes.end(); ++it)
      out << (it == groupSizes.begin() ? "" : "/")
          << (*it == -1 ? std::string("per-column") : std::to_string(*it));
  } else if (*groupSizes.begin() == -1) {
    out << "one group per column";
  } else {
    out << "group " << *groupSizes.begin();
  }
  out << ", " << (result.settings.zeroPoint ? "zero point" : "symmetric")
      << ", " << methodName(result.method);
  if (result.method == QuantizeMethod::Awq) {
    out << " (" << formulaName(result.formula) << " scales"
        << (!result.clip ? ", no clip"
            : result.clipSearch == ClipSearchKind::AutoAwq
                ? ", clip"
                : ", " + std::string(clipSearchName(result.clipSearch)) +
                      " clip")
        << (result.foldOnly ? ", fold only" : "") << ")";
  } else if (result.method == QuantizeMethod::AwqGptq) {
    out << " (" << formulaName(result.formula) << " scales"
        << (!result.clip ? ", no clip"
            : result.clipSearch == ClipSearchKind::AutoAwq
                ? ", clip"
                : ", " + std::string(clipSearchName(result.clipSearch)) +
                      " clip")
        << (result.foldOnly ? ", fold only" : "")
        << (result.actOrder ? ", act order" : "") << ")";
  } else if (result.method == QuantizeMethod::Gptq && result.actOrder) {
    out << " (act order)";
  }
  return out.str();
}

std::string formatReportTable(const ModelQuantizeResult &result) {
  size_t nameWidth = 5;
  for (const LayerQuantReport &layer : result.layers)
    nameWidth = std::max(nameWidth, layer.name.size());
  std::map<std::string, const GroupQuantReport *> groups;
  for (const GroupQuantReport &group : result.groups)
    groups[group.name] = &group;

  // Layers with their own settings: bits, group size and method columns.
  bool perLayer = result.mixed;
  for (const LayerQuantReport &layer : result.layers)
    perLayer = perLayer || layer.method != result.method;
  const std::string label = errorLabel(result.method);
  std::ostringstream out;
  out << "awqc quantize: " << describeSettings(result) << "\n";
  out << padRight("layer", nameWidth) << "  " << padLeft("K x N", 11) << "  ";
  if (perLayer)
    out << padLeft("bits", 4) << "  " << padLeft("group", 5) << "  "
        << padRight("method", 8) << "  ";
  out << padLeft("RTN mse", 10) << "  " << padLeft(label + " mse", 12) << "  "
      << padLeft(label + "/RTN", 12) << "  " << padLeft("ratio", 5) << "  "
      << padLeft("clipped", 7) << "  "
      << "1/s folded into\n";
  for (const LayerQuantReport &layer : result.layers) {
    const GroupQuantReport *group = groups.at(layer.group);
    std::string fold;
    switch (group->destination) {
    case ScaleDestination::None:
      fold = "-";
      break;
    case ScaleDestination::NormWeight:
      fold = group->target;
      break;
    case ScaleDestination::LinearRows:
      fold = group->target + " rows";
      break;
    case ScaleDestination::ActivationScale:
      fold = "activation scale " + group->target;
      break;
    }
    const std::string clipped =
        layer.clip.searched && layer.clip.groups > 0
            ? format("%.1f%%", 100.0 * double(layer.clip.clippedGroups) /
                                   double(layer.clip.groups))
            : "-";
    out << padRight(layer.name, nameWidth) << "  "
        << padLeft(std::to_string(layer.k) + "x" + std::to_string(layer.n), 11)
        << "  ";
    if (perLayer)
      out << padLeft(std::to_string(layer.bits), 4) << "  "
          << padLeft(std::to_string(layer.groupSize), 5) << "  "
          << padRight(methodName(layer.method), 8) << "  ";
    out << padLeft(format("%.3e", layer.rtnError), 10) << "  "
        << padLeft(format("%.3e", layer.awqError), 12) << "  "
        << padLeft(layer.rtnError > 0
                       ? format("%.3f", layer.awqError / layer.rtnError)
                       : "-",
                   12)
        << "  "
        << padLeft(group->scaleSearched ? format("%.2f", layer.ratio) : "-", 5)
        << "  " << padLeft(clipped, 7) << "  " << fold << "\n";
  }
  const QuantizeSummary summary = summarize(result);
  out << "summary: " << summary.layers << " layers; " << label << " < RTN on "
      << summary.awqBelowRtn << "/" << summary.layers
      << " layers; mean relative error RTN "
      << format("%.3e", summary.meanRelativeRtn) << ", " << label << " "
      << format("%.3e", summary.meanRelativeAwq);
  if (summary.meanRelativeRtn > 0)
    out << " ("
        << format("%.3f", summary.meanRelativeAwq / summary.meanRelativeRtn)
        << "x)";
  out << "\n";
  if (result.mixedPrecision) {
    const MixedPrecisionReport &mixed = *result.mixedPrecision;
    out << "target bits: " << format("%g", mixed.targetBits) << "; chose";
    for (const GroupQuantReport &group : result.groups)
      out << " " << group.name << "=" << group.settings.bits;
    out << "; " << format("%.3f", mixed.averageBits)
        << " bits per weight (codes only; scales and zeros not counted), "
           "predicted relative error sum "
        << format("%.3e", mixed.predictedError) << ", measured in "
        << format("%.1f", mixed.measureSeconds) << " s\n";
  }
  return out.str();
}

json reportToJson(const ModelQuantizeResult &result) {
  json report = json::object();
  report["awqc_quantize_report"] = kQuantizeReportVersion;
  report["model"] = result.model;
  report["calibration"] = result.calibration;
  report["output"] = result.output;
  report["settings"] = {
      {"bits", result.settings.bits},
      {"group_size", result.settings.groupSize},
      {"zero_point", result.settings.zeroPoint},
      {"method", methodName(result.method)},
      {"scale_formula", formulaName(result.formula)},
      {"clip", result.clip},
      {"clip_search", clipSearchName(result.clipSearch)},
      {"scale_screen_rows", result.scaleScreenRows},
      {"scale_search", result.gptqAwareScales ? "gptq" : "rtn"},
      {"fold_only", result.foldOnly},
      {"act_order", result.actOrder},
      {"mixed", result.mixed}};
  if (result.mixedPrecision)
    report["mixed_precision"] = {
        {"target_bits", result.mixedPrecision->targetBits},
        {"average_bits", result.mixedPrecision->averageBits},
        {"counts", "code bits per weight; scales and zeros not counted"},
        {"predicted_error", number(result.mixedPrecision->predictedError)},
        {"measure_seconds", result.mixedPrecision->measureSeconds}};
  json groups = json::array();
  for (const GroupQuantReport &group : result.groups) {
    json losses = json::array();
    for (double loss : group.ratioLosses)
      losses.push_back(number(loss));
    json widthErrors = json::object();
    for (const auto &[bits, error] : group.widthErrors)
      widthErrors[std::to_string(bits)] = number(error);
    json gptqLosses = json::array();
    for (double loss : group.gptqRatioLosses)
      gptqLosses.push_back(number(loss));
    json finalistLosses = json::array();
    for (double loss : group.finalistLosses)
      finalistLosses.push_back(number(loss));
    groups.push_back(
        {{"name", group.name},
         {"layers", group.layers},
         {"bits", group.settings.bits},
         {"group_size", group.settings.groupSize},
         {"method", methodName(group.method)},
         {"width_errors", widthErrors},
         {"k", group.k},
         {"tokens", group.tokens},
         {"scale_searched", group.scaleSearched},
         {"ratio", group.ratio},
         {"ratio_losses", losses},
         {"ratio_screen_rows", group.scaleScreenRows},
         {"finalist_ratios", group.finalistRatios},
         {"finalist_losses", finalistLosses},
         {"gptq_ratios", group.gptqRatios},
         {"gptq_ratio_losses", gptqLosses},
         {"scale_destination", scaleDestinationName(group.destination)},
         {"scale_target", group.target},
         {"seconds", group.seconds}});
  }
  report["groups"] = groups;
  json layers = json::array();
  for (const LayerQuantReport &layer : result.layers) {
    json entry = layerReportToJson(layer, RecordStyle::Readable);
    entry["relative_rtn_error"] =
        number(relative(layer.rtnError, layer.outputMeanSquare));
    entry["relative_awq_error"] =
        number(relative(layer.awqError, layer.outputMeanSquare));
    layers.push_back(entry);
  }
  report["layers"] = layers;
  const QuantizeSummary summary = summarize(result);
  report["summary"] = {
      {"layers", summary.layers},
      {"awq_below_rtn", summary.awqBelowRtn},
      {"mean_relative_rtn_error", number(summary.meanRelativeRtn)},
      {"mean_relative_awq_error", number(summary.meanRelativeAwq)},
      {"total_rtn_error", number(summary.totalRtn)},
      {"total_awq_error", number(summary.totalAwq)}};
  report["files"] = result.files;
  report["checkpoint_bytes"] = result.checkpointBytes;
  report["estimated_working_memory_bytes"] = result.estimatedWorkingMemory;
  report["seconds"] = result.seconds;
  return report;
}

} // namespace awq
