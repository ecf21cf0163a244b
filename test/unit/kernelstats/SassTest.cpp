//===- SassTest.cpp - SASS parsing, loops, opcode classes, occupancy ------===//
//
// Hand-written SASS in the formats of nvdisasm and cuobjdump: no CUDA tool
// is needed, so these always run.
//
//===----------------------------------------------------------------------===//
#include "compiler/kernelstats/Sass.h"
#include "compiler/kernelstats/GpuParts.h"
#include "compiler/kernelstats/KernelStats.h"
#include "runtime/support/Error.h"

#include <gtest/gtest.h>

#include <cstring>
#include <sstream>

namespace awq {
namespace {

using namespace sass;

/// nvdisasm -c output: an outer loop (.L_x_1 .. 0x00f0) holding an inner
/// loop (.L_x_2 .. 0x0080), a BRA.DIV whose out-of-line fallback jumps back
/// into the outer loop, and the trap after EXIT.
constexpr const char *kNested = R"sass(
	.target	sm_90
//--------------------- .text.k           --------------------------
	.section	.text.k,"ax",@progbits
k:
.text.k:
        /*0000*/                   S2R R0, SR_TID.X ;
        /*0010*/                   MOV R1, RZ ;
.L_x_1:
        /*0020*/                   LDG.E.NA.128.CONSTANT R4, desc[UR6][R2.64] ;
        /*0030*/                   IMAD.MOV.U32 R8, RZ, RZ, R0 ;
.L_x_2:
        /*0040*/                   LDS.128 R12, [R8] ;
        /*0050*/                   FFMA R1, R12, R4, R1 ;
        /*0060*/                   IADD3 R8, R8, 0x80, RZ ;
        /*0070*/                   ISETP.GE.AND P1, PT, R8, 0x100, PT ;
        /*0080*/              @!P1 BRA `(.L_x_2) ;
        /*0090*/                   BRA.DIV UR4, `(.L_x_3) ;
        /*00a0*/                   SHFL.BFLY PT, R9, R1, 0x1, 0x1f ;
.L_x_4:
        /*00b0*/                   LOP3.LUT R5, R4, 0xf, RZ, 0xc0, !PT ;
        /*00c0*/                   HFMA2.MMA R6, -RZ, RZ, 0, 0 ;
        /*00d0*/                   IADD3 R2, P0, R2, 0x10, RZ ;
        /*00e0*/                   ISETP.NE.AND P0, PT, R2, R3, PT ;
        /*00f0*/               @P0 BRA `(.L_x_1) ;
        /*0100*/                   STG.E desc[UR4][R10.64], R1 ;
        /*0110*/                   EXIT ;
.L_x_3:
        /*0120*/                   WARPSYNC.COLLECTIVE R7, `(.L_x_5) ;
        /*0130*/                   SHFL.BFLY P0, R9, R1, R6, R5 ;
.L_x_5:
        /*0140*/                   BRA `(.L_x_4) ;
.L_x_6:
        /*0150*/                   BRA `(.L_x_6);
        /*0160*/                   NOP;
.L_x_7:


//--------------------- SYMBOLS --------------------------
)sass";

TEST(SassParse, ReadsInstructionsPredicatesAndTargets) {
  const std::vector<Function> functions = parseListing(kNested);
  ASSERT_EQ(functions.size(), 1u);
  const Function &f = functions[0];
  EXPECT_EQ(f.name, "k");
  ASSERT_EQ(f.code.size(), 23u);
  EXPECT_EQ(f.code[2].opcode, "LDG.E.NA.128.CONSTANT");
  EXPECT_EQ(f.code[2].base(), "LDG");
  EXPECT_TRUE(f.code[2].hasModifier("NA"));
  EXPECT_FALSE(f.code[2].hasModifier("N"));
  EXPECT_EQ(f.code[2].operands, "R4, desc[UR6][R2.64]");
  EXPECT_EQ(f.code[8].predicate, "@!P1");
  EXPECT_EQ(f.code[8].target, ".L_x_2");
  EXPECT_EQ(f.resolve(".L_x_2"), 4u);
  EXPECT_EQ(f.code[9].opcode, "BRA.DIV");
  EXPECT_EQ(f.code[22].address, 0x160u);
}

TEST(SassParse, RejectsTextWithoutInstructions) {
  try {
    parseListing("nvdisasm fatal : not an ELF file\n");
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("no SASS instruction"),
              std::string::npos);
  }
}

