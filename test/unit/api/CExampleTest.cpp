//===- CExampleTest.cpp - examples/c-api/run_layer.c against the reference ===//
//
// Runs the C example (a plain C program on libawqc_runtime.so) on the
// llama-block bundle on the host with M = 3 and an output file, then checks
// the layer 0 output it wrote (int64 M, x fp16 [M, K], y fp16 [M, N_out])
// against the fp64 reference of the bundle's own weights. The example runs
// first, inside the test, so no ordering between tests is needed.
//
//===----------------------------------------------------------------------===//
#include "ApiTestSupport.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#ifndef AWQ_API_TEST_RUN_LAYER
#error "AWQ_API_TEST_RUN_LAYER (examples/c-api's run_layer) must be defined"
#endif

namespace {

using namespace awq::test;
using ::testing::HasSubstr;

/// Runs `command`, returns its exit status and its stdout and stderr.
std::pair<int, std::string> runCommand(const std::string &command,
                                       const std::string &logPath) {
  const int status =
      std::system((command + " >'" + logPath + "' 2>&1").c_str());
  std::ifstream in(logPath);
  std::stringstream text;
  text << in.rdbuf();
  return {status, text.str()};
}

TEST(CExampleTest, RunLayerOnHostMatchesTheReference) {
  const std::string dir = freshDir("c-example");
  const std::string out = dir + "/layer0.bin";
  const int64_t m = 3;
  const auto [status, log] = runCommand(
      std::string("'") + AWQ_API_TEST_RUN_LAYER + "' '" + testBundles().llama +
          "' host " + std::to_string(m) + " '" + out + "'",
      dir + "/run_layer.log");
  ASSERT_EQ(status, 0) << log;
  EXPECT_THAT(log, HasSubstr("4 layers, 8 kernels for sm_80 on host"));
  for (int layer = 0; layer < 4; ++layer)
    EXPECT_THAT(log, HasSubstr("layer " + std::to_string(layer) + ": "));

  const awq::bundle::Layer &layer0 = llamaBundle().manifest().layers.at(0);
  ASSERT_FALSE(layer0.shape.residual);
  const int64_t k = layer0.shape.k, nOut = layer0.shape.nOut();
  const std::vector<uint8_t> bytes = readBytes(out);
  ASSERT_EQ(bytes.size(), size_t(8 + 2 * m * k + 2 * m * nOut));
  int64_t written = 0;
  std::memcpy(&written, bytes.data(), 8);
  EXPECT_EQ(written, m);
  std::vector<uint16_t> x(size_t(m * k)), y(size_t(m * nOut));
  std::memcpy(x.data(), bytes.data() + 8, x.size() * 2);
  std::memcpy(y.data(), bytes.data() + 8 + x.size() * 2, y.size() * 2);

  const LayerReference reference(llamaBundle(), 0);
  const awq::KernelRunResult result = reference.check(x, {}, m, y);
  EXPECT_TRUE(result.ok()) << result.failures << " of " << result.count
                           << " elements outside the bound; worst "
                           << result.worst;
  EXPECT_EQ(result.nonFinite, 0);
}

TEST(CExampleTest, ReportsFailures) {
  const std::string dir = freshDir("c-example-failure");
  const auto [status, log] =
      runCommand(std::string("'") + AWQ_API_TEST_RUN_LAYER + "' '" + dir +
                     "/missing.awqb' host",
                 dir + "/run_layer.log");
  EXPECT_NE(status, 0);
  EXPECT_THAT(log, HasSubstr("awqc_model_open"));
  EXPECT_THAT(log, HasSubstr("AWQC_ERROR_IO"));
}

} // namespace
