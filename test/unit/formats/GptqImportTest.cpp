//===- GptqImportTest.cpp - GPTQ import against a plain GPTQ packer -------===//

#include "TestUtil.h"

#include "compiler/formats/QuantizedCheckpoint.h"
#include "runtime/formats/SafeTensorsWriter.h"

#include <gtest/gtest.h>

namespace awq::test {
namespace {

using nlohmann::json;

/// A GPTQ checkpoint written the way GPTQ packs it, independently of the
/// importer: qweight packed along K, qzeros along N storing zero - 1 (v1)
/// or zero (v2), sequential bit order everywhere.
struct GptqWriter {
  int bits = 4;
  int64_t groupSize = 128; // -1: per column.
  bool sym = false;
  bool v2 = false;
  bool writeGIdx = true;

  struct Packed {
    std::vector<uint32_t> qweight, qzeros;
    std::vector<int32_t> gIdx;
    std::vector<uint16_t> scales, bias;
  };
  std::vector<Packed> packed; // Kept alive for the refs.

  void addLayer(std::vector<TensorRef> &refs, const std::string &prefix,
                const QuantizedLinear &layer) {
    const int64_t k = layer.k, n = layer.n;
    const int perWord = 32 / bits;
    const int64_t g = groupSize == -1 ? k : groupSize;
    const int64_t groups = k / g;
    Packed p;
    p.qweight.assign(static_cast<size_t>(k / perWord * n), 0);
    for (int64_t row = 0; row < k; ++row)
      for (int64_t col = 0; col < n; ++col)
        p.qweight[(row / perWord) * n + col] |= uint32_t(layer.q[row * n + col])
                                                << (bits * (row % perWord));
    p.qzeros.assign(static_cast<size_t>(groups * n / perWord), 0);
    for (int64_t grp = 0; grp < groups; ++grp)
      for (int64_t col = 0; col < n; ++col) {
        int zero = sym ? 1 << (bits - 1) : layer.zeros[grp * n + col];
        uint32_t stored =
            v2 ? uint32_t(zero) : uint32_t(zero - 1) & ((1u << bits) - 1);
        p.qzeros[grp * (n / perWord) + col / perWord] |=
            stored << (bits * (col % perWord));
      }
    for (int64_t row = 0; row < k; ++row)
      p.gIdx.push_back(static_cast<int32_t>(row / g));
    p.scales = layer.scales;
    p.bias = layer.bias;
    packed.push_back(std::move(p));
    const Packed &q = packed.back();
    refs.push_back({prefix + ".qweight",
                    DType::I32,
                    {k / perWord, n},
                    q.qweight.data(),
                    q.qweight.size() * 4});
    refs.push_back({prefix + ".qzeros",
                    DType::I32,
                    {groups, n / perWord},
                    q.qzeros.data(),
                    q.qzeros.size() * 4});
    refs.push_back({prefix + ".scales",
                    DType::F16,
                    {groups, n},
                    q.scales.data(),
                    q.scales.size() * 2});
    if (writeGIdx)
      refs.push_back({prefix + ".g_idx",
                      DType::I32,
                      {k},
                      q.gIdx.data(),
                      q.gIdx.size() * 4});
    if (!q.bias.empty())
      refs.push_back({prefix + ".bias",
                      DType::F16,
                      {n},
                      q.bias.data(),
                      q.bias.size() * 2});
  }