TEST(SassLoops, FindsNestedLoopsAndIgnoresDivergenceFallbackAndTrap) {
  const Function f = parseListing(kNested)[0];
  const ControlFlow flow = analyze(f);
  ASSERT_EQ(flow.loops.size(), 2u);
  const Loop &outer = flow.loops[0];
  const Loop &inner = flow.loops[1];
  EXPECT_EQ(outer.depth, 1);
  EXPECT_EQ(outer.parent, -1);
  EXPECT_EQ(outer.firstAddress, 0x20u);
  EXPECT_EQ(outer.lastAddress, 0xf0u);
  EXPECT_EQ(outer.instructions, 14u); // 0x20..0xf0; not the fallback.
  EXPECT_EQ(inner.depth, 2);
  EXPECT_EQ(inner.parent, 0);
  EXPECT_EQ(inner.firstAddress, 0x40u);
  EXPECT_EQ(inner.lastAddress, 0x80u);
  EXPECT_EQ(inner.instructions, 5u);
  // The fallback (0x120..0x140) is unreachable without the BRA.DIV edge.
  for (const Block &b : flow.blocks) {
    if (f.code[b.first].address >= 0x120 && f.code[b.first].address <= 0x140) {
      EXPECT_FALSE(b.reachable);
    }
  }
}

TEST(SassLoops, ReadsCuobjdumpAddressTargets) {
  const std::string text = R"sass(
	code for sm_80
		Function : k2
	.headerflags	@"EF_CUDA_SM80 EF_CUDA_PTX_SM(EF_CUDA_SM80)"
        /*0000*/                   MOV R1, c[0x0][0x28] ;                    /* 0x00000a0000017a02 */
                                                                             /* 0x000fe40000000f00 */
        /*0010*/                   FFMA R2, R3, R4, R2 ;                     /* 0x0000000403027223 */
                                                                             /* 0x000fe40000000002 */
        /*0020*/                   ISETP.NE.AND P0, PT, R2, RZ, PT ;
        /*0030*/               @P0 BRA 0x10 ;
        /*0040*/                   EXIT ;
        /*0050*/                   BRA 0x50;
)sass";
  const Function f = parseListing(text)[0];
  EXPECT_EQ(f.name, "k2");
  ASSERT_EQ(f.code.size(), 6u);
  EXPECT_EQ(f.code[3].target, "0x10");
  const ControlFlow flow = analyze(f);
  ASSERT_EQ(flow.loops.size(), 1u);
  EXPECT_EQ(flow.loops[0].firstAddress, 0x10u);
  EXPECT_EQ(flow.loops[0].instructions, 3u);
}

