//===- Report.cpp - The kernel report as tables and as JSON ---------------===//
#include "compiler/kernelstats/Report.h"

#include "compiler/kernelstats/GpuParts.h"

#include <iomanip>
#include <sstream>

namespace awq {

std::vector<nlohmann::json> reportJson(const KernelStats &stats) {
  using nlohmann::json;
  const LinearShape &s = stats.instance.shape;
  std::vector<json> out;
  for (const RowBody &body : stats.bodies) {
    json o;
    o["kind"] = "kernel";
    o["kernel"] = stats.name;
    o["family"] = familyName(stats.instance.family);
    o["rows"] = body.rows;
    o["bits"] = s.bits;
    o["activation"] = activationTypeName(s.activation);
    o["arch"] = stats.target;
    o["k"] = s.k;
    o["n"] = s.n;
    o["group"] = s.group;
    o["nvrtc_seconds"] = stats.nvrtcSeconds;
    o["registers"] = stats.registers;
    o["spill_store_bytes"] = stats.spillStoreBytes;
    o["spill_load_bytes"] = stats.spillLoadBytes;
    o["stack_bytes"] = stats.stackBytes;
    o["static_shared_bytes"] = stats.staticSharedBytes;
    o["dynamic_shared_bytes"] = stats.dynamicSharedBytes;
    o["threads_per_block"] = stats.instance.threads();
    o["resident_blocks"] = stats.occupancy.blocks;
    o["resident_warps"] = stats.occupancy.warps;
    o["occupancy_limited_by"] = stats.occupancy.limitedBy;
    o["bytes_in_flight_per_warp"] = stats.bytesInFlightPerWarp;
    o["bytes_in_flight_per_sm"] = stats.bytesInFlightPerSm;
    o["bytes_per_weight"] = stats.bytesPerWeight;
    o["loop_found"] = body.loopFound;
    if (!body.loopFound) {
      o["instructions_per_weight"] = nullptr;
      out.push_back(std::move(o));
      continue;
    }
    std::ostringstream range;
    range << std::hex << "0x" << body.firstAddress << "-0x" << body.lastAddress;
    o["loop"] = {
        {"addresses", range.str()},
        {"instructions", body.instructions},
        {"nested_loops", body.nestedLoops},
        {"weights_per_iteration", body.weightsPerIteration},
        {stats.instance.family == KernelFamily::Gemv ? "ffma" : "hmma",
         {{"found", body.mathFound}, {"expected", body.mathExpected}}}};
    o["instructions_per_weight"] = body.instructionsPerWeight;
    json pipes = json::object(), classes = json::object();
    for (int p = 0; p < sass::kPipeCount; ++p)
      if (body.perPipe[p] > 0)
        pipes[sass::pipeName(static_cast<sass::Pipe>(p))] = body.perPipe[p];
    for (int c = 0; c < sass::kClassCount; ++c)
      if (body.perClass[c] > 0)
        classes[sass::className(static_cast<sass::Class>(c))] =
            body.perClass[c];
    o["alu_per_weight"] = body.perPipe[static_cast<int>(sass::Pipe::Alu)];
    o["per_weight_by_pipe"] = pipes;
    o["per_weight_by_class"] = classes;
    json loads = json::array();
    for (const GlobalLoad &load : body.globalLoads)
      loads.push_back({{"opcode", load.opcode},
                       {"per_iteration", load.count},
                       {"bytes_per_lane", load.bytesPerLane}});
    o["global_loads"] = loads;
    if (!body.unknownOpcodes.empty())
      o["unclassified_opcodes"] = body.unknownOpcodes;
    json estimates = json::array();
    for (const BandwidthEstimate &e : body.estimates)
      estimates.push_back(
          {{"gpu", e.gpu},
           {"peak_gb_s", e.peakGBs},
           {"estimate_gb_s", e.estimateGBs},
           {"fraction_of_peak", e.estimateGBs / e.peakGBs},
           {"limited_by", e.limitedBy},
           {"issue_bound_gb_s", e.issueBoundGBs},
           {"latency_bound_gb_s", e.latencyBoundGBs},
           {"waves", e.waves},
           {"tail_limited_by", e.tailLimitedBy.empty()
                                   ? nlohmann::json(nullptr)
                                   : nlohmann::json(e.tailLimitedBy)},
           {"tail_gb_s", e.tailGBs}});
    o["estimates"] = estimates;
    o["assumed_dram_latency_ns"] = kAssumedDramLatencyNs;
    out.push_back(std::move(o));
  }
  return out;
}

std::vector<nlohmann::json>
rowsCostJson(const std::vector<LayerRowsCost> &costs) {
  std::vector<nlohmann::json> out;
  for (const LayerRowsCost &layer : costs)
    for (const RowsCost &cost : layer.costs) {
      nlohmann::json o;
      o["kind"] = "rows";
      o["layer"] = layer.layer;
      o["arch"] = layer.target;
      o["m"] = cost.m;
      o["kernel"] = cost.kernel;
      o["family"] = familyName(cost.family);
      o["pass_bodies"] = cost.passes;
      o["instructions_per_weight"] =
          cost.counted ? nlohmann::json(cost.instructionsPerWeight) : nullptr;
      const std::optional<double> extra = layer.perExtraRow(cost);
      o["per_extra_row"] = extra ? nlohmann::json(*extra) : nullptr;
      out.push_back(std::move(o));
    }
  return out;
}

namespace {

std::string fixed(double value, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << value;
  return s.str();
}

/// "gemv 4096x12288 b4" plus the epilogue, shorter than the kernel name.
std::string shortName(const KernelStats &stats) {
  const LinearShape &s = stats.instance.shape;
  std::string name = std::string(familyName(stats.instance.family)) + " " +
                     std::to_string(s.k) + "x" + std::to_string(s.n) + " b" +
                     std::to_string(s.bits);
  if (s.siluMul)
    name += " silu";
  if (s.residual)
    name += " res";
  if (s.activation != ActivationType::F16)
    name += std::string(" ") + activationTypeName(s.activation);
  return name;
}

} // namespace

void printReport(const std::vector<KernelStats> &all, std::ostream &out) {
  using sass::Pipe;
  out << "Per kernel and row body: registers, spills (store/load bytes), "
         "resident warps per SM (limit),\nweight KB in flight per SM, "
         "instructions per weight in the main loop, in total and by pipe.\n\n";
  out << std::left << std::setw(28) << "kernel" << std::setw(7) << "arch"
      << std::right << std::setw(5) << "rows" << std::setw(6) << "regs"
      << std::setw(8) << "spill" << std::setw(15) << "warps/SM" << std::setw(8)
      << "KB/SM" << std::setw(8) << "instr" << std::setw(7) << "alu"
      << std::setw(7) << "fma" << std::setw(8) << "fma_hv" << std::setw(7)
      << "lsu" << std::setw(8) << "tensor" << std::setw(7) << "ctrl"
      << std::setw(8) << "nvrtc"
      << "\n";
  for (const KernelStats &k : all)
    for (const RowBody &b : k.bodies) {
      auto pipe = [&](Pipe p) {
        return fixed(b.perPipe[static_cast<int>(p)], 2);
      };
      out << std::left << std::setw(28) << shortName(k) << std::setw(7)
          << k.target << std::right << std::setw(5) << b.rows << std::setw(6)
          << k.registers << std::setw(8)
          << (std::to_string(k.spillStoreBytes) + "/" +
              std::to_string(k.spillLoadBytes))
          << std::setw(15)
          << (std::to_string(k.occupancy.warps) + " (" +
              k.occupancy.limitedBy.substr(0, 5) + ")")
          << std::setw(8) << fixed(k.bytesInFlightPerSm / 1024.0, 1);
      if (b.loopFound)
        out << std::setw(8) << fixed(b.instructionsPerWeight, 2) << std::setw(7)
            << pipe(Pipe::Alu) << std::setw(7) << pipe(Pipe::Fma)
            << std::setw(8) << pipe(Pipe::FmaHeavy) << std::setw(7)
            << pipe(Pipe::Lsu) << std::setw(8) << pipe(Pipe::Tensor)
            << std::setw(7) << pipe(Pipe::Control);
      else
        out << std::setw(52) << "(one tile per block: no loop)";
      out << std::setw(7) << fixed(k.nvrtcSeconds, 2) << "s\n";
    }

  out << "\nGlobal loads per main-loop iteration (width and cache modifiers "
         "as in the SASS):\n";
  for (const KernelStats &k : all)
    for (const RowBody &b : k.bodies) {
      if (!b.loopFound ||
          (k.instance.family == KernelFamily::Gemv && b.rows > 1))
        continue; // The GEMV's bodies load alike; show the first.
      out << "  " << std::left << std::setw(28) << shortName(k) << std::setw(7)
          << k.target << std::right;
      for (const GlobalLoad &load : b.globalLoads)
        out << " " << load.opcode << " x" << load.count;
      out << "\n";
    }

  out << "\nEstimated bandwidth (GB/s, % of DRAM peak, the bound that "
         "decides), assuming "
      << kAssumedDramLatencyNs
      << " ns DRAM latency\n(docs/kernels.md, \"Reading the machine "
         "code\"):\n";
  for (const KernelStats &k : all)
    for (const RowBody &b : k.bodies) {
      if (!b.loopFound)
        continue;
      out << "  " << std::left << std::setw(28) << shortName(k) << std::setw(7)
          << k.target << std::right << std::setw(3) << b.rows << " rows:";
      for (const BandwidthEstimate &e : b.estimates)
        out << "  " << e.gpu << " " << fixed(e.estimateGBs, 0) << " ("
            << fixed(100 * e.estimateGBs / e.peakGBs, 0) << "%, " << e.limitedBy
            << (e.tailLimitedBy.empty() ? std::string()
                                        : "; " + fixed(e.waves, 2) +
                                              " waves, tail " + e.tailLimitedBy)
            << ")";
      out << "\n";
    }
}

void printRowsCost(const std::vector<LayerRowsCost> &costs, std::ostream &out) {
  if (costs.empty())
    return;
  out << "\nInstructions per weight of each layer by rows M: the kernel and "
         "row body its plan runs\nfor M (xP: the launch passes over the "
         "weights P times), and what each row beyond the\nfirst adds, (I(M) "
         "- I(1)) / (M - 1):\n";
  for (const LayerRowsCost &layer : costs) {
    out << "  " << layer.layer << " (" << layer.target << ")\n";
    for (const RowsCost &cost : layer.costs) {
      bool uniform = true;
      for (int64_t rows : cost.passes)
        uniform = uniform && rows == cost.passes.front();
      std::string body = std::string(familyName(cost.family)) + ", ";
      if (uniform) {
        body += std::to_string(cost.passes.front()) + "-row body";
        if (cost.passes.size() > 1)
          body += " x" + std::to_string(cost.passes.size());
      } else {
        body += "bodies ";
        for (size_t i = 0; i < cost.passes.size(); ++i)
          body += (i ? "+" : "") + std::to_string(cost.passes[i]);
      }
      out << "    M = " << std::left << std::setw(5) << cost.m << std::setw(26)
          << body << std::right;
      if (!cost.counted) {
        out << "(one tile per block: no loop)\n";
        continue;
      }
      out << std::setw(6) << fixed(cost.instructionsPerWeight, 2);
      if (const std::optional<double> extra = layer.perExtraRow(cost))
        out << "   " << (*extra >= 0 ? "+" : "") << fixed(*extra, 2)
            << " per extra row";
      out << "\n";
    }
  }
}

} // namespace awq
