//===- Report.h - The kernel report as tables and as JSON -----------------===//
#ifndef AWQ_COMPILER_KERNELSTATS_REPORT_H
#define AWQ_COMPILER_KERNELSTATS_REPORT_H

#include "compiler/kernelstats/KernelStats.h"

#include <nlohmann/json.hpp>

#include <ostream>
#include <vector>

namespace awq {

/// One object per row body of `stats` ("kind": "kernel"): at least family,
/// rows, bits, arch and instructions_per_weight (null when the body has no
/// loop).
std::vector<nlohmann::json> reportJson(const KernelStats &stats);

/// The tables for people: resources and counts per kernel and row body, the
/// loads of each main loop, and the bandwidth estimates.
void printReport(const std::vector<KernelStats> &all, std::ostream &out);

/// One object per layer, target and row count M ("kind": "rows"): layer,
/// arch, m, kernel, family, the row body of each pass, instructions per
/// weight and per extra row (null where not counted).
std::vector<nlohmann::json>
rowsCostJson(const std::vector<LayerRowsCost> &costs);

/// The table of the layers' costs by rows M.
void printRowsCost(const std::vector<LayerRowsCost> &costs, std::ostream &out);

} // namespace awq

#endif // AWQ_COMPILER_KERNELSTATS_REPORT_H
