//===- GemmNvrtcTest.cpp - GEMM kernels compile for sm_75..120, no spills -===//
//
// Compiles the tilings planGemm picks on each of sm_75 (register-staged
// tiles, m16n8k8), sm_80, sm_86, sm_89, sm_90 and sm_120 (emitted with
// KernelInstance::source) to real CUBINs and requires
// ptxas to report zero spill bytes and no stack frame for every kernel. Two
// sweeps per architecture: the LLaMA-2-7B shapes, 8192 x 28672 and small odd
// layers (3 and 4 bits) together with chosen tilings that reach the
// template's extremes (16- and 128-row tiles, 128-deep K tiles, 2 stages,
// 16-way split-K); and every bits (3/4/8) x group (32/64/128/per column) x
// zero point/symmetric combination. Both rotate the epilogue. Each kernel
// costs about a second of NVRTC + ptxas time, hence sweeps rather than the
// full cross product. bf16 activations: both sweeps on sm_80 and sm_90, the
// shapes sweep on sm_86 and sm_120; an sm_75 bf16 config is refused by its
// static_assert. Needs NVRTC only (no GPU).
//
//===----------------------------------------------------------------------===//
#include "runtime/kernels/KernelInstance.h"
#include "runtime/kernels/KernelPlan.h"
#include "runtime/nvrtc/NvrtcCompiler.h"
#include "runtime/support/Error.h"

#include <gtest/gtest.h>