TEST(SassLoops, UniformPredicateOperandMakesABranchConditional) {
  const std::string text = R"sass(
	.section	.text.k3,"ax",@progbits
.L_x_0:
        /*0000*/                   FFMA R2, R3, R4, R2 ;
        /*0010*/                   BRA.U !UP0, `(.L_x_0) ;
        /*0020*/                   EXIT ;
)sass";
  const Function f = parseListing(text)[0];
  const ControlFlow flow = analyze(f);
  ASSERT_EQ(flow.loops.size(), 1u);
  // The EXIT after the loop is reachable: the branch falls through.
  EXPECT_TRUE(flow.blocks.back().reachable);
}

TEST(SassClasses, OpcodesMapToPipesAndClasses) {
  EXPECT_EQ(pipeOf("LOP3.LUT"), Pipe::Alu);
  EXPECT_EQ(classOf("LOP3.LUT"), Class::IntLogic);
  EXPECT_EQ(pipeOf("SHF.R.U32.HI"), Pipe::Alu);
  EXPECT_EQ(pipeOf("PRMT"), Pipe::Alu);
  EXPECT_EQ(pipeOf("ISETP.GE.AND"), Pipe::Alu);
  EXPECT_EQ(classOf("ISETP.GE.AND"), Class::IntArith);
  EXPECT_EQ(pipeOf("FFMA"), Pipe::Fma);
  EXPECT_EQ(classOf("FFMA"), Class::Fp32);
  EXPECT_EQ(pipeOf("HFMA2"), Pipe::Fma);
  EXPECT_EQ(classOf("HADD2.F32"), Class::Fp16);
  EXPECT_EQ(pipeOf("IMAD.WIDE.U32"), Pipe::FmaHeavy);
  EXPECT_EQ(classOf("IMAD.WIDE.U32"), Class::IntMultiply);
  EXPECT_EQ(pipeOf("IMAD.MOV.U32"), Pipe::FmaHeavy);
  EXPECT_EQ(classOf("IMAD.MOV.U32"), Class::Move);
  EXPECT_EQ(pipeOf("HFMA2.MMA"), Pipe::Tensor);
  EXPECT_EQ(classOf("HFMA2.MMA"), Class::Move);
  EXPECT_EQ(pipeOf("HMMA.16816.F32"), Pipe::Tensor);
  EXPECT_EQ(pipeOf("LDG.E.NA.128.CONSTANT"), Pipe::Lsu);
  EXPECT_EQ(classOf("LDG.E.NA.128.CONSTANT"), Class::GlobalLoad);
  EXPECT_EQ(classOf("LDGSTS.E.BYPASS.128"), Class::AsyncCopy);
  EXPECT_EQ(classOf("LDSM.16.M88.4"), Class::SharedLoad);
  EXPECT_EQ(classOf("SHFL.BFLY"), Class::Shuffle);
  EXPECT_EQ(pipeOf("UIADD3"), Pipe::Uniform);
  EXPECT_EQ(pipeOf("ULDC.64"), Pipe::Uniform);
  EXPECT_EQ(classOf("ULDC.64"), Class::ConstantLoad);
  EXPECT_EQ(pipeOf("LDC.64"), Pipe::Adu);
  EXPECT_EQ(pipeOf("BAR.SYNC.DEFER_BLOCKING"), Pipe::Control);
  EXPECT_EQ(pipeOf("MUFU.EX2"), Pipe::Xu);
  EXPECT_EQ(pipeOf("FROBNICATE"), Pipe::Unknown);
  EXPECT_EQ(classOf("FROBNICATE"), Class::Other);
  EXPECT_STREQ(pipeName(Pipe::FmaHeavy), "fma_heavy");
  EXPECT_STREQ(className(Class::Other), "other");
}

TEST(SassClasses, AccessWidths) {
  EXPECT_EQ(accessBytes("LDG.E.NA.128.CONSTANT"), 16);
  EXPECT_EQ(accessBytes("LDG.E.64"), 8);
  EXPECT_EQ(accessBytes("LDG.E.U16.CONSTANT"), 2);
  EXPECT_EQ(accessBytes("LDG.E.S8"), 1);
  EXPECT_EQ(accessBytes("LDG.E"), 4);
}

/// nvdisasm text of kernel `k`: one loop of `ffma` FFMA, `lop3` LOP3 and
/// `barriers` BAR.SYNC, closed by a branch, then EXIT.
std::string loopListing(int ffma, int lop3, int barriers, int others = 0,
                        const std::string &other = "IMAD.HI.U32 R5, R4, 0x10, "
                                                   "RZ") {
  std::ostringstream text;
  text << "\t.section\t.text.k,\"ax\",@progbits\n.L_x_0:\n";
  int address = 0;
  auto emit = [&](const std::string &in, int times = 1) {
    for (int i = 0; i < times; ++i) {
      char buffer[16];
      std::snprintf(buffer, sizeof buffer, "%04x", address);
      text << "        /*" << buffer << "*/  " << in << " ;\n";
      address += 16;
    }
  };
  emit("FFMA R1, R2, R3, R1", ffma);
  emit("LOP3.LUT R2, R4, 0xf, RZ, 0xc0, !PT", lop3);
  emit(other, others);
  emit("BAR.SYNC.DEFER_BLOCKING 0x0", barriers);
  emit("@P0 BRA `(.L_x_0)");
  emit("EXIT");
  return text.str();
}

