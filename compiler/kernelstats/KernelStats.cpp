//===- KernelStats.cpp - The static report of one compiled kernel ---------===//
#include "compiler/kernelstats/KernelStats.h"

#include "compiler/kernelstats/GpuParts.h"
#include "runtime/nvrtc/NvrtcCompiler.h"
#include "runtime/support/Error.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace awq {

Occupancy computeOccupancy(const ArchInfo &arch, int64_t threads,
                           int64_t registers, int64_t sharedBytes) {
  Occupancy o;
  const int64_t warpsPerBlock = ceilDiv(threads, 32);
  const int64_t regsPerWarp =
      roundUp(std::max<int64_t>(registers, 1) * 32, kRegisterAllocationUnit);
  const int64_t byRegisters = kRegistersPerSm / regsPerWarp / warpsPerBlock;
  const int64_t byShared = blocksPerSmByShared(arch, sharedBytes);
  const int64_t byWarps = arch.maxThreadsPerSm / 32 / warpsPerBlock;
  const int64_t byBlocks = arch.maxBlocksPerSm;
  o.blocks = std::min(byRegisters,
                      blocksPerSmBeforeRegisters(arch, threads, sharedBytes));
  o.warps = o.blocks * warpsPerBlock;
  for (const auto &[cap, name] :
       {std::pair<int64_t, const char *>{byRegisters, "registers"},
        {byShared, "shared memory"},
        {byWarps, "warps"},
        {byBlocks, "blocks"}})
    if (cap == o.blocks)
      o.limitedBy += (o.limitedBy.empty() ? "" : "+") + std::string(name);
  return o;
}

double pipeRate(sass::Pipe pipe, const ArchInfo &arch) {
  using sass::Pipe;
  switch (pipe) {
  case Pipe::Alu:
  case Pipe::FmaHeavy:
    return 64; // 16 lanes per scheduler: a warp instruction every 2 clocks.
  case Pipe::Fma:
    return static_cast<double>(arch.fp32LanesPerSm);
  case Pipe::Lsu:
    return 32; // One warp-wide memory instruction per SM and clock.
  case Pipe::Xu:
    return 16;
  case Pipe::Tensor:
    // HMMA.16816 (2048 FMAs) every 2 clocks per SM (sm_80); sm_75's
    // HMMA.1688 (1024 FMAs) at half the FMA rate, also every 2 clocks.
    return 16;
  default:
    return 0;
  }
}