#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace awq {
namespace {

/// One NVRTC test: an architecture and which family of layers to build.
struct ArchSweep {
  int arch;
  bool shapes; ///< true: every shape; false: every bits x group x zp.
  ActivationType activation = ActivationType::F16;
};

std::string archName(int arch) { return "sm_" + std::to_string(arch); }

void PrintTo(const ArchSweep &sweep, std::ostream *os) {
  *os << archName(sweep.arch) << (sweep.shapes ? " shapes" : " bits/groups")
      << " " << activationTypeName(sweep.activation);
}

/// One kernel of a sweep.
struct SweepKernel {
  std::string name, type, source;
};

LinearShape makeShape(int64_t k, int64_t n, int bits, int64_t group,
                      bool zeroPoint) {
  LinearShape shape;
  shape.k = k;
  shape.n = n;
  shape.bits = bits;
  shape.group = group ? group : k;
  shape.zeroPoint = zeroPoint;
  return shape;
}

/// The epilogue combinations the sweeps rotate through.
void setEpilogue(LinearShape &shape, size_t which) {
  shape.actScale = which == 1 || which == 3;
  shape.bias = which == 1 || which == 2;
  shape.residual = which == 1 || which == 3;
  shape.siluMul = which == 2 || which == 3;
}

/// The kernels of one sweep, deduplicated: the tiling planGemm picks for
/// each layer on the sweep's architecture (the epilogue rotates with the
/// layer), and in the shapes sweep the chosen extreme tilings.
std::vector<SweepKernel> sweepKernels(const ArchSweep &sweep) {
  struct Layer {
    int64_t k, n;
    int bits;
    int64_t group; // 0: one group per column
    bool zeroPoint;
  };
  std::vector<Layer> layers;
  if (sweep.shapes) {
    // LLaMA-2-7B (q/k/v/o, gate/up, down), a 70B-class MLP and small odd
    // layers whose N and K are not multiples of the tiles.
    const int64_t shapes[][2] = {{4096, 4096},  {4096, 11008}, {11008, 4096},
                                 {8192, 28672}, {384, 200},    {640, 72}};
    for (const auto &shape : shapes)
      for (int bits : {4, 3})
        layers.push_back({shape[0], shape[1], bits, 128, bits == 4});
    layers.push_back({200, 40, 8, 0, true});
    layers.push_back({200, 40, 4, 0, false});
  } else {
    for (int bits : {3, 4, 8})
      for (int64_t group : {int64_t(32), int64_t(64), int64_t(128), int64_t(0)})
        for (bool zeroPoint : {false, true})
          layers.push_back({4096, 11008, bits, group, zeroPoint});
  }
  const ArchInfo *arch = findArch(sweep.arch);
  std::vector<KernelInstance> instances;
  for (size_t i = 0; i < layers.size(); ++i) {
    const Layer &l = layers[i];
    LinearShape shape = makeShape(l.k, l.n, l.bits, l.group, l.zeroPoint);
    shape.activation = sweep.activation;
    // i / 4 shifts the epilogue against the layer order between rounds.
    setEpilogue(shape, (i + i / 4) % 4);
    const std::optional<GemmParams> planned = planGemm(shape, *arch);
    EXPECT_TRUE(planned.has_value())
        << l.k << "x" << l.n << " " << l.bits << "-bit on " << sweep.arch;
    if (planned)
      instances.push_back(KernelInstance::makeGemm(shape, *planned));
  }
  if (sweep.shapes) {
    // Tilings the planner does not pick, at the template's extremes:
    // 16-row tiles with 128-deep K steps and four warp columns, 32-row
    // tiles, 128-row tiles (64 x 64 per warp, the most accumulators), two
    // stages with 16 splits of K, on every bit width.
    const struct {
      LinearShape shape;
      GemmParams params;
      size_t epilogue;
    } chosen[] = {
        {makeShape(4096, 11008, 4, 128, true), {16, 256, 128, 1, 4, 4, 1}, 1},
        {makeShape(11008, 4096, 3, 128, false), {16, 256, 128, 1, 4, 4, 2}, 0},
        {makeShape(4096, 4096, 3, 64, true), {32, 256, 128, 1, 4, 3, 1}, 2},
        {makeShape(4096, 4096, 8, 128, true), {128, 128, 64, 2, 2, 3, 1}, 3},
        {makeShape(11008, 4096, 4, 128, true), {128, 128, 64, 2, 2, 3, 1}, 3},
        {makeShape(4096, 4096, 4, 0, true), {64, 128, 32, 2, 2, 2, 16}, 1},
    };
    for (const auto &c : chosen) {
      LinearShape shape = c.shape;
      shape.activation = sweep.activation;
      setEpilogue(shape, c.epilogue);
      const KernelInstance instance = KernelInstance::makeGemm(shape, c.params);
      EXPECT_EQ(instance.check(), "");
      // sm_75's 64 KB per block holds only some of them.
      if (arch->smVersion == 75 &&
          !checkGemmOnArch(shape, c.params, *arch).empty())
        continue;
      EXPECT_EQ(checkGemmOnArch(shape, c.params, *arch), "");
      instances.push_back(instance);
    }
  }

  std::vector<SweepKernel> kernels;
  std::set<std::string> seen;
  for (const KernelInstance &instance : instances) {
    SweepKernel kernel;
    kernel.type = instance.configType();
    if (!seen.insert(kernel.type).second)
      continue;
    kernel.name = "gemm_" + std::to_string(kernels.size());
    kernel.source = instance.source(kernel.name);
    kernels.push_back(kernel);
  }
  return kernels;
}

class GemmNvrtc : public ::testing::TestWithParam<ArchSweep> {};

TEST_P(GemmNvrtc, PlannedAndChosenTilingsCompileWithoutSpills) {
  const ArchSweep sweep = GetParam();
  const std::vector<SweepKernel> kernels = sweepKernels(sweep);
  ASSERT_GE(kernels.size(), 14u);
  // One program for all: the headers are parsed once.
  std::string source;
  for (const SweepKernel &kernel : kernels)
    source += kernel.source;

  NvrtcOptions options;
  options.arch = archName(sweep.arch);
  const CompileResult result =
      compileToCubin(source, "gemm_sweep_" + options.arch + ".cu", options);
  EXPECT_FALSE(result.cubin.empty());
  for (const SweepKernel &kernel : kernels) {
    SCOPED_TRACE(kernel.name + " = " + kernel.type + " on " + options.arch);
    const KernelResources *r = result.find(kernel.name);
    ASSERT_NE(r, nullptr) << "ptxas reported nothing for the kernel";
    EXPECT_TRUE(r->isEntry);
    EXPECT_GT(r->registers, 0);
    EXPECT_LE(r->registers, 255);
    EXPECT_EQ(r->spillStoreBytes, 0);
    EXPECT_EQ(r->spillLoadBytes, 0);
    EXPECT_EQ(r->stackBytes, 0);
  }
  RecordProperty("kernels", static_cast<int>(kernels.size()));
}

INSTANTIATE_TEST_SUITE_P(
    Archs, GemmNvrtc,
    ::testing::Values(ArchSweep{75, true}, ArchSweep{75, false},
                      ArchSweep{80, true}, ArchSweep{80, false},
                      ArchSweep{86, true}, ArchSweep{86, false},
                      ArchSweep{89, true}, ArchSweep{89, false},
                      ArchSweep{90, true}, ArchSweep{90, false},
                      ArchSweep{120, true}, ArchSweep{120, false},
                      ArchSweep{80, true, ActivationType::BF16},
                      ArchSweep{80, false, ActivationType::BF16},
                      ArchSweep{86, true, ActivationType::BF16},
                      ArchSweep{90, true, ActivationType::BF16},
                      ArchSweep{90, false, ActivationType::BF16},
                      ArchSweep{120, true, ActivationType::BF16}),
    [](const ::testing::TestParamInfo<ArchSweep> &info) {
      return archName(info.param.arch) +
             (info.param.shapes ? "_shapes" : "_bits_groups") +
             (info.param.activation == ActivationType::BF16 ? "_bf16" : "");
    });

/// Compiles a hand-written config and returns NVRTC's error text ("" when
/// it compiles).
std::string compileError(const std::string &configArgs,
                         const std::string &arch) {
  const std::string source = "#include \"awq/gemm.cuh\"\n"
                             "using BadConfig = awq::GemmConfig<" +
                             configArgs +
                             ">;\nAWQ_GEMM_KERNEL(bad_gemm, BadConfig)\n";
  NvrtcOptions options;
  options.arch = arch;
  options.ptxasVerbose = false;
  try {
    compileToCubin(source, "bad_gemm.cu", options);
  } catch (const Error &e) {
    return e.what();
  }
  return "";
}

/// The template arguments of `instance` (configType() without its name).
std::string templateArgs(const KernelInstance &instance) {
  const std::string type = instance.configType();
  const size_t open = type.find('<');
  return type.substr(open + 1, type.size() - open - 2);
}

TEST(GemmNvrtcConstraints, TemplatesRejectWhatTheContractRejects) {
  // Each breaks one rule: the template's static_assert refuses it, and
  // checkGemm (the same awq::gemmViolation on the host) names the rule.
  const struct {
    LinearShape shape;
    GemmParams params;
    const char *rule;
  } cases[] = {
      {makeShape(4096, 4096, 4, 128, true),
       {24, 256, 64, 1, 4, 3, 1},
       "tile_m must be a multiple of 16 x warps_m"},
      {makeShape(4096, 4096, 4, 128, true),
       {64, 192, 64, 1, 4, 3, 1},
       "tile_n must be a multiple of 64 x warps_n"},
      {makeShape(4096, 4096, 4, 96, true),
       {64, 256, 64, 1, 4, 3, 1},
       "the group size must be K (one group per column) or a multiple of 32"},
      {makeShape(4100, 4096, 4, 0, true),
       {64, 256, 64, 1, 4, 3, 1},
       "the GEMM kernel needs K to be a multiple of 8"},
      {makeShape(4096, 4096, 4, 128, true),
       {64, 256, 64, 1, 4, 5, 1},
       "stages must be 2, 3 or 4"},
      {makeShape(256, 4096, 4, 128, true),
       {64, 256, 64, 1, 4, 3, 5},
       "split_k must be at most the number of K tiles"},
      {[] {
         LinearShape s = makeShape(4096, 4095, 4, 128, true);
         s.siluMul = true;
         return s;
       }(),
       {64, 256, 64, 1, 4, 3, 1},
       "silu_mul needs an even N"},
  };
  for (const auto &c : cases) {
    const KernelInstance instance = KernelInstance::makeGemm(c.shape, c.params);
    const std::string args = templateArgs(instance);
    EXPECT_NE(instance.check().find(c.rule), std::string::npos)
        << "config <" << args << ">: " << instance.check();
    EXPECT_THROW(instance.source("bad_gemm"), Error) << args;
    const std::string error = compileError(args, "sm_80");
    EXPECT_NE(error.find("GemmConfig breaks the kernel contract"),
              std::string::npos)
        << "config <" << args << ">: " << error;
  }
  // 4 stages of a 128 x 128 x 128 tile: fine for sm_90, too big for sm_86.
  const LinearShape shape = makeShape(4096, 4096, 4, 128, true);
  const GemmParams big{128, 128, 128, 2, 2, 4, 1};
  const std::string args = templateArgs(KernelInstance::makeGemm(shape, big));
  EXPECT_EQ(checkGemm(shape, big), "");
  EXPECT_EQ(checkGemmOnArch(shape, big, *findArch(90)), "");
  EXPECT_NE(checkGemmOnArch(shape, big, *findArch(86)).find("on sm_86"),
            std::string::npos);
  EXPECT_EQ(compileError(args, "sm_90"), "");
  EXPECT_NE(compileError(args, "sm_86")
                .find("the tiles need more shared memory than a block may "
                      "use on this architecture"),
            std::string::npos);

  // 128 x 128 x 64 tiles on 4 warps fit sm_75's shared memory, but each
  // thread would stage 11 chunks in registers next to 128 accumulators.
  const GemmParams tall{128, 128, 64, 2, 2, 2, 1};
  const std::string tallArgs =
      templateArgs(KernelInstance::makeGemm(shape, tall));
  EXPECT_EQ(gemmStagedChunks(shape, tall), 11);
  EXPECT_EQ(checkGemmOnArch(shape, tall, *findArch(80)), "");
  EXPECT_NE(checkGemmOnArch(shape, tall, *findArch(75))
                .find("stages its share of a K tile in registers"),
            std::string::npos);
  EXPECT_EQ(compileError(tallArgs, "sm_80"), "");
  EXPECT_NE(compileError(tallArgs, "sm_75")
                .find("without cp.async a thread stages more"),
            std::string::npos);

  // bf16 needs sm_80+: the template refuses sm_75 as the planner does.
  LinearShape bf16 = shape;
  bf16.activation = ActivationType::BF16;
  const GemmParams small{16, 128, 64, 1, 2, 2, 1};
  const std::string bf16Args =
      templateArgs(KernelInstance::makeGemm(bf16, small));
  EXPECT_NE(bf16Args.find("awq::ActivationType::BF16"), std::string::npos);
  EXPECT_EQ(checkGemm(bf16, small), "");
  EXPECT_NE(checkGemmOnArch(bf16, small, *findArch(75)).find("sm_80"),
            std::string::npos);
  EXPECT_FALSE(planGemm(bf16, *findArch(75)).has_value());
  EXPECT_EQ(compileError(bf16Args, "sm_80"), "");
  EXPECT_NE(compileError(bf16Args, "sm_75")
                .find("bf16 activations need sm_80 or newer"),
            std::string::npos);
}

} // namespace
} // namespace awq