/// The report of a GEMV for `shape` with one 32-thread warp of one column
/// and one row per block, on sm_90, before its SASS is analysed.
KernelStats oneWarpGemvStats(const LinearShape &shape) {
  KernelStats stats;
  stats.name = "k";
  stats.target = "sm_90";
  stats.instance = KernelInstance::makeGemv(shape, GemvParams{32, 1, 1, 1});
  stats.occupancy = computeOccupancy(*findArch(90), 32, 40, 4096);
  stats.bytesInFlightPerWarp = 32 * 4 * 4;
  stats.bytesPerWeight = 0.5;
  return stats;
}

/// A GEMV with one 32-thread warp of one column and one row: a tile
/// iteration consumes 1024 weights; the loop below holds 34 FFMA (the
/// configuration's 32 + 2), 36 LOP3 (a lane's 32 fields and 4 shifts' worth)
/// and 2 barriers per tile, and a branch. Groups of one unit: the layout
/// does not pair units, so each unit pays its zero point and scale.
TEST(KernelStatsCounts, DividesLoopCountsByTheConfigurationsWeights) {
  LinearShape shape;
  shape.k = 4096;
  shape.n = 64;
  shape.group = 32;
  KernelStats stats = oneWarpGemvStats(shape);
  // K = 4096 in one split is four tiles per block: the loop covers two
  // (gemvTilesPerIteration), 2 x 34 FFMA for the block's 2 x 1024 weights.
  analyzeSass(parseListing(loopListing(68, 72, 4))[0], stats);
  ASSERT_EQ(stats.bodies.size(), 1u);
  const RowBody &body = stats.bodies[0];
  EXPECT_TRUE(body.loopFound);
  EXPECT_EQ(body.mathFound, 68);
  EXPECT_EQ(body.mathExpected, 68);
  EXPECT_EQ(body.weightsPerIteration, 2048);
  EXPECT_EQ(body.instructions, 145u);
  EXPECT_DOUBLE_EQ(body.instructionsPerWeight, 145.0 * 32 / 2048);
  EXPECT_DOUBLE_EQ(body.perPipe[static_cast<int>(Pipe::Alu)], 72.0 * 32 / 2048);
  EXPECT_DOUBLE_EQ(body.perPipe[static_cast<int>(Pipe::Fma)], 68.0 * 32 / 2048);
  // One estimate per named sm_90 GPU (H100 and H200).
  EXPECT_EQ(body.estimates.size(), 2u);
  for (const BandwidthEstimate &e : body.estimates)
    EXPECT_LE(e.estimateGBs, e.peakGBs + 1e-9);
}

/// A grid of more blocks than the GPU holds at once: 304 one-warp blocks at
/// 2 resident per SM on an H100's 132 SMs run as a full wave of 264 and a
/// tail of 40. With 512 bytes in flight per block both waves are bound by
/// Little's law, each at its own blocks in flight, and each moves its
/// blocks' share of the weights.
TEST(KernelStatsCounts, ATailWaveRunsAtItsOwnBound) {
  // One-warp blocks of one column each, 2 resident per SM, 512 bytes in
  // flight, analysed.
  auto statsForColumns = [](int64_t columns) {
    LinearShape shape;
    shape.k = 4096;
    shape.n = columns;
    shape.group = 32;
    KernelStats stats = oneWarpGemvStats(shape);
    stats.occupancy = Occupancy{2, 2, "registers"};
    stats.bytesInFlightPerWarp = 512;
    analyzeSass(parseListing(loopListing(68, 72, 4))[0], stats);
    return stats;
  };
  KernelStats stats = statsForColumns(304);
  ASSERT_EQ(stats.bodies.size(), 1u);
  ASSERT_EQ(stats.bodies[0].estimates.size(), 2u);
  const BandwidthEstimate &h100 = stats.bodies[0].estimates[0];
  EXPECT_EQ(h100.gpu, "H100 SXM");
  // Packed weights (0.5 bytes each) per second with `blocks` in flight.
  auto littlesLaw = [](double blocks) { return blocks * 512 / 600e-9 / 0.5; };
  const double secondsPerWeight =
      264.0 / 304 / littlesLaw(264) + 40.0 / 304 / littlesLaw(40);
  EXPECT_NEAR(h100.estimateGBs, 0.5 / secondsPerWeight / 1e9, 1e-6);
  EXPECT_DOUBLE_EQ(h100.waves, 304.0 / 264);
  EXPECT_EQ(h100.limitedBy, "latency");
  EXPECT_EQ(h100.tailLimitedBy, "latency");
  EXPECT_NEAR(h100.tailGBs, littlesLaw(40) * 0.5 / 1e9, 1e-6);
  EXPECT_NEAR(h100.latencyBoundGBs, littlesLaw(264) * 0.5 / 1e9, 1e-6);

  // One wave (a grid the GPU holds at once): no tail.
  stats = statsForColumns(200);
  const BandwidthEstimate &one = stats.bodies[0].estimates[0];
  EXPECT_TRUE(one.tailLimitedBy.empty());
  EXPECT_NEAR(one.estimateGBs, littlesLaw(200) * 0.5 / 1e9, 1e-6);
}

