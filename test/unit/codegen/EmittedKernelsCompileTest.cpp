//===- EmittedKernelsCompileTest.cpp - Every emitted kernel builds --------===//
//
// Runs the whole pipeline on representative layers (LLaMA-2-7B's shapes,
// LLaMA-3-70B's MLP, small odd ones, every bit width, group kind and
// epilogue) for each supported architecture, emits the CUDA, and compiles
// every kernel with NVRTC to CUBIN, requiring zero spill bytes in ptxas'
// report. No GPU is needed.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/CudaEmitter.h"
#include "dialects/awq/AwqDialect.h"
#include "passes/Passes.h"
#include "runtime/nvrtc/NvrtcCompiler.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <sstream>
#include <thread>

using namespace mlir;

namespace {

struct Layer {
  int64_t k, n;
  int bits;
  int64_t group; // 0: one group per column
  bool zeroPoint;
  std::string extras; // bias / act_scale / residual / silu
};

/// A function with one linear per layer, named after its index.
std::string moduleText(const std::vector<Layer> &layers,
                       const std::string &target) {
  std::ostringstream os;
  os << "module attributes {awq.target = \"" << target << "\"} {\n";
  for (size_t i = 0; i < layers.size(); ++i) {
    const Layer &l = layers[i];
    int64_t group = l.group ? l.group : l.k;
    bool silu = l.extras.find("silu") != std::string::npos;
    int64_t nOut = silu ? l.n / 2 : l.n;
    std::string w =
        "!awq.qweight<k = " + std::to_string(l.k) +
        ", n = " + std::to_string(l.n) + ", bits = " + std::to_string(l.bits) +
        ", group = " + std::to_string(group) + ", " +
        (l.zeroPoint ? "zero_point" : "symmetric") + ", autoawq_gemm>";
    std::string x = "tensor<?x" + std::to_string(l.k) + "xf16>";
    std::string y = "tensor<?x" + std::to_string(nOut) + "xf16>";
    os << "func.func @layer" << i << "(%x: " << x << ", %r: " << y << ") -> "
       << y << " {\n  %w = awq.external \"layers." << i << "\" : " << w << "\n";
    std::string operands;
    if (l.extras.find("bias") != std::string::npos) {
      os << "  %b = awq.external \"layers." << i << ".bias\" : tensor<" << l.n
         << "xf16>\n";
      operands += " bias(%b : tensor<" + std::to_string(l.n) + "xf16>)";
    }
    if (l.extras.find("scale") != std::string::npos) {
      os << "  %s = awq.external \"layers." << i << ".scale\" : tensor<" << l.k
         << "xf16>\n";
      operands += " act_scale(%s : tensor<" + std::to_string(l.k) + "xf16>)";
    }
    if (l.extras.find("residual") != std::string::npos)
      operands += " residual(%r : " + y + ")";
    if (silu)
      operands += " epilogue silu_mul";
    os << "  %y = awq.linear %x, %w" << operands << " : " << x << ", " << w
       << " -> " << y << "\n  return %y : " << y << "\n}\n";
  }
  os << "}\n";
  return os.str();
}

std::vector<mlir::awq::EmittedKernel> emit(const std::string &text) {
  DialectRegistry registry;
  registry.insert<mlir::awq::AwqDialect, func::FuncDialect>();
  MLIRContext context(registry);
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, &context);
  EXPECT_TRUE(module) << text;
  if (!module)
    return {};
  PassManager pm(&context);
  mlir::awq::buildAwqPipeline(pm, mlir::awq::AwqPipelineOptions());
  EXPECT_TRUE(succeeded(pm.run(*module)));
  std::vector<mlir::awq::EmittedKernel> kernels;
  EXPECT_TRUE(succeeded(mlir::awq::emitKernels(*module, kernels)));
  return kernels;
}

/// Compiles every kernel on every core; returns "name@arch: problem" lines.
std::vector<std::string>
compileAll(const std::vector<mlir::awq::EmittedKernel> &kernels,
           const std::string &arch) {
  std::vector<std::string> problems;
  std::mutex mutex;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < kernels.size(); i = next++) {
      const auto &kernel = kernels[i];
      ::awq::NvrtcOptions options;
      options.arch = arch;
      std::string problem;
      try {
        ::awq::CompileResult result =
            ::awq::compileToCubin(kernel.source, kernel.name + ".cu", options);
        const ::awq::KernelResources *resources = result.find(kernel.name);
        if (!resources)
          problem = "no ptxas report for the entry point";
        else if (resources->spillStoreBytes != 0 ||
                 resources->spillLoadBytes != 0)
          problem = "spills " + std::to_string(resources->spillStoreBytes) +
                    " bytes stored, " +
                    std::to_string(resources->spillLoadBytes) + " loaded (" +
                    std::to_string(resources->registers) + " registers)";
        else if (result.cubin.empty())
          problem = "empty CUBIN";
      } catch (const std::exception &error) {
        problem = error.what();
      }
      if (!problem.empty()) {
        std::lock_guard<std::mutex> lock(mutex);
        problems.push_back(kernel.name + "@" + arch + ": " + problem);
      }
    }
  };
  unsigned threads =
      std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back(worker);
  for (std::thread &thread : pool)
    thread.join();
  return problems;
}

/// Representative layers: LLaMA-2-7B (attention, MLP with fused SiLU, down
/// projection with residual), LLaMA-3-70B's MLP, and small odd shapes
/// exercising N and K tails, every width and group kind.
const std::vector<Layer> &representativeLayers() {
  static const std::vector<Layer> layers = {
      {4096, 4096, 4, 128, true, ""},
      {4096, 22016, 4, 128, true, "silu"},
      {4096, 11008, 4, 128, true, ""},
      {11008, 4096, 4, 128, true, "residual"},
      {8192, 28672, 4, 128, true, ""},
      {4096, 4096, 3, 128, true, "scale"},
      {4096, 4096, 8, 64, false, "bias"},
      {4096, 4096, 4, 32, false, "residual"},
      {2048, 512, 4, 0, true, ""},
      {384, 96, 4, 128, true, "bias residual"},
      {96, 40, 8, 32, true, ""},
      {160, 64, 3, 32, false, "silu"},
  };
  return layers;
}

class EmittedKernelsCompile : public ::testing::TestWithParam<std::string> {};

TEST_P(EmittedKernelsCompile, AllKernelsBuildWithoutSpills) {
  std::string arch = GetParam();
  std::vector<mlir::awq::EmittedKernel> kernels =
      emit(moduleText(representativeLayers(), arch));
  // Every layer gets both families (none of these shapes rules one out).
  ASSERT_EQ(kernels.size(), 2 * representativeLayers().size());
  std::vector<std::string> problems = compileAll(kernels, arch);
  for (const std::string &problem : problems)
    ADD_FAILURE() << problem;
}

INSTANTIATE_TEST_SUITE_P(Targets, EmittedKernelsCompile,
                         ::testing::Values("sm_80", "sm_86", "sm_89", "sm_90"));

TEST(EmittedKernelsCompile, ExampleBlockBuildsForEveryTarget) {
  std::ifstream file(AWQC_SOURCE_DIR "/examples/llama-block.mlir");
  ASSERT_TRUE(file) << "examples/llama-block.mlir";
  std::stringstream text;
  text << file.rdbuf();
  std::vector<mlir::awq::EmittedKernel> kernels = emit(text.str());
  ASSERT_EQ(kernels.size(), 8u);
  for (const std::string arch : {"sm_80", "sm_86", "sm_89", "sm_90"})
    for (const std::string &problem : compileAll(kernels, arch))
      ADD_FAILURE() << problem;
}

} // namespace
