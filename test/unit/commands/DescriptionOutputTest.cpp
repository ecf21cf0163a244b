//===- DescriptionOutputTest.cpp - The model.json awqc quantize writes ----===//
//
// The description next to the checkpoint must be what the compiler derives
// from the checkpoint (describeCheckpoint), plus the activation scales that
// could not be folded.
//
//===----------------------------------------------------------------------===//

#include "test/unit/commands/CommandsTestSupport.h"

#include "compiler/formats/ModelDescription.h"
#include "compiler/formats/QuantizedCheckpoint.h"
#include "runtime/support/Half.h"

#include <cmath>
#include <cstring>
#include <filesystem>

namespace awq {
namespace {

using test::CommandRun;
using test::TempDir;

void expectSameLayers(const ModelDescription &a, const ModelDescription &b) {
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const LayerDescription &x = a.layers[i], &y = b.layers[i];
    SCOPED_TRACE(x.name);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.k, y.k);
    EXPECT_EQ(x.n, y.n);
    EXPECT_EQ(x.bits, y.bits);
    EXPECT_EQ(x.groupSize, y.groupSize);
    EXPECT_EQ(x.zeroPoint, y.zeroPoint);
    EXPECT_EQ(x.bias, y.bias);
    EXPECT_EQ(x.inputGroup, y.inputGroup);
    EXPECT_EQ(x.weights, y.weights);
    EXPECT_EQ(x.epilogue.kind, y.epilogue.kind);
    EXPECT_EQ(x.epilogue.partner, y.epilogue.partner);
    EXPECT_EQ(x.epilogue.residual, y.epilogue.residual);
  }
  ASSERT_EQ(a.inputGroups.size(), b.inputGroups.size());
  for (size_t i = 0; i < a.inputGroups.size(); ++i) {
    EXPECT_EQ(a.inputGroups[i].name, b.inputGroups[i].name);
    EXPECT_EQ(a.inputGroups[i].producer.kind, b.inputGroups[i].producer.kind);
    EXPECT_EQ(a.inputGroups[i].producer.name, b.inputGroups[i].producer.name);
    EXPECT_EQ(a.inputGroups[i].producer.weight,
              b.inputGroups[i].producer.weight);
  }
}

class DescriptionOutputTest : public testing::TestWithParam<bool> {};

TEST_P(DescriptionOutputTest, MatchesDescribeCheckpointPlusScales) {
  const bool foldOnly = GetParam();
  TempDir dir;
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  test::synthesize(dir / "fp16", seed, {"--kv-heads", "2", "--tokens", "32"});
  std::vector<std::string> args = {
      dir / "fp16", "--calibration", dir / "fp16/calibration.safetensors",
      "-o",         dir / "awq",     "--bits",
      "8",          "--threads",     "1",
      "-q"};
  if (foldOnly)
    args.push_back("--fold-only");
  const CommandRun run = test::runCommand(&runQuantizeCommand, args);
  ASSERT_EQ(run.code, 0) << run.err;

  const ModelDescription written =
      parseModelDescription(dir / "awq/model.json");
  EXPECT_EQ(written.name, "fp16");
  EXPECT_TRUE(std::filesystem::equivalent(
      resolveCheckpointPath(written, dir / "awq/model.json"), dir / "awq"));
  const ModelDescription derived = describeCheckpoint(dir / "awq");
  expectSameLayers(written, derived);
  EXPECT_EQ(written.layers.front().bits, 8);

  const QuantizedCheckpoint q = importQuantizedCheckpoint(dir / "awq");
  size_t scales = 0;
  for (const InputGroup &group : written.inputGroups) {
    SCOPED_TRACE(group.name);
    const bool attentionOutput =
        group.name.find("attn_output") != std::string::npos;
    if (foldOnly || !attentionOutput) {
      EXPECT_EQ(group.activationScale, "");
      continue;
    }
    ++scales;
    EXPECT_EQ(group.activationScale, group.name + ".activation_scale");
    const HostTensor &tensor = q.tensors.at(group.activationScale);
    EXPECT_EQ(tensor.dtype, DType::F16);
    ASSERT_EQ(tensor.shape, std::vector<int64_t>{256});
    // a = 1/s: positive and finite; a searched scale is not all ones.
    bool allOnes = true;
    for (size_t c = 0; c < 256; ++c) {
      uint16_t bits;
      std::memcpy(&bits, tensor.data.data() + 2 * c, 2);
      const float a = halfToFloat(bits);
      EXPECT_TRUE(std::isfinite(a) && a > 0) << c;
      allOnes = allOnes && a == 1.0f;
    }
    EXPECT_FALSE(allOnes);
  }
  EXPECT_EQ(scales, foldOnly ? 0u : 2u);
  size_t scaleTensors = 0;
  for (const auto &[name, tensor] : q.tensors)
    scaleTensors += name.find(".activation_scale") != std::string::npos;
  EXPECT_EQ(scaleTensors, scales);
}