/// Loops with every FFMA of two tiles but not the rest of their work: one
/// tile's barriers only (the other's staging was moved out), or a decode op
/// for only half the fields (the decode of a buffer the loop no longer
/// reloads was hoisted out: ptxas does that to a loop that runs once).
/// Counting either would understate the kernel.
TEST(KernelStatsCounts, LoopWithoutTheWholeTileBodyIsAnError) {
  LinearShape shape;
  shape.k = 4096;
  shape.n = 64;
  shape.group = 32; // Unpaired units: two barriers per tile.
  GemvParams params{32, 1, 1, 1};
  KernelStats stats;
  stats.name = "k";
  stats.target = "sm_90";
  stats.instance = KernelInstance::makeGemv(shape, params);
  const struct { int lop3, barriers; } cases[] = {{64, 2}, {32, 4}};
  for (const auto &c : cases) {
    SCOPED_TRACE(std::to_string(c.lop3) + " LOP3, " +
                 std::to_string(c.barriers) + " barriers");
    try {
      analyzeSass(parseListing(loopListing(68, c.lop3, c.barriers))[0], stats);
      ADD_FAILURE() << "a loop without its whole body was counted";
    } catch (const Error &e) {
      EXPECT_NE(std::string(e.what()).find(
                    std::to_string(c.barriers) + " barrier(s) and " +
                    std::to_string(c.lop3) +
                    " LOP3/PRMT/IMAD.HI, expected at least 4 and 64"),
                std::string::npos)
          << e.what();
    }
  }
  // The same loop with its whole body is counted, also where a multiply
  // high decodes some fields (a 4-bit word's top nibble) but not where
  // another IMAD stands in for them.
  EXPECT_NO_THROW(analyzeSass(parseListing(loopListing(68, 64, 4))[0], stats));
  EXPECT_NO_THROW(
      analyzeSass(parseListing(loopListing(68, 56, 4, 8))[0], stats));
  EXPECT_THROW(analyzeSass(parseListing(loopListing(68, 56, 4, 8,
                                                    "IMAD.SHL.U32 R5, R4, "
                                                    "0x10, RZ"))[0],
                           stats),
               Error);
}

/// Groups of 128 values and K of whole tile pairs: the one-row body pays
/// the zero point and the scale once per pair of units (2 FFMA per column
/// for two tiles, 66 in all) and stages both tiles at once (2 barriers per
/// iteration). One barrier is still too few.
TEST(KernelStatsCounts, PairedUnitsPayZeroPointAndScaleOncePerSpan) {
  LinearShape shape;
  shape.k = 4096;
  shape.n = 64;
  ASSERT_EQ(gemvPairedUnits(shape.k, shape.group), 128);
  ASSERT_TRUE(gemvPairsRuns(shape, GemvParams{32, 1, 1, 1}));
  KernelStats stats = oneWarpGemvStats(shape);
  analyzeSass(parseListing(loopListing(66, 64, 2))[0], stats);
  ASSERT_EQ(stats.bodies.size(), 1u);
  EXPECT_EQ(stats.bodies[0].mathFound, 66);
  EXPECT_EQ(stats.bodies[0].mathExpected, 66);
  EXPECT_EQ(stats.bodies[0].weightsPerIteration, 2048);
  stats.bodies.clear();
  try {
    analyzeSass(parseListing(loopListing(66, 64, 1))[0], stats);
    ADD_FAILURE() << "a span's loop with one barrier was counted";
  } catch (const Error &e) {
    EXPECT_NE(
        std::string(e.what()).find("1 barrier(s) and 64 LOP3/PRMT/IMAD.HI, "
                                   "expected at least 2 and 64"),
        std::string::npos)
        << e.what();
  }
}