namespace {

/// The top-level loops that do the family's math, with the count of it.
std::vector<std::pair<size_t, int64_t>> mathLoops(const sass::Function &f,
                                                  const sass::ControlFlow &flow,
                                                  const char *math) {
  std::vector<std::pair<size_t, int64_t>> out;
  for (size_t i = 0; i < flow.loops.size(); ++i) {
    if (flow.loops[i].parent >= 0)
      continue;
    int64_t count = 0;
    for (size_t in : sass::loopInstructions(flow, flow.loops[i]))
      count += f.code[in].base() == math;
    if (count > 0)
      out.push_back({i, count});
  }
  return out;
}

void countBody(const sass::Function &f, const sass::ControlFlow &flow,
               size_t loopIndex, int64_t threads, RowBody &body) {
  const sass::Loop &loop = flow.loops[loopIndex];
  body.loopFound = true;
  body.firstAddress = loop.firstAddress;
  body.lastAddress = loop.lastAddress;
  body.instructions = loop.instructions;
  for (const sass::Loop &other : flow.loops)
    for (int p = other.parent; p >= 0; p = flow.loops[p].parent)
      if (&flow.loops[p] == &loop) {
        ++body.nestedLoops;
        break;
      }
  // Thread-instructions per weight: every thread of the block runs the loop
  // once per iteration, and the block consumes weightsPerIteration weights.
  const double scale = static_cast<double>(threads) /
                       static_cast<double>(body.weightsPerIteration);
  std::map<std::string, GlobalLoad> loads;
  for (size_t i : sass::loopInstructions(flow, loop)) {
    const std::string &opcode = f.code[i].opcode;
    const sass::Pipe pipe = sass::pipeOf(opcode);
    const sass::Class cls = sass::classOf(opcode);
    body.perPipe[static_cast<int>(pipe)] += scale;
    body.perClass[static_cast<int>(cls)] += scale;
    if (pipe == sass::Pipe::Unknown &&
        std::find(body.unknownOpcodes.begin(), body.unknownOpcodes.end(),
                  opcode) == body.unknownOpcodes.end())
      body.unknownOpcodes.push_back(opcode);
    if (cls == sass::Class::GlobalLoad ||
        (cls == sass::Class::AsyncCopy && f.code[i].base() == "LDGSTS")) {
      GlobalLoad &load = loads[opcode];
      load.opcode = opcode;
      load.bytesPerLane = sass::accessBytes(opcode);
      ++load.count;
    }
  }
  body.instructionsPerWeight = static_cast<double>(loop.instructions) * scale;
  for (auto &[opcode, load] : loads)
    body.globalLoads.push_back(load);
}

/// The roofline / Little's-law estimate of `body` on every named GPU of the
/// target's architecture (docs/kernels.md, "Reading the machine code").
/// A grid of more blocks than the GPU holds at once runs in waves of
/// SMs x resident blocks; its last wave may be partial, with fewer blocks
/// in flight and fewer SMs issuing, and takes the share of the weights its
/// blocks hold at its own bound.
void estimate(const KernelStats &stats, RowBody &body) {
  const ArchInfo *arch = parseTarget(stats.target)->arch;
  const KernelLaunch launch = stats.instance.launch(body.rows);
  const double blocks =
      static_cast<double>(launch.gridX * launch.gridY * launch.gridZ);
  const double bitsBytes = stats.instance.shape.bits / 8.0;
  const int64_t warpsPerBlock = ceilDiv(launch.threads, 32);
  const double inFlightPerBlock =
      static_cast<double>(stats.bytesInFlightPerWarp * warpsPerBlock);
  const double bytesPerWeight = stats.bytesPerWeight;
  for (const GpuPart &gpu : kGpuParts) {
    if (gpu.smVersion != arch->smVersion)
      continue;
    BandwidthEstimate e;
    e.gpu = gpu.name;
    e.peakGBs = gpu.dramBandwidthGBs;
    const double sms = static_cast<double>(gpu.smCount);
    const double clock = gpu.boostClockGHz * 1e9;
    const double slots =
        sms * static_cast<double>(std::max<int64_t>(stats.occupancy.blocks, 1));
    // Weights per second of a wave of `waveBlocks` blocks, and its bound.
    struct WaveBound {
      double weightsPerSecond, issueGBs, latencyGBs;
      std::string limitedBy;
    };
    auto bound = [&](double waveBlocks) {
      // Fewer blocks than slots leave SMs or slots idle.
      const double activeSms = std::min(sms, waveBlocks);
      WaveBound w{gpu.dramBandwidthGBs * 1e9 / bytesPerWeight, 0, 0, "dram"};
      auto consider = [&](double weightsPerSecond, const std::string &name) {
        if (weightsPerSecond < w.weightsPerSecond) {
          w.weightsPerSecond = weightsPerSecond;
          w.limitedBy = name;
        }
      };
      const double issue =
          activeSms * clock * kIssueRatePerSm / body.instructionsPerWeight;
      w.issueGBs = issue * bytesPerWeight / 1e9;
      consider(issue, "issue");
      for (int p = 0; p < sass::kPipeCount; ++p) {
        const double rate = pipeRate(static_cast<sass::Pipe>(p), *arch);
        if (rate > 0 && body.perPipe[p] > 0)
          consider(activeSms * clock * rate / body.perPipe[p],
                   sass::pipeName(static_cast<sass::Pipe>(p)));
      }
      // Little's law: bytes in flight / latency, in packed weight bytes.
      const double latency = std::min(waveBlocks, slots) * inFlightPerBlock /
                             (kAssumedDramLatencyNs * 1e-9);
      w.latencyGBs = latency / bitsBytes * bytesPerWeight / 1e9;
      consider(latency / bitsBytes, "latency");
      return w;
    };
    e.waves = blocks / slots;
    const double fullWaves = std::floor(e.waves);
    const double tailBlocks = blocks - fullWaves * slots;
    const WaveBound first = bound(fullWaves >= 1 ? slots : blocks);
    e.limitedBy = first.limitedBy;
    e.issueBoundGBs = first.issueGBs;
    e.latencyBoundGBs = first.latencyGBs;
    // Seconds per weight: each wave's share of the blocks at its rate.
    double secondsPerWeight = 1 / first.weightsPerSecond;
    if (fullWaves >= 1 && tailBlocks > 0) {
      const WaveBound tail = bound(tailBlocks);
      e.tailLimitedBy = tail.limitedBy;
      e.tailGBs = tail.weightsPerSecond * bytesPerWeight / 1e9;
      secondsPerWeight = fullWaves * slots / blocks / first.weightsPerSecond +
                         tailBlocks / blocks / tail.weightsPerSecond;
    }
    e.estimateGBs = bytesPerWeight / secondsPerWeight / 1e9;
    body.estimates.push_back(e);
  }
}

} // namespace