INSTANTIATE_TEST_SUITE_P(FoldOnly, DescriptionOutputTest, testing::Bool());

TEST(DescriptionOutput, DescriptionInputEqualsHuggingFaceInput) {
  TempDir dir;
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  test::synthesize(dir / "fp16", seed, {"--tokens", "32"});
  const std::vector<std::string> common = {"--calibration",
                                           dir / "fp16/calibration.safetensors",
                                           "--threads", "1", "-q"};
  auto quantize = [&](const std::string &model, const std::string &out,
                      std::vector<std::string> extra) {
    std::vector<std::string> args = {model, "-o", out};
    args.insert(args.end(), common.begin(), common.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return test::runCommand(&runQuantizeCommand, args);
  };
  CommandRun run = quantize(dir / "fp16", dir / "hf", {});
  ASSERT_EQ(run.code, 0) << run.err;

  // The same model as a description pointing at the FP16 weights. Layers
  // of one input group must agree on their bits (they are quantized
  // together and merged into kernels)...
  ModelDescription description = parseModelDescription(dir / "hf/model.json");
  description.checkpoint.path = "fp16";
  description.layers[1].bits = 3;
  writeModelDescription(description, dir / "model.json");
  run = quantize(dir / "model.json", dir / "desc", {});
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("layer 'model.layers.0.self_attn.k_proj' has bits 3 "
                         "but layer 'model.layers.0.self_attn.q_proj' of the "
                         "same input group 'model.layers.0.attn_input' has "
                         "4; the layers of an input group are quantized "
                         "together and merged into kernels: give them the "
                         "same bits (or pass --bits)"),
            std::string::npos)
      << run.err;
  // ... groups may differ: o_proj alone at 3 bits.
  description.layers[1].bits = 4;
  description.layers[3].bits = 3;
  writeModelDescription(description, dir / "model.json");
  run = quantize(dir / "model.json", dir / "mixed", {});
  ASSERT_EQ(run.code, 0) << run.err;
  const QuantizedCheckpoint mixed = importQuantizedCheckpoint(dir / "mixed");
  EXPECT_EQ(mixed.linears.at("model.layers.0.self_attn.o_proj").params.bits, 3);
  EXPECT_EQ(mixed.linears.at("model.layers.0.self_attn.v_proj").params.bits, 4);
  EXPECT_EQ(parseModelDescription(dir / "mixed/model.json").layers[3].bits, 3);
  // Without --copy-unlisted a description's output holds only the tensors
  // it names (the norms), not the embeddings, lm_head and final norm.
  const QuantizedCheckpoint listed = importQuantizedCheckpoint(dir / "mixed");
  EXPECT_FALSE(listed.tensors.count("model.embed_tokens.weight"));
  EXPECT_TRUE(listed.tensors.count("model.layers.0.input_layernorm.weight"));
  // --bits overrides the description's own bits; --copy-unlisted copies
  // what a Hugging Face directory's run copies.
  run = quantize(dir / "model.json", dir / "desc",
                 {"--bits", "4", "--copy-unlisted"});
  ASSERT_EQ(run.code, 0) << run.err;

  // Same structure, same folds, same order: the very same bytes.
  expectSameLayers(parseModelDescription(dir / "desc/model.json"),
                   parseModelDescription(dir / "hf/model.json"));
  const std::string a = test::readText(dir / "hf/model.safetensors");
  EXPECT_FALSE(a.empty());
  EXPECT_TRUE(a == test::readText(dir / "desc/model.safetensors"));
}

} // namespace
} // namespace awq