TEST(KernelStatsCounts, MissingRowBodyLoopsAreAnError) {
  LinearShape shape;
  shape.k = 4096;
  shape.n = 64;
  GemvParams params{32, 1, 1, 2}; // Two row bodies, one loop below.
  KernelStats stats;
  stats.name = "k";
  stats.target = "sm_90";
  stats.instance = KernelInstance::makeGemv(shape, params);
  const std::string text = "\t.section\t.text.k,\"ax\",@progbits\n.L_x_0:\n"
                           "        /*0000*/  FFMA R1, R2, R3, R1 ;\n"
                           "        /*0010*/  @P0 BRA `(.L_x_0) ;\n"
                           "        /*0020*/  EXIT ;\n";
  EXPECT_THROW(analyzeSass(parseListing(text)[0], stats), Error);
}

/// A report with row bodies of the given rows and instructions per weight,
/// as analyzeSass leaves them.
KernelStats reportWithBodies(const std::string &name,
                             const KernelInstance &instance,
                             std::vector<std::pair<int64_t, double>> bodies) {
  KernelStats stats;
  stats.name = name;
  stats.target = "sm_90";
  stats.instance = instance;
  for (const auto &[rows, perWeight] : bodies) {
    RowBody body;
    body.rows = rows;
    body.loopFound = true;
    body.instructionsPerWeight = perWeight;
    stats.bodies.push_back(body);
  }
  return stats;
}

/// A 4096 x 4096 layer (4-bit, group 128).
LinearShape squareLayer() {
  LinearShape shape;
  shape.k = 4096;
  shape.n = 4096;
  return shape;
}

/// A GEMV of up to 4 rows per block (M = 1..7) and a GEMM from M = 8 with a
/// small-M body of 16 rows and a row split of 64. Costs written out: M rows
/// of the GEMV run chunks of 4 rows, each the smallest power-of-two body;
/// the GEMM runs one pass per 64-row M tile.
TEST(KernelStatsRowsCost, SumsTheBodiesOfEachPassOfTheKernelServingM) {
  const LinearShape shape = squareLayer();
  const KernelInstance gemv =
      KernelInstance::makeGemv(shape, GemvParams{128, 8, 1, 4});
  GemmParams tiling;
  tiling.tileM = 64;
  tiling.tileN = 128;
  tiling.tileK = 128;
  tiling.warpsM = 2;
  tiling.warpsN = 2;
  tiling.stages = 3;
  const KernelInstance gemm = KernelInstance::makeGemm(shape, tiling);
  ASSERT_EQ(gemmSmallBodyRows(shape, tiling), 16);
  const std::vector<KernelStats> reports = {
      reportWithBodies("v", gemv, {{1, 2.5}, {2, 4.0}, {4, 7.0}}),
      reportWithBodies("m", gemm, {{16, 3.0}, {64, 6.0}})};
  const std::vector<bundle::KernelUse> uses = {
      {"v", KernelFamily::Gemv, 1, 7}, {"m", KernelFamily::Gemm, 8, 200}};
  LayerRowsCost layer{
      "layer", "sm_90",
      costByRows(uses, reports, "sm_90", {1, 2, 3, 5, 7, 8, 16, 17, 129, 300})};
  // M = 300 is beyond every kernel's range: no cost.
  ASSERT_EQ(layer.costs.size(), 9u);
  struct Expected {
    int64_t m;
    const char *kernel;
    std::vector<int64_t> passes;
    double perWeight;
  };
  const Expected expected[] = {{1, "v", {1}, 2.5},
                               {2, "v", {2}, 4.0},
                               {3, "v", {4}, 7.0},
                               {5, "v", {4, 1}, 9.5},
                               {7, "v", {4, 4}, 14.0},
                               {8, "m", {16}, 3.0},
                               {16, "m", {16}, 3.0},
                               {17, "m", {64}, 6.0},
                               {129, "m", {64, 64, 64}, 18.0}};
  for (size_t i = 0; i < layer.costs.size(); ++i) {
    const RowsCost &cost = layer.costs[i];
    SCOPED_TRACE("M = " + std::to_string(expected[i].m));
    EXPECT_EQ(cost.m, expected[i].m);
    EXPECT_EQ(cost.kernel, expected[i].kernel);
    EXPECT_EQ(cost.passes, expected[i].passes);
    EXPECT_TRUE(cost.counted);
    EXPECT_DOUBLE_EQ(cost.instructionsPerWeight, expected[i].perWeight);
  }
  EXPECT_FALSE(layer.perExtraRow(layer.costs[0]).has_value());
  EXPECT_DOUBLE_EQ(*layer.perExtraRow(layer.costs[1]), 1.5);
  EXPECT_DOUBLE_EQ(*layer.perExtraRow(layer.costs[3]), (9.5 - 2.5) / 4);
  EXPECT_DOUBLE_EQ(*layer.perExtraRow(layer.costs[6]), (3.0 - 2.5) / 15);
}