void analyzeSass(const sass::Function &function, KernelStats &stats) {
  const sass::ControlFlow flow = sass::analyze(function);
  const KernelInstance &in = stats.instance;
  stats.bodies.clear();
  if (in.family == KernelFamily::Gemv) {
    const GemvParams &p = in.gemv;
    const GemvGeometry g = gemvGeometry(in.shape, p);
    std::vector<int64_t> rows;
    for (int64_t r = 1; r <= p.maxRows; r *= 2)
      rows.push_back(r);
    // One tile per block: the row bodies are straight-line code, no loop.
    const bool hasLoop = g.tilesPerSplit > 1;
    std::vector<std::pair<size_t, int64_t>> candidates =
        hasLoop ? mathLoops(function, flow, "FFMA")
                : std::vector<std::pair<size_t, int64_t>>{};
    if (hasLoop && candidates.size() < rows.size())
      throw Error(stats.name + " (" + stats.target + "): found " +
                  std::to_string(candidates.size()) +
                  " top-level loop(s) with FFMA in the SASS, expected one "
                  "per row body (" +
                  std::to_string(rows.size()) + ")");
    for (int64_t r : rows) {
      RowBody body;
      body.rows = r;
      // Per lane and tile: 32 FMAs per column and row, plus two per run of
      // units for the zero point and the scale (one unit, or two where the
      // one-row body pairs them: gemvPairsRuns); a loop iteration covers
      // gemvTilesPerIteration tiles.
      const int64_t tiles = gemvTilesPerIteration(g);
      const int64_t runTiles = r == 1 && gemvPairsRuns(in.shape, p) ? 2 : 1;
      body.mathExpected = tiles * p.colsPerWarp * r * kGemvValuesPerUnit +
                          tiles / runTiles * p.colsPerWarp * r * 2;
      body.weightsPerIteration = tiles * g.colsPerBlock * kGemvValuesPerTile;
      if (hasLoop) {
        // The loop whose FFMA count is closest to this body's.
        auto best =
            std::min_element(candidates.begin(), candidates.end(),
                             [&](const auto &a, const auto &b) {
                               return std::llabs(a.second - body.mathExpected) <
                                      std::llabs(b.second - body.mathExpected);
                             });
        body.mathFound = best->second;
        // ptxas may unroll the loop further.
        const int64_t unroll = std::max<int64_t>(
            1, std::llround(static_cast<double>(body.mathFound) /
                            body.mathExpected));
        body.mathExpected *= unroll;
        body.weightsPerIteration *= unroll;
        // The loop must hold the whole per-tile body: two barriers (x staged,
        // x consumed) per staging span (a tile, or a run of two: one-row
        // bodies that pair units stage both at once) and the decode of every
        // weight it consumes (one LOP3, PRMT or IMAD.HI per field at least:
        // awq::decodeFieldScaled takes a top field with a multiply high
        // alone). ptxas may move
        // part of it out of a loop that runs once (the staging, or the
        // decode of a buffer the loop no longer reloads); counting what is
        // left would understate the kernel.
        int64_t barriers = 0, decodes = 0;
        for (size_t in :
             sass::loopInstructions(flow, flow.loops[best->first])) {
          const std::string base = function.code[in].base();
          barriers += base == "BAR";
          decodes += base == "LOP3" || base == "PRMT" ||
                     (base == "IMAD" && function.code[in].hasModifier("HI"));
        }
        const int64_t fields =
            tiles * unroll * p.colsPerWarp * kGemvValuesPerUnit;
        const int64_t spans = tiles * unroll / runTiles;
        if (barriers < 2 * spans || decodes < fields)
          throw Error(
              stats.name + " (" + stats.target + "): the " + std::to_string(r) +
              "-row body's loop holds " + std::to_string(barriers) +
              " barrier(s) and " + std::to_string(decodes) +
              " LOP3/PRMT/IMAD.HI, expected at least " +
              std::to_string(2 * spans) + " and " + std::to_string(fields) +
              " (two barriers per staging span, one decode per weight "
              "field): part of the per-tile work lies outside it, so "
              "its count would be too low");
        countBody(function, flow, best->first, p.threads, body);
        candidates.erase(best);
        estimate(stats, body);
      }
      stats.bodies.push_back(std::move(body));
    }
    return;
  }
  const GemmParams &p = in.gemm;
  std::vector<std::pair<size_t, int64_t>> candidates =
      mathLoops(function, flow, "HMMA");
  if (candidates.empty())
    throw Error(stats.name + " (" + stats.target +
                "): no loop with HMMA in the SASS (the K loop was not found)");
  // The row split's K loop has the most HMMA; the small-M body's
  // (gemmSmallBodyRows), when the tiling has one, a WarpsM-th of a single
  // m16 tile's.
  const auto rowSplit = std::max_element(
      candidates.begin(), candidates.end(),
      [](const auto &a, const auto &b) { return a.second < b.second; });
  auto countGemmBody = [&](int64_t rows, int64_t mathPerTile,
                           std::pair<size_t, int64_t> loop) {
    RowBody body;
    body.rows = rows;
    body.mathFound = loop.second;
    // ptxas may unroll the K loop: then one iteration consumes several
    // tiles.
    const int64_t unroll = std::max<int64_t>(
        1, std::llround(static_cast<double>(body.mathFound) / mathPerTile));
    body.mathExpected = mathPerTile * unroll;
    body.weightsPerIteration = unroll * p.tileN * p.tileK;
    countBody(function, flow, loop.first, p.warpsM * p.warpsN * 32, body);
    estimate(stats, body);
    return body;
  };
  // HMMA per m16n8k16 tile: two m16n8k8 without m16n8k16 (sm_75).
  const int64_t hmmaPerTile =
      parseTarget(stats.target)->arch->mmaM16N8K16 ? 1 : 2;
  const int64_t warpTiles =
      hmmaPerTile * (p.tileN / p.warpsN / 8) * (p.tileK / 16);
  const std::pair<size_t, int64_t> rowSplitLoop = *rowSplit;
  if (const int64_t smallRows = gemmSmallBodyRows(in.shape, p)) {
    candidates.erase(rowSplit);
    const int64_t expected = warpTiles / p.warpsM;
    auto best = std::min_element(candidates.begin(), candidates.end(),
                                 [&](const auto &a, const auto &b) {
                                   return std::llabs(a.second - expected) <
                                          std::llabs(b.second - expected);
                                 });
    if (best == candidates.end())
      throw Error(stats.name + " (" + stats.target +
                  "): one loop with HMMA in the SASS, expected two (the "
                  "small-M body and the row split)");
    stats.bodies.push_back(countGemmBody(smallRows, expected, *best));
  }
  stats.bodies.push_back(countGemmBody(
      p.tileM, (p.tileM / p.warpsM / 16) * warpTiles, rowSplitLoop));
}

