//===- AwqCheckpointTest.cpp - AutoAWQ export/import round trips ----------===//

#include "TestUtil.h"

#include "compiler/formats/AwqPacking.h"
#include "compiler/formats/JsonFields.h"
#include "compiler/formats/QuantizedCheckpoint.h"
#include "runtime/formats/SafeTensors.h"
#include "runtime/formats/SafeTensorsWriter.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

namespace awq::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void expectSameLayer(const QuantizedLinear &actual,
                     const QuantizedLinear &expected) {
  EXPECT_EQ(actual.k, expected.k);
  EXPECT_EQ(actual.n, expected.n);
  EXPECT_EQ(actual.params.bits, expected.params.bits);
  EXPECT_EQ(actual.params.groupSize, expected.params.groupSize);
  EXPECT_EQ(actual.params.zeroPoint, expected.params.zeroPoint);
  EXPECT_EQ(actual.q, expected.q);
  EXPECT_EQ(actual.zeros, expected.zeros);
  EXPECT_EQ(actual.scales, expected.scales);
  EXPECT_EQ(actual.bias, expected.bias);
}

/// Reads an I32 tensor into aligned words.
std::vector<int32_t> words(const TensorView &view) {
  std::vector<int32_t> out(view.size / 4);
  view.copyTo(out.data());
  return out;
}

