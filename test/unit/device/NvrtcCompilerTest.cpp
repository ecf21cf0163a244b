//===- NvrtcCompilerTest.cpp - awq_nvrtc: CUBIN, logs, ptxas report -------===//

#include "runtime/nvrtc/NvrtcCompiler.h"

#include "runtime/support/Error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

namespace {

const char *kSaxpy = R"(#include "awq/platform.cuh"
extern "C" __global__ void saxpy(float a, const float *x, float *y) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  y[i] = a * x[i] + y[i];
}
)";

TEST(NvrtcCompiler, CompilesToCubinWithResourceReport) {
  const awq::CompileResult r = awq::compileToCubin(kSaxpy, "saxpy.cu", {});
  ASSERT_GE(r.cubin.size(), 4u);
  EXPECT_TRUE(std::equal(r.cubin.begin(), r.cubin.begin() + 4,
                         "\x7f"
                         "ELF"));
  EXPECT_EQ(r.arch, "sm_80");
  const awq::KernelResources *k = r.find("saxpy");
  ASSERT_NE(k, nullptr) << r.log;
  EXPECT_TRUE(k->isEntry);
  EXPECT_EQ(k->arch, "sm_80");
  EXPECT_GT(k->registers, 0);
  EXPECT_EQ(k->spillStoreBytes, 0);
  EXPECT_GT(k->constantBytes, 0);
  EXPECT_GT(r.seconds, 0.0);
}

TEST(NvrtcCompiler, ReportsStaticSharedMemoryAndDefines) {
  const std::string source = R"(#include "awq/platform.cuh"
extern "C" __global__ void tile(float *out) {
  __shared__ float buffer[SIZE];
  buffer[threadIdx.x] = threadIdx.x;
  __syncthreads();
  out[threadIdx.x] = buffer[SIZE - 1 - threadIdx.x];
}
)";
  awq::NvrtcOptions options;
  options.arch = "sm_90";
  options.defines = {"SIZE=256"};
  const awq::CompileResult r = awq::compileToCubin(source, "tile.cu", options);
  const awq::KernelResources *k = r.find("tile");
  ASSERT_NE(k, nullptr) << r.log;
  EXPECT_EQ(k->sharedBytes, 1024);
  EXPECT_EQ(k->arch, "sm_90");
  EXPECT_GE(k->barriers, 1);
}

TEST(NvrtcCompiler, CompileErrorShowsLogAndNumberedSource) {
  const std::string source = "#include \"awq/platform.cuh\"\n"
                             "extern \"C\" __global__ void broken() {\n"
                             "  undeclared_name = 1;\n"
                             "}\n";
  try {
    awq::compileToCubin(source, "broken.cu", {});
    FAIL() << "compiled broken source";
  } catch (const awq::Error &e) {
    const std::string text = e.what();
    EXPECT_NE(text.find("broken.cu"), std::string::npos) << text;
    EXPECT_NE(text.find("undeclared_name"), std::string::npos) << text;
    EXPECT_NE(text.find("    3 |   undeclared_name = 1;"), std::string::npos)
        << text;
  }
}

TEST(NvrtcCompiler, RejectsBadArchitectures) {
  awq::NvrtcOptions options;
  for (const char *arch : {"sm80", "sm_8", "compute80", "sm_80x", ""}) {
    options.arch = arch;
    EXPECT_THROW(awq::compileToCubin(kSaxpy, "saxpy.cu", options), awq::Error)
        << arch;
  }
  options.arch = "sm_20"; // Well-formed, long unsupported.
  EXPECT_THROW(awq::compileToCubin(kSaxpy, "saxpy.cu", options), awq::Error);
}

TEST(NvrtcCompiler, VirtualArchitecturesGivePtx) {
  awq::NvrtcOptions options;
  options.arch = "compute_80";
  const awq::CompileResult result =
      awq::compileToCubin(kSaxpy, "saxpy.cu", options);
  EXPECT_TRUE(result.cubin.empty());
  EXPECT_NE(result.ptx.find(".target sm_80"), std::string::npos);
  EXPECT_NE(result.ptx.find(".entry"), std::string::npos);
  EXPECT_EQ(result.ptx.find('\0'), std::string::npos);
  options.arch = "compute_20"; // Well-formed, long unsupported.
  EXPECT_THROW(awq::compileToCubin(kSaxpy, "saxpy.cu", options), awq::Error);
}