std::optional<double> LayerRowsCost::perExtraRow(const RowsCost &cost) const {
  auto one = std::find_if(costs.begin(), costs.end(),
                          [](const RowsCost &c) { return c.m == 1; });
  if (cost.m < 2 || !cost.counted || one == costs.end() || !one->counted)
    return std::nullopt;
  return (cost.instructionsPerWeight - one->instructionsPerWeight) /
         static_cast<double>(cost.m - 1);
}

std::vector<RowsCost> costByRows(const std::vector<bundle::KernelUse> &uses,
                                 const std::vector<KernelStats> &reports,
                                 const std::string &target,
                                 const std::vector<int64_t> &ms) {
  std::vector<RowsCost> out;
  for (int64_t m : ms) {
    auto use = std::find_if(uses.begin(), uses.end(), [&](const auto &u) {
      return u.minM <= m && m <= u.maxM;
    });
    if (use == uses.end())
      continue;
    auto report =
        std::find_if(reports.begin(), reports.end(), [&](const auto &r) {
          return r.name == use->kernel && r.target == target;
        });
    if (report == reports.end())
      throw Error("kernel " + use->kernel + " (" + target +
                  ") serves M = " + std::to_string(m) + " but has no report");
    RowsCost cost;
    cost.m = m;
    cost.kernel = use->kernel;
    cost.family = use->family;
    const KernelInstance &in = report->instance;
    if (in.family == KernelFamily::Gemv) {
      const GemvGeometry g = gemvGeometry(in.shape, in.gemv);
      for (int64_t z = 0; z < g.gridZ(m); ++z)
        cost.passes.push_back(
            gemvBodyRows<int64_t>(gemvChunkRows<int64_t>(m, z, g.maxRows)));
    } else {
      const int64_t small = gemmSmallBodyRows(in.shape, in.gemm);
      cost.passes.assign(in.launch(m).gridY,
                         gemmRunsSmallBody(m, small) ? small : in.gemm.tileM);
    }
    for (int64_t rows : cost.passes) {
      auto body =
          std::find_if(report->bodies.begin(), report->bodies.end(),
                       [&](const RowBody &b) { return b.rows == rows; });
      if (body == report->bodies.end())
        throw Error(report->name + " (" + target + "): no " +
                    std::to_string(rows) + "-row body in its report");
      cost.counted = cost.counted && body->loopFound;
      cost.instructionsPerWeight += body->instructionsPerWeight;
    }
    out.push_back(std::move(cost));
  }
  return out;
}

