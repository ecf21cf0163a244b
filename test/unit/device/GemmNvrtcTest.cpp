//===- GemmNvrtcTest.cpp - GEMM kernels compile for sm_80..90, no spills --===//
//
// Compiles the tilings chooseGemmKernelSpec recommends, to real CUBINs for
// sm_80, sm_86, sm_89 and sm_90, and requires ptxas to report zero spill
// bytes and no stack frame for every kernel. Two sweeps per architecture:
// the LLaMA-2-7B shapes, 8192 x 28672 and small odd layers (3 and 4 bits);
// and every bits (3/4/8) x group (32/64/128/per column) x zero point/
// symmetric combination. Both rotate the expected-M regime and the epilogue.
// Each kernel costs about a second of NVRTC + ptxas time, hence sweeps
// rather than the full cross product. Needs NVRTC only (no GPU).
//
//===----------------------------------------------------------------------===//
#include "runtime/kernels/GemmLayout.h"
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
  int smCount;
  bool shapes; ///< true: every shape; false: every bits x group x zp.
};

std::string archName(int arch) { return "sm_" + std::to_string(arch); }

void PrintTo(const ArchSweep &sweep, std::ostream *os) {
  *os << archName(sweep.arch) << (sweep.shapes ? " shapes" : " bits/groups");
}

/// One kernel of a sweep.
struct SweepKernel {
  std::string name, type, source;
};

/// The kernels of one sweep, deduplicated. Every kernel is a tiling that
/// chooseGemmKernelSpec recommends; the expected-M regime (16, 32, 64, 256
/// rows: the four M tiles) and the epilogue rotate with the layer, so each
/// sweep meets every regime and epilogue.
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
  const int64_t expectedRows[] = {16, 32, 64, 256};
  GemmEpilogue epilogues[4];
  epilogues[1].actScale = epilogues[1].bias = epilogues[1].residual = true;
  epilogues[2].siluMul = epilogues[2].bias = true;
  epilogues[3].actScale = epilogues[3].residual = epilogues[3].siluMul = true;

  std::vector<SweepKernel> kernels;
  std::set<std::string> seen;
  for (size_t i = 0; i < layers.size(); ++i) {
    const Layer &l = layers[i];
    QuantParams params;
    params.bits = l.bits;
    params.groupSize = l.group ? l.group : l.k;
    params.zeroPoint = l.zeroPoint;
    // i / 4 shifts the epilogue against the M regime between rounds.
    const GemmKernelSpec spec =
        chooseGemmKernelSpec(l.k, l.n, params, epilogues[(i + i / 4) % 4],
                             expectedRows[i % 4], sweep.arch, sweep.smCount);
    SweepKernel kernel;
    kernel.type = gemmConfigType(spec);
    if (!seen.insert(kernel.type).second)
      continue;
    kernel.name = "gemm_" + std::to_string(kernels.size());
    kernel.source = gemmKernelSource(spec, kernel.name);
    kernels.push_back(kernel);
  }
  return kernels;
}

class GemmNvrtc : public ::testing::TestWithParam<ArchSweep> {};

TEST_P(GemmNvrtc, RecommendedTilingsCompileWithoutSpills) {
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
    ::testing::Values(ArchSweep{80, 108, true}, ArchSweep{80, 108, false},
                      ArchSweep{86, 84, true}, ArchSweep{86, 84, false},
                      ArchSweep{89, 128, true}, ArchSweep{89, 128, false},
                      ArchSweep{90, 132, true}, ArchSweep{90, 132, false}),
    [](const ::testing::TestParamInfo<ArchSweep> &info) {
      return archName(info.param.arch) +
             (info.param.shapes ? "_shapes" : "_bits_groups");
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

TEST(GemmNvrtcConstraints, StaticAssertsNameTheConstraint) {
  const struct {
    const char *args;
    const char *message;
  } cases[] = {
      {"4096, 4096, 4, 128, true, 24, 256, 64, 1, 4, 3, 1, false, false, "
       "false, false",
       "TileM must be a multiple of 16 * WarpsM"},
      {"4096, 4096, 4, 128, true, 64, 192, 64, 1, 4, 3, 1, false, false, "
       "false, false",
       "TileN must be a multiple of 64 * WarpsN"},
      {"4096, 4096, 4, 96, true, 64, 256, 64, 1, 4, 3, 1, false, false, "
       "false, false",
       "GroupSize must be K (one group per column) or a multiple of 32"},
      {"4100, 4096, 4, 4100, true, 64, 256, 64, 1, 4, 3, 1, false, false, "
       "false, false",
       "K must be a multiple of 8"},
      {"4096, 4096, 4, 128, true, 64, 256, 64, 1, 4, 5, 1, false, false, "
       "false, false",
       "Stages must be 2, 3 or 4"},
      {"256, 4096, 4, 128, true, 64, 256, 64, 1, 4, 3, 5, false, false, "
       "false, false",
       "SplitK must be between 1 and the number of K tiles"},
      {"4096, 4095, 4, 128, true, 64, 256, 64, 1, 4, 3, 1, false, false, "
       "false, true",
       "SiluMul needs an even N"},
  };
  for (const auto &c : cases) {
    const std::string error = compileError(c.args, "sm_80");
    EXPECT_NE(error.find(c.message), std::string::npos)
        << "config <" << c.args << ">: " << error;
  }
  // 4 stages of a 128 x 128 x 128 tile: fine for sm_90, too big for sm_86.
  const char *big = "4096, 4096, 4, 128, true, 128, 128, 128, 2, 2, 4, 1, "
                    "false, false, false, false";
  EXPECT_EQ(compileError(big, "sm_90"), "");
  EXPECT_NE(compileError(big, "sm_86")
                .find("sm_86/sm_89 allow 99 KB of shared memory per block"),
            std::string::npos);
}

} // namespace
} // namespace awq