/// A body without a loop leaves its cost uncounted; a kernel serving M
/// without a report, or without the body M needs, is an error.
TEST(KernelStatsRowsCost, UncountedBodiesAndMissingReports) {
  const KernelInstance gemv =
      KernelInstance::makeGemv(squareLayer(), GemvParams{128, 8, 1, 2});
  KernelStats report = reportWithBodies("v", gemv, {{1, 2.5}, {2, 4.0}});
  report.bodies[1].loopFound = false;
  const std::vector<bundle::KernelUse> uses = {{"v", KernelFamily::Gemv, 1, 8}};
  LayerRowsCost layer{"layer", "sm_90",
                      costByRows(uses, {report}, "sm_90", {1, 3})};
  ASSERT_EQ(layer.costs.size(), 2u);
  EXPECT_TRUE(layer.costs[0].counted);
  EXPECT_FALSE(layer.costs[1].counted);
  EXPECT_EQ(layer.costs[1].passes, (std::vector<int64_t>{2, 1}));
  EXPECT_FALSE(layer.perExtraRow(layer.costs[1]).has_value());

  EXPECT_THROW(costByRows(uses, {report}, "sm_80", {1}), Error);
  report.bodies.pop_back();
  EXPECT_THROW(costByRows(uses, {report}, "sm_90", {2}), Error);
}

TEST(Occupancy, RegistersSharedMemoryWarpsAndBlocks) {
  const ArchInfo &h100 = *findArch(90);
  // The 4-bit GEMV at 246 registers: 248 x 32 per warp, 8 warps.
  Occupancy o = computeOccupancy(h100, 128, 246, 16912);
  EXPECT_EQ(o.blocks, 2);
  EXPECT_EQ(o.warps, 8);
  EXPECT_EQ(o.limitedBy, "registers");
  // 32 registers, 48 KB of shared memory: 4 blocks by shared memory.
  o = computeOccupancy(h100, 128, 32, 48 * 1024);
  EXPECT_EQ(o.blocks, 4);
  EXPECT_EQ(o.limitedBy, "shared memory");
  // Tiny blocks: the block limit.
  o = computeOccupancy(h100, 32, 16, 0);
  EXPECT_EQ(o.blocks, 32);
  EXPECT_EQ(o.limitedBy, "blocks");
  // 1024-thread blocks at 32 registers: warps and registers both allow 2.
  o = computeOccupancy(h100, 1024, 32, 0);
  EXPECT_EQ(o.blocks, 2);
  EXPECT_EQ(o.limitedBy, "registers+warps");
}

TEST(GpuParts, AgreeWithTheArchitectureTable) {
  for (const GpuPart &gpu : kGpuParts) {
    const ArchInfo *arch = findArch(gpu.smVersion);
    ASSERT_NE(arch, nullptr) << gpu.name;
    EXPECT_GT(gpu.boostClockGHz, 0.5) << gpu.name;
    EXPECT_GT(gpu.dramBandwidthGBs, 100) << gpu.name;
    if (std::strcmp(arch->part, gpu.name) == 0) {
      EXPECT_EQ(arch->smCount, gpu.smCount) << gpu.name;
    }
  }
}

} // namespace
} // namespace awq