KernelStats analyzeKernel(const std::string &name,
                          const KernelInstance &instance,
                          const std::string &target, const Disassembler &tool,
                          const std::vector<std::string> &extraNvrtcOptions) {
  const std::optional<Target> parsed = parseTarget(target);
  if (!parsed)
    throw Error("unknown target '" + target + "' (known: " + knownTargets() +
                ")");
  if (const char *why = archViolation(*parsed->arch))
    throw Error("target " + target + " (" + parsed->arch->part + "): " + why);
  KernelStats stats;
  stats.name = name;
  stats.instance = instance;
  stats.target = target;
  NvrtcOptions options;
  options.arch = target;
  options.extraOptions = extraNvrtcOptions;
  const CompileResult compiled =
      compileToCubin(instance.source(name), name + ".cu", options);
  stats.nvrtcSeconds = compiled.seconds;
  const KernelResources *resources = compiled.find(name);
  if (!resources || resources->registers < 0)
    throw Error(name + " (" + target +
                "): ptxas reported no resources for the kernel");
  stats.registers = resources->registers;
  stats.spillStoreBytes = resources->spillStoreBytes;
  stats.spillLoadBytes = resources->spillLoadBytes;
  stats.stackBytes = resources->stackBytes;
  stats.staticSharedBytes = resources->sharedBytes;
  stats.dynamicSharedBytes = instance.sharedBytes();
  stats.occupancy =
      computeOccupancy(*parsed->arch, instance.threads(), resources->registers,
                       stats.staticSharedBytes + stats.dynamicSharedBytes);
  const LinearShape &s = instance.shape;
  if (instance.family == KernelFamily::Gemv) {
    stats.bytesInFlightPerWarp =
        instance.gemv.colsPerWarp * kGemvUnitsPerTile * s.bits * 4;
  } else {
    const GemmParams &p = instance.gemm;
    stats.bytesInFlightPerWarp = gemmTilesInFlight(p, *parsed->arch) * p.tileN *
                                 p.tileK * s.bits / 8 / (p.warpsM * p.warpsN);
  }
  stats.bytesInFlightPerSm = stats.bytesInFlightPerWarp * stats.occupancy.warps;
  stats.bytesPerWeight = static_cast<double>(instance.weightBytes()) /
                         static_cast<double>(s.k * s.n);

  const std::string listing =
      disassemble(tool, compiled.cubin, name + " (" + target + ")");
  const std::vector<sass::Function> functions = sass::parseListing(listing);
  const auto function =
      std::find_if(functions.begin(), functions.end(),
                   [&](const sass::Function &f) { return f.name == name; });
  if (function == functions.end())
    throw Error(name + " (" + target + "): the disassembly of " + tool.path +
                " has no function named " + name);
  analyzeSass(*function, stats);
  return stats;
}

} // namespace awq