/// AutoAWQ's qweight word, written plainly from the nibble-order definition
/// (independent of packAwqRows).
uint32_t autoAwqWord(const QuantizedLinear &layer, int64_t row, int64_t word) {
  static const int order[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  uint32_t packed = 0;
  for (int nibble = 0; nibble < 8; ++nibble)
    packed |= uint32_t(layer.q[row * layer.n + 8 * word + order[nibble]])
              << (4 * nibble);
  return packed;
}

TEST(AwqCheckpoint, RoundTripsAllBitsGroupsAndZeroPoints) {
  struct Shape {
    int64_t k, n;
  };
  const Shape shapes[] = {{128, 64}, {256, 96}, {384, 160}};
  for (int bits : {3, 4, 8})
    for (int64_t group : {32, 64, 128, -1})
      for (bool zeroPoint : {true, false}) {
        SCOPED_TRACE("bits " + std::to_string(bits) + " group " +
                     std::to_string(group) + (zeroPoint ? " zp" : " sym"));
        QuantizedCheckpoint original;
        original.config = {{"architectures", {"LlamaForCausalLM"}},
                           {"hidden_size", 128}};
        int index = 0;
        for (const Shape &shape : shapes) {
          QuantParams params;
          params.bits = bits;
          params.groupSize = group == -1 ? shape.k : group;
          params.zeroPoint = zeroPoint;
          original.linears.emplace(
              "model.layers." + std::to_string(index) + ".proj",
              randomLayer(shape.k, shape.n, params, index % 2 == 0));
          ++index;
        }
        HostTensor norm;
        norm.dtype = DType::F16;
        norm.shape = {128};
        std::vector<uint16_t> normValues = randomHalves(128);
        norm.data.resize(256);
        std::memcpy(norm.data.data(), normValues.data(), 256);
        original.tensors.emplace("model.norm.weight", norm);

        TempDir dir;
        exportAwqCheckpoint(original, dir.path());
        json config = readJsonFile(dir.file("config.json"));
        const json &q = config["quantization_config"];
        EXPECT_EQ(q["quant_method"], "awq");
        EXPECT_EQ(q["bits"], bits);
        EXPECT_EQ(q["group_size"], group);
        EXPECT_EQ(q["zero_point"], zeroPoint);
        EXPECT_EQ(q["version"], bits == 4 ? "gemm" : "awqc-gemm");
        EXPECT_TRUE(q["modules_to_not_convert"].is_null());
        EXPECT_EQ(config["hidden_size"], 128);

        QuantizedCheckpoint imported = importAwqCheckpoint(dir.path());
        ASSERT_EQ(imported.linears.size(), original.linears.size());
        for (const auto &[name, layer] : original.linears) {
          SCOPED_TRACE(name);
          ASSERT_TRUE(imported.linears.count(name));
          expectSameLayer(imported.linears.at(name), layer);
        }
        ASSERT_EQ(imported.tensors.size(), 1u);
        EXPECT_EQ(imported.tensors.at("model.norm.weight").data, norm.data);
        EXPECT_EQ(imported.tensors.at("model.norm.weight").shape, norm.shape);
        EXPECT_EQ(imported.config["hidden_size"], 128);
        EXPECT_FALSE(imported.config.contains("quantization_config"));
      }
}

TEST(AwqCheckpoint, FourBitFilesHaveAutoAwqTensors) {
  QuantParams params; // 4 bits, g128, zero point.
  QuantizedLinear layer = randomLayer(256, 64, params, true);
  QuantizedCheckpoint checkpoint;
  checkpoint.linears.emplace("proj", layer);
  TempDir dir;
  exportAwqCheckpoint(checkpoint, dir.path());

  SafeTensorsCheckpoint file = SafeTensorsCheckpoint::open(dir.path());
  EXPECT_EQ(file.metadata().at("format"), "pt");
  const TensorView &qweight = file.get("proj.qweight");
  const TensorView &qzeros = file.get("proj.qzeros");
  const TensorView &scales = file.get("proj.scales");
  const TensorView &bias = file.get("proj.bias");
  EXPECT_EQ(qweight.dtype, DType::I32);
  EXPECT_EQ(qweight.shape, (std::vector<int64_t>{256, 8}));
  EXPECT_EQ(qzeros.dtype, DType::I32);
  EXPECT_EQ(qzeros.shape, (std::vector<int64_t>{2, 8}));
  EXPECT_EQ(scales.dtype, DType::F16);
  EXPECT_EQ(scales.shape, (std::vector<int64_t>{2, 64}));
  EXPECT_EQ(bias.dtype, DType::F16);
  EXPECT_EQ(bias.shape, (std::vector<int64_t>{64}));

  const std::vector<int32_t> stored = words(qweight);
  for (int64_t row = 0; row < 256; ++row)
    for (int64_t w = 0; w < 8; ++w)
      ASSERT_EQ(static_cast<uint32_t>(stored[row * 8 + w]),
                autoAwqWord(layer, row, w))
          << "row " << row << " word " << w;
  // Zeros stored raw (no -1), same nibble order.
  const std::vector<int32_t> zeros = words(qzeros);
  static const int order[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  for (int64_t g = 0; g < 2; ++g)
    for (int64_t w = 0; w < 8; ++w)
      for (int nibble = 0; nibble < 8; ++nibble)
        ASSERT_EQ((static_cast<uint32_t>(zeros[g * 8 + w]) >> (4 * nibble)) &
                      0xF,
                  layer.zeros[g * 64 + 8 * w + order[nibble]]);
}

TEST(AwqCheckpoint, SymmetricLayersStoreImplicitZeros) {
  for (int bits : {3, 4, 8}) {
    QuantParams params;
    params.bits = bits;
    params.groupSize = 64;
    params.zeroPoint = false;
    QuantizedCheckpoint checkpoint;
    checkpoint.linears.emplace("proj", randomLayer(128, 64, params, false));
    TempDir dir;
    exportAwqCheckpoint(checkpoint, dir.path());
    SafeTensorsCheckpoint file = SafeTensorsCheckpoint::open(dir.path());
    const std::vector<int32_t> stored = words(file.get("proj.qzeros"));
    std::vector<uint8_t> zeros(2 * 64, 0xEE);
    unpackAwqRows(stored.data(), 2, 64, bits, zeros.data());
    for (uint8_t zero : zeros)
      ASSERT_EQ(zero, 1 << (bits - 1));
  }
}

TEST(AwqCheckpoint, ShardedRoundTrip) {
  QuantizedCheckpoint original;
  QuantParams params;
  params.bits = 8;
  params.groupSize = 32;
  for (int i = 0; i < 4; ++i)
    original.linears.emplace("layer" + std::to_string(i),
                             randomLayer(128, 128, params, i == 1));
  original.quantization.modulesToNotConvert = {"lm_head"};
  TempDir dir;
  exportAwqCheckpoint(original, dir.path(), {20000});
  EXPECT_TRUE(fs::exists(dir.file("model.safetensors.index.json")));
  EXPECT_FALSE(fs::exists(dir.file("model.safetensors")));
  QuantizedCheckpoint imported = importAwqCheckpoint(dir.path());
  EXPECT_EQ(imported.quantization.modulesToNotConvert,
            std::vector<std::string>{"lm_head"});
  ASSERT_EQ(imported.linears.size(), 4u);
  for (const auto &[name, layer] : original.linears)
    expectSameLayer(imported.linears.at(name), layer);
}

TEST(AwqCheckpoint, ExportCreatesDirectoryAndRejectsMixedLayers) {
  TempDir dir;
  QuantParams p4;
  QuantParams p8;
  p8.bits = 8;
  {
    QuantizedCheckpoint checkpoint;
    checkpoint.linears.emplace("a", randomLayer(128, 64, p4, false));
    exportAwqCheckpoint(checkpoint, dir.file("new/sub"));
    EXPECT_TRUE(fs::exists(dir.file("new/sub/config.json")));
  }
  {
    QuantizedCheckpoint checkpoint;
    checkpoint.linears.emplace("a", randomLayer(128, 64, p4, false));
    checkpoint.linears.emplace("b", randomLayer(128, 64, p8, false));
    expectError([&] { exportAwqCheckpoint(checkpoint, dir.file("mixed")); },
                {"layer 'b' has 8 bits", "'a' has 4"});
  }
  {
    QuantParams sym = p4;
    sym.zeroPoint = false;
    QuantizedCheckpoint checkpoint;
    checkpoint.linears.emplace("a", randomLayer(128, 64, p4, false));
    checkpoint.linears.emplace("b", randomLayer(128, 64, sym, false));
    expectError([&] { exportAwqCheckpoint(checkpoint, dir.file("mixed")); },
                {"'b' and 'a' differ in zero point"});
  }
  {
    QuantParams g64 = p4;
    g64.groupSize = 64;
    QuantizedCheckpoint checkpoint;
    checkpoint.linears.emplace("a", randomLayer(256, 64, p4, false));
    checkpoint.linears.emplace("b", randomLayer(256, 64, g64, false));
    expectError([&] { exportAwqCheckpoint(checkpoint, dir.file("mixed")); },
                {"different group sizes"});
  }
  {
    QuantizedCheckpoint checkpoint;
    QuantizedLinear bad = randomLayer(128, 64, p4, false);
    bad.q[5] = 16;
    checkpoint.linears.emplace("bad", bad);
    expectError([&] { exportAwqCheckpoint(checkpoint, dir.file("mixed")); },
                {"bad weights", "value 16", "does not fit in 4 bits"});
    QuantizedLinear odd = randomLayer(128, 64, p4, false);
    odd.scales.pop_back();
    checkpoint.linears["bad"] = odd;
    expectError([&] { exportAwqCheckpoint(checkpoint, dir.file("mixed")); },
                {"bad", "expected 64 scales, got 63"});
    checkpoint.linears.clear();
    expectError([&] { exportAwqCheckpoint(checkpoint, dir.file("mixed")); },
                {"no quantized layer"});
  }
  EXPECT_FALSE(fs::exists(dir.file("mixed/model.safetensors")));
}

//===----------------------------------------------------------------------===//
// Import errors
//===----------------------------------------------------------------------===//

/// Writes a checkpoint directory from explicit tensors and a config.
struct HandMadeCheckpoint {
  TempDir dir;
  std::vector<std::vector<uint8_t>> buffers;
  std::vector<TensorRef> refs;

  void add(const std::string &name, DType dtype, std::vector<int64_t> shape) {
    buffers.emplace_back(*checkedNumel(shape) * dtypeSize(dtype));
    for (uint8_t &b : buffers.back())
      b = static_cast<uint8_t>(rng()());
    refs.push_back(
        {name, dtype, shape, buffers.back().data(), buffers.back().size()});
  }
  /// A consistent 4-bit g64 layer [K, N] named `prefix`.
  void addLayer(const std::string &prefix, int64_t k, int64_t n,
                DType scales = DType::F16) {
    add(prefix + ".qweight", DType::I32, {k, n / 8});
    add(prefix + ".qzeros", DType::I32, {k / 64, n / 8});
    add(prefix + ".scales", scales, {k / 64, n});
  }
  void write(const json &quantizationConfig) {
    writeSafeTensors(dir.file("model.safetensors"), refs);
    json config = {{"quantization_config", quantizationConfig}};
    writeBytes(dir.file("config.json"), config.dump());
  }
  std::vector<TensorRef>::iterator find(const std::string &name) {
    return std::find_if(refs.begin(), refs.end(),
                        [&](const TensorRef &r) { return r.name == name; });
  }
};

json awqConfig(int bits = 4, int64_t group = 64, bool zeroPoint = true,
               const std::string &version = "gemm") {
  return {{"quant_method", "awq"},
          {"bits", bits},
          {"group_size", group},
          {"zero_point", zeroPoint},
          {"version", version}};
}

TEST(AwqImport, ReadsHandMadeCheckpoint) {
  HandMadeCheckpoint c;
  c.addLayer("l", 128, 16);
  c.add("l.bias", DType::F16, {16});
  c.add("embed.weight", DType::BF16, {4, 8});
  c.write(awqConfig());
  QuantizedCheckpoint imported = importAwqCheckpoint(c.dir.path());
  ASSERT_EQ(imported.linears.count("l"), 1u);
  const QuantizedLinear &layer = imported.linears.at("l");
  EXPECT_EQ(layer.k, 128);
  EXPECT_EQ(layer.n, 16);
  EXPECT_EQ(layer.params.groupSize, 64);
  EXPECT_EQ(layer.bias.size(), 16u);
  // Unpacking agrees with the plain definition for every weight.
  std::vector<int32_t> qweight(128 * 2);
  std::memcpy(qweight.data(), c.buffers[0].data(), qweight.size() * 4);
  static const int order[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  for (int64_t k = 0; k < 128; ++k)
    for (int64_t w = 0; w < 2; ++w)
      for (int nibble = 0; nibble < 8; ++nibble)
        ASSERT_EQ(layer.q[k * 16 + 8 * w + order[nibble]],
                  (static_cast<uint32_t>(qweight[k * 2 + w]) >> (4 * nibble)) &
                      0xF);
  ASSERT_EQ(imported.tensors.count("embed.weight"), 1u);
  EXPECT_EQ(imported.tensors.at("embed.weight").dtype, DType::BF16);
}

TEST(AwqImport, Bf16ScalesAndBiasMakeABf16Layer) {
  HandMadeCheckpoint c;
  c.addLayer("l", 128, 16, DType::BF16);
  c.add("l.bias", DType::BF16, {16});
  c.write(awqConfig());
  QuantizedCheckpoint imported = importAwqCheckpoint(c.dir.path());
  const QuantizedLinear &layer = imported.linears.at("l");
  EXPECT_EQ(layer.activation, ActivationType::BF16);
  // The bits are the file's, not converted.
  std::vector<uint16_t> scales(2 * 16), bias(16);
  std::memcpy(scales.data(), c.buffers[2].data(), scales.size() * 2);
  std::memcpy(bias.data(), c.buffers[3].data(), bias.size() * 2);
  EXPECT_EQ(layer.scales, scales);
  EXPECT_EQ(layer.bias, bias);
}

TEST(AwqImport, RefusesMixedActivationTypes) {
  {
    HandMadeCheckpoint c;
    c.addLayer("l", 128, 16, DType::BF16);
    c.add("l.bias", DType::F16, {16});
    c.write(awqConfig());
    expectError([&] { importAwqCheckpoint(c.dir.path()); },
                {"'l.bias'", "expected dtype BF16",
                 "the dtype of the layer's scales", "got F16"});
  }
  {
    HandMadeCheckpoint c;
    c.addLayer("a", 128, 16, DType::F16);
    c.addLayer("b", 128, 16, DType::BF16);
    c.write(awqConfig());
    expectError([&] { importAwqCheckpoint(c.dir.path()); },
                {"'b.scales'",
                 "dtype BF16 differs from the scales of layer 'a'",
                 "a model has one activation type"});
  }
  {
    HandMadeCheckpoint c;
    c.addLayer("l", 128, 16, DType::F32);
    c.write(awqConfig());
    expectError([&] { importAwqCheckpoint(c.dir.path()); },
                {"'l.scales'", "expected dtype F16 or BF16, got F32"});
  }
}

// The compiler's header check: the IR's activation type must be the dtype of
// the scales, bias and vectors it reads.
TEST(AwqImport, HeaderCheckFollowsTheActivationType) {
  HandMadeCheckpoint c;
  c.addLayer("l", 128, 16, DType::F16);
  c.add("norm", DType::F16, {128});
  c.write(awqConfig());
  SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint::open(c.dir.path());
  const QuantizationConfig config = readQuantizationConfig(c.dir.path());
  ExpectedTensor layer;
  layer.name = "l";
  layer.quantized = true;
  layer.k = 128;
  layer.n = 16;
  layer.params.bits = 4;
  layer.params.groupSize = 64;
  ExpectedTensor norm;
  norm.name = "norm";
  norm.length = 128;
  checkCheckpointTensors(checkpoint, config, {layer, norm});
  layer.activation = ActivationType::BF16;
  expectError([&] { checkCheckpointTensors(checkpoint, config, {layer}); },
              {"'l.scales'", "expected dtype BF16",
               "the model's activation type is bf16", "got F16"});
  norm.activation = ActivationType::BF16;
  expectError([&] { checkCheckpointTensors(checkpoint, config, {norm}); },
              {"'norm'", "expected dtype BF16",
               "the model's activation type is bf16", "got F16"});
}

TEST(AwqCheckpoint, Bf16LayersRoundTripInBf16) {
  QuantParams params;
  params.bits = 4;
  params.groupSize = 64;
  QuantizedLinear layer = randomLayer(128, 64, params, /*withBias=*/true);
  layer.activation = ActivationType::BF16;
  QuantizedCheckpoint original;
  original.linears.emplace("model.layers.0.proj", layer);
  TempDir dir;
  exportAwqCheckpoint(original, dir.path());
  SafeTensorsCheckpoint file = SafeTensorsCheckpoint::open(dir.path());
  EXPECT_EQ(file.get("model.layers.0.proj.scales").dtype, DType::BF16);
  EXPECT_EQ(file.get("model.layers.0.proj.bias").dtype, DType::BF16);
  QuantizedCheckpoint imported = importAwqCheckpoint(dir.path());
  const QuantizedLinear &back = imported.linears.at("model.layers.0.proj");
  EXPECT_EQ(back.activation, ActivationType::BF16);
  expectSameLayer(back, layer);
}

TEST(AwqImport, ReportsMissingTensorsAndBadShapes) {
  {
    HandMadeCheckpoint c;
    c.add("l.qweight", DType::I32, {128, 2});
    c.add("l.scales", DType::F16, {2, 16});
    c.write(awqConfig());
    expectError([&] { importAwqCheckpoint(c.dir.path()); },
                {"missing tensor 'l.qzeros'", "quantized layer 'l'"});
  }
  {
    HandMadeCheckpoint c;
    c.add("l.qweight", DType::I32, {128, 2});
    c.add("l.qzeros", DType::I32, {2, 2});
    c.write(awqConfig());
    expectError([&] { importAwqCheckpoint(c.dir.path()); },
                {"missing tensor 'l.scales'"});
  }
  {
    HandMadeCheckpoint c;
    c.addLayer("l", 128, 16);
    c.find("l.scales")->dtype = DType::U16;
    c.write(awqConfig());
    expectError([&] { importAwqCheckpoint(c.dir.path()); },
                {"model.safetensors", "tensor 'l.scales'",
                 "expected dtype F16 or BF16, got U16"});
  }
  {
    HandMadeCheckpoint c;
    c.addLayer("l", 128, 16);
    c.find("l.qweight")->dtype = DType::F32;
    c.write(awqConfig());
    expectError([&] { importAwqCheckpoint(c.dir.path()); },
                {"tensor 'l.qweight'", "expected dtype I32, got F32"});
  }
  {
    HandMadeCheckpoint c;
    c.add("l.qweight", DType::I32, {128, 2});
    c.add("l.qzeros", DType::I32, {1, 2}); // g64 needs 2 rows.
    c.add("l.scales", DType::F16, {2, 16});
    c.write(awqConfig());
    expectError([&] { importAwqCheckpoint(c.dir.path()); },
                {"tensor 'l.qzeros'", "expected shape [K/G, N/8] = [2, 2]",
                 "got I32 [1, 2]"});
  }
  {
    HandMadeCheckpoint c;
    c.add("l.qweight", DType::I32, {128, 3});
    c.add("l.qzeros", DType::I32, {2, 2});
    c.add("l.scales", DType::F16, {2, 16});
    c.write(awqConfig());
    expectError([&] { importAwqCheckpoint(c.dir.path()); },
                {"tensor 'l.qweight'", "[K, N/8] = [128, 2]"});
  }
  {
    HandMadeCheckpoint c;
    c.add("l.qweight", DType::I32, {128, 2});
    c.add("l.qzeros", DType::I32, {2, 2});
    c.add("l.scales", DType::F16, {2, 12}); // N = 12
    c.write(awqConfig());
    expectError([&] { importAwqCheckpoint(c.dir.path()); },
                {"tensor 'l.scales'", "N = 12", "multiple of 8"});
  }
  {
    HandMadeCheckpoint c;
    c.add("l.qweight", DType::I32, {96, 2}); // K = 96, G = 64
    c.add("l.qzeros", DType::I32, {1, 2});
    c.add("l.scales", DType::F16, {1, 16});
    c.write(awqConfig());
    expectError(
        [&] { importAwqCheckpoint(c.dir.path()); },
        {"config.json", "group_size 64 does not divide K = 96", "layer 'l'"});
  }
  {
    HandMadeCheckpoint c;
    c.addLayer("l", 128, 16);
    c.add("l.bias", DType::F16, {8});
    c.write(awqConfig());
    expectError([&] { importAwqCheckpoint(c.dir.path()); },
                {"tensor 'l.bias'", "[N] = [16]"});
  }
  {
    HandMadeCheckpoint c;
    c.addLayer("l", 128, 16);
    c.add("m.qzeros", DType::I32, {2, 2});
    c.write(awqConfig());
    expectError([&] { importAwqCheckpoint(c.dir.path()); },
                {"tensor 'm.qzeros' has no matching 'm.qweight'"});
  }
  {
    HandMadeCheckpoint c;
    c.add("embed.weight", DType::F16, {4});
    c.write(awqConfig());
    expectError([&] { importAwqCheckpoint(c.dir.path()); },
                {"no quantized layer"});
  }
}

TEST(AwqImport, SymmetricConfigRequiresImplicitZeros) {
  QuantParams params;
  params.groupSize = 64;
  QuantizedCheckpoint checkpoint;
  checkpoint.linears.emplace("l", randomLayer(128, 16, params, false));
  checkpoint.linears.at("l").zeros.assign(2 * 16, 8);
  checkpoint.linears.at("l").zeros[17] = 3;
  TempDir dir;
  exportAwqCheckpoint(checkpoint, dir.path());
  json config = readJsonFile(dir.file("config.json"));
  config["quantization_config"]["zero_point"] = false;
  writeBytes(dir.file("config.json"), config.dump());
  expectError([&] { importAwqCheckpoint(dir.path()); },
              {"tensor 'l.qzeros'", "zero_point false", "every zero must be 8",
               "zero at [1, 1] is 3"});

  // With every zero at 8 the layer imports as symmetric.
  checkpoint.linears.at("l").zeros[17] = 8;
  exportAwqCheckpoint(checkpoint, dir.path());
  writeBytes(dir.file("config.json"), config.dump());
  QuantizedCheckpoint imported = importAwqCheckpoint(dir.path());
  EXPECT_FALSE(imported.linears.at("l").params.zeroPoint);
  EXPECT_TRUE(imported.linears.at("l").zeros.empty());
  EXPECT_EQ(imported.linears.at("l").q, checkpoint.linears.at("l").q);
}

TEST(QuantizationConfig, ReportsBadSettings) {
  struct Case {
    json config;
    std::vector<std::string> fragments;
  };
  const std::vector<Case> cases = {
      {awqConfig(8, 64, true, "gemm"),
       {"quantization_config.bits", "gemm", "defined only for 4 bits",
        "awqc-gemm"}},
      {awqConfig(4, 64, true, "gemv"),
       {"quantization_config.version", "\"gemm\" or \"awqc-gemm\""}},
      {awqConfig(5, 64, true, "awqc-gemm"),
       {"quantization_config.bits", "3, 4 or 8", "number 5"}},
      {awqConfig(4, 0), {"quantization_config.group_size", "positive"}},
      {awqConfig(4, -2), {"quantization_config.group_size", "integer in [-1"}},
      {{{"quant_method", "fp8"}, {"bits", 8}, {"group_size", 128}},
       {"quantization_config.quant_method", "\"awq\" or \"gptq\""}},
      {{{"bits", 4}, {"group_size", 128}},
       {"quantization_config.quant_method", "missing required field"}},
      {{{"quant_method", "awq"}, {"group_size", 128}},
       {"quantization_config.bits", "missing required field"}},
      {{{"quant_method", "awq"}, {"bits", "4"}, {"group_size", 128}},
       {"quantization_config.bits", "integer"}},
      {{{"quant_method", "awq"},
        {"bits", 4},
        {"w_bit", 8},
        {"group_size", 128}},
       {"quantization_config.w_bit",
        "disagrees with quantization_config.bits"}},
      {{{"quant_method", "awq"},
        {"bits", 4},
        {"group_size", 128},
        {"zero_point", "yes"}},
       {"quantization_config.zero_point", "true or false"}},
      {{{"quant_method", "awq"},
        {"bits", 4},
        {"group_size", 128},
        {"modules_to_not_convert", {"lm_head", 3}}},
       {"quantization_config.modules_to_not_convert[1]", "non-empty string"}},
      {{{"quant_method", "gptq"}, {"bits", 3}, {"group_size", 128}},
       {"quantization_config.bits", "3-bit packing", "not supported"}},
      {{{"quant_method", "gptq"},
        {"bits", 4},
        {"group_size", 128},
        {"checkpoint_format", "marlin"}},
       {"quantization_config.checkpoint_format", "\"gptq\" or \"gptq_v2\""}},
      // Per-layer widths (awqc_layers): only under awqc's own version.
      {[] {
         json c = awqConfig(4, 64, true, "gemm");
         c["awqc_layers"] = {{"a", {{"bits", 8}}}};
         return c;
       }(),
       {"quantization_config.awqc_layers", "per-layer settings need",
        "\"awqc-gemm\""}},
      {[] {
         json c = awqConfig(4, 64, true, "awqc-gemm");
         c["awqc_layers"] = {{"a", {{"bits", 5}}}};
         return c;
       }(),
       {"quantization_config.awqc_layers.a.bits", "3, 4 or 8", "number 5"}},
      {[] {
         json c = awqConfig(4, 64, true, "awqc-gemm");
         c["awqc_layers"] = {{"a", {{"group_size", 0}}}};
         return c;
       }(),
       {"quantization_config.awqc_layers.a.group_size", "positive"}},
      {[] {
         json c = awqConfig(4, 64, true, "awqc-gemm");
         c["awqc_layers"] = {{"a", {{"zero_point", false}}}};
         return c;
       }(),
       {"quantization_config.awqc_layers.a.zero_point: unknown field"}},
      {[] {
         json c = awqConfig(4, 64, true, "awqc-gemm");
         c["awqc_layers"] = {{"a", 8}};
         return c;
       }(),
       {"quantization_config.awqc_layers.a", "an object"}},
      {[] {
         json c = awqConfig(4, 64, true, "awqc-gemm");
         c["awqc_layers"] = json::array();
         return c;
       }(),
       {"quantization_config.awqc_layers", "an object"}},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.config.dump());
    TempDir dir;
    writeBytes(dir.file("config.json"),
               json({{"quantization_config", c.config}}).dump());
    std::string message =
        expectError([&] { readQuantizationConfig(dir.path()); }, {});
    EXPECT_NE(message.find("config.json"), std::string::npos) << message;
    for (const std::string &fragment : c.fragments)
      EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
  TempDir empty;
  expectError([&] { readQuantizationConfig(empty.path()); },
              {"no quantization settings"});
}

/// A mixed-precision checkpoint (awqc_layers) reads back every layer at its
/// own width and group size, bit for bit; the config round-trips.
TEST(QuantizationConfig, MixedWidthsReadBackPerLayer) {
  TempDir dir;
  QuantParams p4{4, 64, true};
  QuantParams p8{8, 128, true};
  QuantParams p3{3, 256, true};
  const std::map<std::string, QuantizedLinear> layers = {
      {"a", randomLayer(256, 64, p4, true)},
      {"b", randomLayer(256, 64, p8, false)},
      {"c", randomLayer(256, 64, p3, false)}};
  std::vector<AwqLayerTensors> packed;
  std::vector<TensorRef> refs;
  for (const auto &[name, layer] : layers)
    packed.push_back(packAwqLayer(layer, name));
  size_t i = 0;
  for (const auto &[name, layer] : layers)
    packed[i++].appendRefs(name, refs);
  writeSafeTensors(dir.file("model.safetensors"), refs, {{"format", "pt"}});
  QuantizationConfig config;
  config.bits = 4;
  config.groupSize = 64;
  config.version = kAwqcGemmVersion;
  config.layers["b"] = {8, 128};
  config.layers["c"] = {3, -1};
  writeBytes(dir.file("config.json"),
             json({{"quantization_config", awqQuantizationConfigJson(config)}})
                 .dump());

  const QuantizationConfig read = readQuantizationConfig(dir.path());
  EXPECT_EQ(read.layers, config.layers);
  EXPECT_EQ(read.paramsFor(256, "a").bits, 4);
  EXPECT_EQ(read.paramsFor(256, "c").groupSize, 256); // -1 is K.
  const QuantizedCheckpoint imported = importAwqCheckpoint(dir.path());
  for (const auto &[name, layer] : layers) {
    SCOPED_TRACE(name);
    expectSameLayer(imported.linears.at(name), layer);
  }
  // A layer read at the checkpoint's width fails on its packed shape.
  config.layers.erase("b");
  writeBytes(dir.file("config.json"),
             json({{"quantization_config", awqQuantizationConfigJson(config)}})
                 .dump());
  expectError([&] { importAwqCheckpoint(dir.path()); },
              {"b.qweight", "expected shape"});
}

TEST(QuantizationConfig, ReadsOlderAutoAwqQuantConfig) {
  TempDir dir;
  writeBytes(dir.file("quant_config.json"),
             R"({"zero_point": false, "q_group_size": -1, "w_bit": 4,)"
             R"( "version": "GEMM"})");
  QuantizationConfig config = readQuantizationConfig(dir.path());
  EXPECT_EQ(config.method, QuantMethod::Awq);
  EXPECT_EQ(config.bits, 4);
  EXPECT_EQ(config.groupSize, -1);
  EXPECT_FALSE(config.zeroPoint);
  EXPECT_EQ(config.version, "gemm");
  EXPECT_EQ(config.paramsFor(384, "x").groupSize, 384);
}

} // namespace
} // namespace awq::test