  json config(bool descAct = false) const {
    json c = {
        {"bits", bits}, {"group_size", groupSize}, {"desc_act", descAct},
        {"sym", sym},   {"true_sequential", true}, {"damp_percent", 0.01}};
    if (v2)
      c["checkpoint_format"] = "gptq_v2";
    return c;
  }
};

TEST(GptqImport, MatchesPlainPackerAcrossSettings) {
  int variant = 0;
  for (int bits : {4, 8})
    for (int64_t group : {32, 128, -1})
      for (bool sym : {false, true})
        for (bool v2 : {false, true}) {
          SCOPED_TRACE("bits " + std::to_string(bits) + " group " +
                       std::to_string(group) + (sym ? " sym" : " asym") +
                       (v2 ? " v2" : " v1"));
          GptqWriter writer;
          writer.bits = bits;
          writer.groupSize = group;
          writer.sym = sym;
          writer.v2 = v2;
          writer.writeGIdx = variant++ % 3 != 0;
          std::map<std::string, QuantizedLinear> layers;
          std::vector<TensorRef> refs;
          int index = 0;
          for (auto [k, n] :
               {std::pair<int64_t, int64_t>{256, 64}, {128, 96}}) {
            QuantParams params;
            params.bits = bits;
            params.groupSize = group == -1 ? k : group;
            params.zeroPoint = !sym;
            QuantizedLinear layer = randomLayer(k, n, params, index == 0);
            if (!sym)
              layer.zeros[0] = 0; // The v1 "zero - 1" wrap-around case.
            const std::string name = "layers." + std::to_string(index++);
            writer.addLayer(refs, name, layer);
            layers.emplace(name, std::move(layer));
          }
          std::vector<uint16_t> embed = randomHalves(32);
          refs.push_back({"embed", DType::F16, {4, 8}, embed.data(), 64});

          TempDir dir;
          writeSafeTensors(dir.file("model.safetensors"), refs);
          // Settings in either place GPTQ tools put them.
          if (variant % 2)
            writeBytes(dir.file("quantize_config.json"),
                       writer.config().dump());
          else
            writeBytes(dir.file("config.json"),
                       json({{"quantization_config",
                              [&] {
                                json c = writer.config();
                                c["quant_method"] = "gptq";
                                return c;
                              }()}})
                           .dump());

          QuantizedCheckpoint imported = importQuantizedCheckpoint(dir.path());
          EXPECT_EQ(imported.quantization.method, QuantMethod::Gptq);
          ASSERT_EQ(imported.linears.size(), layers.size());
          for (const auto &[name, expected] : layers) {
            SCOPED_TRACE(name);
            const QuantizedLinear &actual = imported.linears.at(name);
            EXPECT_EQ(actual.k, expected.k);
            EXPECT_EQ(actual.n, expected.n);
            EXPECT_EQ(actual.params.groupSize, expected.params.groupSize);
            EXPECT_EQ(actual.params.zeroPoint, !sym);
            EXPECT_EQ(actual.q, expected.q);
            EXPECT_EQ(actual.zeros, expected.zeros);
            EXPECT_EQ(actual.scales, expected.scales);
            EXPECT_EQ(actual.bias, expected.bias);
          }
          ASSERT_EQ(imported.tensors.size(), 1u);
          EXPECT_EQ(imported.tensors.count("embed"), 1u);
        }
}

/// Writes one 4-bit layer with `writer` and returns the directory.
void writeOne(const TempDir &dir, GptqWriter &writer, int64_t k, int64_t n,
              bool descAct = false,
              const std::function<void(std::vector<TensorRef> &)> &edit = {}) {
  QuantParams params;
  params.bits = writer.bits;
  params.groupSize = writer.groupSize == -1 ? k : writer.groupSize;
  params.zeroPoint = !writer.sym;
  std::vector<TensorRef> refs;
  writer.addLayer(refs, "l", randomLayer(k, n, params, false));
  if (edit)
    edit(refs);
  writeSafeTensors(dir.file("model.safetensors"), refs);
  writeBytes(dir.file("quantize_config.json"), writer.config(descAct).dump());
}

TEST(GptqImport, Bf16ScalesMakeABf16Layer) {
  TempDir dir;
  GptqWriter writer;
  writeOne(dir, writer, 256, 64, false, [](std::vector<TensorRef> &refs) {
    for (TensorRef &ref : refs)
      if (ref.name == "l.scales")
        ref.dtype = DType::BF16; // The same bits, read as bf16.
  });
  QuantizedCheckpoint imported = importGptqCheckpoint(dir.path());
  const QuantizedLinear &layer = imported.linears.at("l");
  EXPECT_EQ(layer.activation, ActivationType::BF16);
  EXPECT_EQ(layer.scales, writer.packed.back().scales);
}

TEST(GptqImport, RejectsActOrder) {
  TempDir dir;
  GptqWriter writer;
  writer.groupSize = 32;
  writeOne(dir, writer, 128, 16, true, [&](std::vector<TensorRef> &) {
    // A permuted g_idx, as desc_act produces.
    std::swap(writer.packed.back().gIdx[0], writer.packed.back().gIdx[127]);
  });
  expectError([&] { importGptqCheckpoint(dir.path()); },
              {"tensor 'l.g_idx'", "g_idx[0] = 3", "need 0",
               "act-order (desc_act) checkpoints are not supported"});

  TempDir noIndex;
  GptqWriter plain;
  plain.writeGIdx = false;
  writeOne(noIndex, plain, 128, 16, true);
  expectError([&] { importGptqCheckpoint(noIndex.path()); },
              {"missing tensor 'l.g_idx'", "desc_act is true"});
}

TEST(GptqImport, RejectsThreeBitsAndBadShapes) {
  {
    TempDir dir;
    writeBytes(dir.file("quantize_config.json"),
               R"({"bits": 3, "group_size": 128, "desc_act": false})");
    expectError(
        [&] { importGptqCheckpoint(dir.path()); },
        {"quantize_config.json", "bits", "3-bit packing", "not supported"});
  }
  {
    // N = 12 cannot hold 8 zeros per word.
    TempDir dir;
    GptqWriter writer;
    writer.groupSize = 64;
    std::vector<uint32_t> qweight(16 * 12), qzeros(2 * 2);
    std::vector<uint16_t> scales = randomHalves(2 * 12);
    std::vector<TensorRef> refs = {
        {"l.qweight", DType::I32, {16, 12}, qweight.data(), qweight.size() * 4},
        {"l.qzeros", DType::I32, {2, 2}, qzeros.data(), qzeros.size() * 4},
        {"l.scales", DType::F16, {2, 12}, scales.data(), scales.size() * 2}};
    writeSafeTensors(dir.file("model.safetensors"), refs);
    writeBytes(dir.file("quantize_config.json"), writer.config().dump());
    expectError([&] { importGptqCheckpoint(dir.path()); },
                {"tensor 'l.qweight'", "N = 12", "multiple of 8"});
  }
  {
    TempDir dir;
    GptqWriter writer;
    writer.groupSize = 48; // K = 128 is not a multiple of 48.
    std::vector<uint32_t> qweight(16 * 8), qzeros(2);
    std::vector<uint16_t> scales = randomHalves(2 * 8);
    std::vector<TensorRef> refs = {
        {"l.qweight", DType::I32, {16, 8}, qweight.data(), qweight.size() * 4},
        {"l.qzeros", DType::I32, {2, 1}, qzeros.data(), qzeros.size() * 4},
        {"l.scales", DType::F16, {2, 8}, scales.data(), scales.size() * 2}};
    writeSafeTensors(dir.file("model.safetensors"), refs);
    writeBytes(dir.file("quantize_config.json"), writer.config().dump());
    expectError([&] { importGptqCheckpoint(dir.path()); },
                {"group_size 48 does not divide K = 128", "layer 'l'"});
  }
  {
    TempDir dir;
    GptqWriter writer;
    writeOne(dir, writer, 256, 16, false, [](std::vector<TensorRef> &refs) {
      refs[1].shape = {1, 1}; // qzeros: 2 rows x 2 words expected.
      refs[1].size = 4;
    });
    expectError([&] { importGptqCheckpoint(dir.path()); },
                {"tensor 'l.qzeros'", "[K/G, N/8] = [2, 2]"});
  }
}

TEST(GptqImport, SymmetricCheckpointsMustStoreTheImplicitZero) {
  TempDir dir;
  GptqWriter writer;
  writer.sym = true;
  writeOne(dir, writer, 128, 16, false, [&](std::vector<TensorRef> &) {
    writer.packed.back().qzeros[0] ^= 0x1; // Stored 7 -> 6: zero 7, not 8.
  });
  expectError([&] { importGptqCheckpoint(dir.path()); },
              {"tensor 'l.qzeros'", "sym true", "every zero must be 8",
               "zero at [0, 0] is 7"});
}

TEST(GptqImport, MethodMismatchIsReported) {
  TempDir dir;
  GptqWriter writer;
  writeOne(dir, writer, 128, 16);
  expectError([&] { importAwqCheckpoint(dir.path()); },
              {"quant_method is gptq, expected awq"});
}

} // namespace
} // namespace awq::test