TEST(NvrtcCompiler, SupportedArchsIncludeTargets) {
  const std::vector<std::string> archs = awq::nvrtcSupportedArchs();
  for (const char *arch : {"sm_80", "sm_86", "sm_89", "sm_90"})
    EXPECT_NE(std::find(archs.begin(), archs.end(), arch), archs.end()) << arch;
  EXPECT_FALSE(awq::nvrtcVersionString().empty());
}

TEST(NvrtcCompiler, LowersTemplateNameExpressions) {
  const std::string source = R"(#include "awq/platform.cuh"
template <int N> __global__ void fill(int *out) { out[threadIdx.x] = N; }
template __global__ void fill<7>(int *);
)";
  awq::NvrtcOptions options;
  options.nameExpressions = {"fill<7>"};
  const awq::CompileResult r = awq::compileToCubin(source, "fill.cu", options);
  ASSERT_EQ(r.loweredNames.count("fill<7>"), 1u);
  const std::string lowered = r.loweredNames.at("fill<7>");
  EXPECT_NE(lowered.find("fill"), std::string::npos);
  EXPECT_NE(r.find(lowered), nullptr) << r.log;
}

TEST(NvrtcCompiler, DequantRefusesFlushToZero) {
  awq::NvrtcOptions options;
  options.extraOptions = {"--ftz=true"};
  try {
    awq::compileToCubin("#include \"awq/dequant.cuh\"\n", "ftz.cu", options);
    FAIL() << "dequant.cuh compiled with --ftz=true";
  } catch (const awq::Error &e) {
    EXPECT_NE(std::string(e.what()).find("ftz"), std::string::npos);
  }
}

TEST(NvrtcCompiler, ParsesPtxasReport) {
  const std::string log =
      "ptxas info    : 0 bytes gmem\n"
      "ptxas info    : Function properties for helper\n"
      "ptxas         .     24 bytes stack frame, 8 bytes spill stores, 12 "
      "bytes spill loads\n"
      "ptxas info    : Compiling entry function 'kern' for 'sm_86'\n"
      "ptxas info    : Function properties for kern\n"
      "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 "
      "bytes spill loads\n"
      "ptxas info    : Used 40 registers, used 1 barriers, 512 bytes smem, "
      "380 bytes cmem[0]\n"
      "some other line\n";
  const std::vector<awq::KernelResources> kernels = awq::parsePtxasReport(log);
  ASSERT_EQ(kernels.size(), 2u);
  EXPECT_EQ(kernels[0].name, "helper");
  EXPECT_FALSE(kernels[0].isEntry);
  EXPECT_EQ(kernels[0].stackBytes, 24);
  EXPECT_EQ(kernels[0].spillStoreBytes, 8);
  EXPECT_EQ(kernels[0].spillLoadBytes, 12);
  EXPECT_EQ(kernels[1].name, "kern");
  EXPECT_TRUE(kernels[1].isEntry);
  EXPECT_EQ(kernels[1].arch, "sm_86");
  EXPECT_EQ(kernels[1].registers, 40);
  EXPECT_EQ(kernels[1].barriers, 1);
  EXPECT_EQ(kernels[1].sharedBytes, 512);
  EXPECT_EQ(kernels[1].constantBytes, 380);
  EXPECT_TRUE(awq::parsePtxasReport("").empty());
}

TEST(NvrtcCompiler, DeviceIncludeDirHonoursEnvironment) {
  const std::string builtIn = awq::deviceIncludeDir();
  EXPECT_FALSE(builtIn.empty());
  ASSERT_EQ(setenv("AWQ_DEVICE_INCLUDE_DIR", "/nonexistent/awq", 1), 0);
  EXPECT_EQ(awq::deviceIncludeDir(), "/nonexistent/awq");
  EXPECT_THROW(awq::compileToCubin(kSaxpy, "saxpy.cu", {}), awq::Error);
  ASSERT_EQ(unsetenv("AWQ_DEVICE_INCLUDE_DIR"), 0);
  EXPECT_EQ(awq::deviceIncludeDir(), builtIn);
}

TEST(NvrtcCompiler, NumberSourceLines) {
  EXPECT_EQ(awq::numberSourceLines("a\nb\n"), "    1 | a\n    2 | b\n");
}

} // namespace
