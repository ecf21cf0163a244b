//===- QuantizeModelTest.cpp - End-to-end tests of awqc quantize ----------===//
//
// The acceptance checks: a synthetic LLaMA-shaped model with outlier
// channels is quantized, the checkpoint re-imports bit-exactly, and the
// quantized model computes the FP16 model's function with a lower error than
// RTN, measured here independently with the fp64 reference on the
// calibration activations (not taken from the report).
//
//===----------------------------------------------------------------------===//

#include "test/unit/commands/CommandsTestSupport.h"

#include "compiler/formats/JsonFields.h"
#include "compiler/formats/ModelDescription.h"
#include "compiler/formats/QuantizedCheckpoint.h"
#include "compiler/quantize/Cancellation.h"
#include "compiler/quantize/QuantizeModel.h"
#include "compiler/quantize/QuantizeReport.h"
#include "compiler/quantize/SyntheticModel.h"
#include "compiler/reference/Reference.h"
#include "runtime/formats/SafeTensors.h"
#include "runtime/formats/SafeTensorsWriter.h"
#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <set>

namespace awq {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

std::vector<float> floatsOf(const TensorView &view) {
  std::vector<float> out(view.numel());
  for (uint64_t i = 0; i < out.size(); ++i) {
    if (view.dtype == DType::F32) {
      std::memcpy(&out[i], view.data + 4 * i, 4);
      continue;
    }
    uint16_t bits;
    std::memcpy(&bits, view.data + 2 * i, 2);
    if (view.dtype == DType::F16) {
      out[i] = halfToFloat(bits);
    } else {
      const uint32_t wide = uint32_t(bits) << 16;
      std::memcpy(&out[i], &wide, 4);
    }
  }
  return out;
}

std::vector<float> floatsOf(const HostTensor &tensor) {
  EXPECT_EQ(tensor.dtype, DType::F16);
  std::vector<float> out(tensor.data.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    uint16_t bits;
    std::memcpy(&bits, tensor.data.data() + 2 * i, 2);
    out[i] = halfToFloat(bits);
  }
  return out;
}

std::vector<uint16_t> halfsOf(const HostTensor &tensor) {
  EXPECT_EQ(tensor.dtype, DType::F16);
  std::vector<uint16_t> out(tensor.data.size() / 2);
  std::memcpy(out.data(), tensor.data.data(), tensor.data.size());
  return out;
}

/// A plainly written RTN (AutoAWQ's formulas, exact fp32 scale) of w [n, k]:
/// the dequantized weights, for an independent RTN baseline.
std::vector<float> plainRtn(const std::vector<float> &w, int64_t n, int64_t k,
                            int bits, int64_t groupSize, bool zeroPoint) {
  std::vector<float> out(w.size());
  const int qmax = (1 << bits) - 1;
  for (int64_t row = 0; row < n; ++row)
    for (int64_t g0 = 0; g0 < k; g0 += groupSize) {
      const float *src = &w[row * k + g0];
      float lo = src[0], hi = src[0];
      for (int64_t i = 0; i < groupSize; ++i) {
        lo = std::min(lo, src[i]);
        hi = std::max(hi, src[i]);
      }
      float scale;
      int zero;
      if (zeroPoint) {
        scale = std::max(hi - lo, 1e-5f) / float(qmax);
        zero = std::min(std::max(int(-std::nearbyint(lo / scale)), 0), qmax);
      } else {
        scale =
            std::max(std::max(-lo, hi), 1e-5f) / float((1 << (bits - 1)) - 1);
        zero = 1 << (bits - 1);
      }
      for (int64_t i = 0; i < groupSize; ++i) {
        const int q = std::min(
            std::max(int(std::nearbyint(src[i] / scale)) + zero, 0), qmax);
        out[row * k + g0 + i] = float(q - zero) * scale;
      }
    }
  return out;
}

double meanSquaredDifference(const std::vector<double> &a,
                             const std::vector<double> &b) {
  EXPECT_EQ(a.size(), b.size());
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i)
    sum += (a[i] - b[i]) * (a[i] - b[i]);
  return sum / double(a.size());
}

void expectSameLayer(const QuantizedLinear &a, const QuantizedLinear &b,
                     const std::string &name) {
  SCOPED_TRACE(name);
  EXPECT_EQ(a.k, b.k);
  EXPECT_EQ(a.n, b.n);
  EXPECT_EQ(a.params.bits, b.params.bits);
  EXPECT_EQ(a.params.groupSize, b.params.groupSize);
  EXPECT_EQ(a.params.zeroPoint, b.params.zeroPoint);
  EXPECT_TRUE(a.q == b.q) << "integers differ";
  EXPECT_TRUE(a.zeros == b.zeros) << "zeros differ";
  EXPECT_TRUE(a.scales == b.scales) << "scales differ";
  EXPECT_TRUE(a.bias == b.bias) << "biases differ";
}

struct Settings {
  int bits;
  int64_t group; ///< -1: per column.
  bool zeroPoint;
  int64_t kvHeads;
};

std::string settingsName(const testing::TestParamInfo<Settings> &info) {
  const Settings &s = info.param;
  return "b" + std::to_string(s.bits) + "_g" +
         (s.group < 0 ? std::string("col") : std::to_string(s.group)) +
         (s.zeroPoint ? "_zp" : "_sym") + "_kv" + std::to_string(s.kvHeads);
}

class QuantizeModelTest : public testing::TestWithParam<Settings> {};

/// Writes the synthetic model and quantizes it with the given settings.
ModelQuantizeResult
quantizeSynthetic(const TempDir &dir, uint64_t seed, const Settings &s,
                  int64_t tokens, QuantizeMethod method = QuantizeMethod::Awq) {
  SynthOptions synth;
  synth.output = dir / "fp16";
  synth.hidden = 256;
  synth.intermediate = 512;
  synth.layers = 2;
  synth.heads = 4;
  synth.kvHeads = s.kvHeads;
  synth.tokens = tokens;
  synth.seed = seed;
  writeSyntheticModel(synth);
  ModelQuantizeOptions options;
  options.model = dir / "fp16";
  options.calibration = dir / "fp16/calibration.safetensors";
  options.output = dir / "awq";
  options.settings = {s.bits, s.group, s.zeroPoint};
  options.method = method;
  options.threads = 1;
  options.keepLayers = true;
  return quantizeModel(options);
}

TEST_P(QuantizeModelTest, ReimportsBitExactlyAndBeatsRtn) {
  const Settings s = GetParam();
  TempDir dir;
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  const ModelQuantizeResult result = quantizeSynthetic(dir, seed, s, 128);

  ASSERT_EQ(result.quantized.size(), 14u);
  const QuantizedCheckpoint imported = importQuantizedCheckpoint(dir / "awq");
  EXPECT_EQ(imported.quantization.bits, s.bits);
  EXPECT_EQ(imported.quantization.groupSize, s.group);
  EXPECT_EQ(imported.quantization.zeroPoint, s.zeroPoint);
  EXPECT_EQ(imported.quantization.version, s.bits == 4 ? "gemm" : "awqc-gemm");
  ASSERT_EQ(imported.linears.size(), result.quantized.size());
  for (const auto &[name, layer] : result.quantized) {
    auto it = imported.linears.find(name);
    ASSERT_NE(it, imported.linears.end()) << name;
    expectSameLayer(layer, it->second, name);
  }
  // Model config fields are copied; weights become F16.
  EXPECT_EQ(imported.config["hidden_size"], 256);
  EXPECT_EQ(imported.config["num_key_value_heads"], s.kvHeads);
  EXPECT_EQ(imported.config["torch_dtype"], "float16");

  ASSERT_EQ(result.layers.size(), 14u);
  const QuantizeSummary summary = summarize(result);
  for (const LayerQuantReport &layer : result.layers) {
    EXPECT_TRUE(std::isfinite(layer.rtnError)) << layer.name;
    EXPECT_GT(layer.awqError, 0.0) << layer.name;
    EXPECT_GT(layer.outputMeanSquare, 0.0) << layer.name;
    if (s.bits <= 4) {
      EXPECT_LT(layer.awqError, layer.rtnError) << layer.name;
    }
  }
  EXPECT_LT(summary.totalAwq, summary.totalRtn);
  if (s.bits <= 4) {
    EXPECT_EQ(summary.awqBelowRtn, summary.layers);
  }
  EXPECT_TRUE(dir.leftovers().empty());
}

INSTANTIATE_TEST_SUITE_P(Settings, QuantizeModelTest,
                         testing::Values(Settings{4, 128, true, 4},
                                         Settings{3, 128, true, 2},
                                         Settings{4, 64, false, 2},
                                         Settings{8, -1, false, 4},
                                         Settings{3, 32, true, 4}),
                         settingsName);

/// What one quantized layer reads and produces in the quantized model,
/// relative to the FP16 layer.
struct LayerSetting {
  /// Multiplies input channel c (a folded norm: w'[c] / w[c]; rows of the
  /// producer divided by s: 1 / s[c]); empty = 1.
  std::vector<float> inputFactor;
  /// The explicit activation scale tensor (fp16 bits), or empty.
  std::vector<uint16_t> activationScale;
  /// Multiplies output column n (this layer's rows absorbed 1/s); empty = 1.
  std::vector<float> outputFactor;
};

/// Runs the FP16 layer and the quantized layer through the fp64 reference on
/// the calibration activations x [tokens, k] and checks that the quantized
/// one is closer to the FP16 output than a plain RTN of the FP16 weight, and
/// that the report measured the same errors. Returns {awq, rtn} relative to
/// the output power.
std::pair<double, double>
checkLayerFunction(const std::vector<float> &x, int64_t tokens,
                   const std::vector<float> &w, const QuantizedLinear &layer,
                   const LayerSetting &setting, const LayerQuantReport &report,
                   const QuantParams &params, double maxRelativeError = 0.02) {
  const int64_t k = layer.k, n = layer.n;
  const std::vector<double> y = referenceDenseLinear(x, tokens, w, n, {}, 2);
  std::vector<uint16_t> xHalf(x.size());
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t c = 0; c < k; ++c)
      xHalf[t * k + c] = floatToHalf(
          x[t * k + c] *
          (setting.inputFactor.empty() ? 1.0f : setting.inputFactor[c]));
  std::vector<double> yq =
      referenceLinear(xHalf, tokens, layer, setting.activationScale, {}, 2);
  if (!setting.outputFactor.empty())
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t c = 0; c < n; ++c)
        yq[t * n + c] *= setting.outputFactor[c];
  const double awq = meanSquaredDifference(yq, y);
  const std::vector<float> rtnW =
      plainRtn(w, n, k, params.bits, params.groupSize, params.zeroPoint);
  const double rtn =
      meanSquaredDifference(referenceDenseLinear(x, tokens, rtnW, n, {}, 2), y);
  double power = 0;
  for (double v : y)
    power += v * v / double(y.size());

  EXPECT_LT(awq, rtn);
  EXPECT_LT(awq / power, maxRelativeError) << "relative output error";
  // The report measures the same quantities (with exact 1/s instead of fp16
  // inputs; RTN with its scale rounded up to fp16).
  EXPECT_NEAR(report.awqError, awq, 0.1 * awq);
  EXPECT_NEAR(report.rtnError, rtn, 0.05 * rtn);
  EXPECT_NEAR(report.outputMeanSquare, power, 1e-3 * power);
  return {awq / power, rtn / power};
}

/// The quantized checkpoint, run through the fp64 reference on the
/// calibration activations, computes the FP16 model's layers.
struct FunctionCase {
  int64_t kvHeads;
  QuantizeMethod method;
};
class QuantizedFunctionTest : public testing::TestWithParam<FunctionCase> {};

TEST_P(QuantizedFunctionTest, MatchesFp16OutputsBetterThanRtn) {
  const auto [kvHeads, method] = GetParam();
  TempDir dir;
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  const Settings s{4, 128, true, kvHeads};
  const int64_t tokens = 96;
  const ModelQuantizeResult result =
      quantizeSynthetic(dir, seed, s, tokens, method);

  const SafeTensorsCheckpoint fp16 = SafeTensorsCheckpoint::open(dir / "fp16");
  const SafeTensorsFile calibration(dir / "fp16/calibration.safetensors");
  const QuantizedCheckpoint q = importQuantizedCheckpoint(dir / "awq");
  std::map<std::string, const GroupQuantReport *> groups;
  for (const GroupQuantReport &g : result.groups)
    groups[g.name] = &g;

  int rowFolds = 0, normFolds = 0, explicitScales = 0;
  double totalAwq = 0, totalRtn = 0;
  for (const LayerQuantReport &report : result.layers) {
    SCOPED_TRACE(report.name);
    const GroupQuantReport &group = *groups.at(report.group);
    LayerSetting setting;
    switch (group.destination) {
    case ScaleDestination::NormWeight: {
      ++normFolds;
      const std::vector<float> original = floatsOf(fp16.get(group.target));
      const std::vector<float> folded = floatsOf(q.tensors.at(group.target));
      for (size_t c = 0; c < original.size(); ++c)
        setting.inputFactor.push_back(folded[c] / original[c]);
      break;
    }
    case ScaleDestination::LinearRows:
      for (float v : group.scales)
        setting.inputFactor.push_back(1.0f / v);
      break;
    case ScaleDestination::ActivationScale:
      ++explicitScales;
      setting.activationScale = halfsOf(q.tensors.at(group.target));
      ASSERT_EQ(setting.activationScale.size(), size_t(report.k));
      break;
    case ScaleDestination::None:
      ASSERT_FALSE(searchesScales(method))
          << "AWQ searched no scale for group " << group.name;
      break;
    }
    if (!report.rowsScaledBy.empty()) {
      ++rowFolds;
      setting.outputFactor = groups.at(report.rowsScaledBy)->scales;
    }
    const auto [awq, rtn] = checkLayerFunction(
        floatsOf(calibration.get(group.layers.front())), tokens,
        floatsOf(fp16.get(report.name + ".weight")), q.linears.at(report.name),
        setting, report, QuantParams{s.bits, s.group, s.zeroPoint},
        // Without AWQ's scales the outlier channels cost what they cost RTN
        // (about 2%).
        searchesScales(method) ? 0.02 : 0.05);
    totalAwq += awq;
    totalRtn += rtn;
  }
  if (!searchesScales(method)) {
    // GPTQ alone: error compensation, no scaling of the outlier channels.
    EXPECT_LT(totalAwq, 0.8 * totalRtn);
    EXPECT_EQ(normFolds + rowFolds + explicitScales, 0);
    return;
  }
  EXPECT_LT(totalAwq, 0.5 * totalRtn) << "AWQ should clearly beat RTN on "
                                         "activations with outlier channels";
  EXPECT_EQ(normFolds, 10); // q, k, v, gate, up in both blocks.
  if (kvHeads == 4) {
    EXPECT_EQ(rowFolds, 4); // v_proj and up_proj rows.
    EXPECT_EQ(explicitScales, 0);
  } else {
    EXPECT_EQ(rowFolds, 2); // up_proj only: v -> o does not fold with GQA.
    EXPECT_EQ(explicitScales, 2);
  }
}

INSTANTIATE_TEST_SUITE_P(KvHeadsAndMethod, QuantizedFunctionTest,
                         testing::Values(FunctionCase{4, QuantizeMethod::Awq},
                                         FunctionCase{2, QuantizeMethod::Awq},
                                         FunctionCase{4, QuantizeMethod::Gptq},
                                         FunctionCase{2,
                                                      QuantizeMethod::AwqGptq}),
                         [](const testing::TestParamInfo<FunctionCase> &info) {
                           std::string name =
                               "kv" + std::to_string(info.param.kvHeads) + "_" +
                               methodName(info.param.method);
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(QuantizeModel, FoldsNormsAndCopiesOtherTensors) {
  TempDir dir;
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  test::synthesize(dir / "fp16", seed, {"--dtype", "bf16", "--tokens", "64"});
  ModelQuantizeOptions options;
  options.model = dir / "fp16";
  options.calibration = dir / "fp16/calibration.safetensors";
  options.output = dir / "awq/";
  options.threads = 1;
  const ModelQuantizeResult result = quantizeModel(options);

  const SafeTensorsCheckpoint bf16 = SafeTensorsCheckpoint::open(dir / "fp16");
  const QuantizedCheckpoint q = importQuantizedCheckpoint(dir / "awq");
  EXPECT_EQ(q.tensors.size(), 7u); // embed, lm_head, 4 block norms, final norm
  for (const GroupQuantReport &group : result.groups) {
    if (group.destination != ScaleDestination::NormWeight)
      continue;
    const std::vector<float> w = floatsOf(bf16.get(group.target));
    const std::vector<uint16_t> folded = halfsOf(q.tensors.at(group.target));
    ASSERT_EQ(folded.size(), w.size());
    for (size_t c = 0; c < w.size(); ++c)
      ASSERT_EQ(folded[c], floatToHalf(w[c] / group.scales[c]))
          << group.target << " [" << c << "]";
  }
  // Tensors no scale touches pass through, converted to F16.
  for (const char *name :
       {"model.norm.weight", "lm_head.weight", "model.embed_tokens.weight"}) {
    const std::vector<float> original = floatsOf(bf16.get(name));
    const std::vector<uint16_t> copied = halfsOf(q.tensors.at(name));
    ASSERT_EQ(copied.size(), original.size()) << name;
    for (size_t i = 0; i < original.size(); ++i)
      ASSERT_EQ(copied[i], floatToHalf(original[i]))
          << name << " [" << i << "]";
  }
  const nlohmann::json config = readJsonFile(dir / "awq/config.json");
  EXPECT_EQ(config["torch_dtype"], "float16");
  EXPECT_EQ(config["quantization_config"]["quant_method"], "awq");
  EXPECT_EQ(config["quantization_config"]["bits"], 4);
  EXPECT_EQ(config["quantization_config"]["group_size"], 128);
  EXPECT_EQ(config["quantization_config"]["zero_point"], true);
  EXPECT_EQ(config["quantization_config"]["version"], "gemm");
  EXPECT_EQ(config["rms_norm_eps"], 1e-5);
}

TEST(QuantizeModel, RtnMethodSearchesNothing) {
  TempDir dir;
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  const ModelQuantizeResult result = quantizeSynthetic(
      dir, seed, Settings{4, 128, true, 2}, 64, QuantizeMethod::Rtn);
  for (const GroupQuantReport &group : result.groups) {
    EXPECT_FALSE(group.scaleSearched) << group.name;
    EXPECT_EQ(group.destination, ScaleDestination::None) << group.name;
  }
  for (const LayerQuantReport &layer : result.layers) {
    EXPECT_EQ(layer.awqError, layer.rtnError) << layer.name;
    EXPECT_FALSE(layer.clip.searched) << layer.name;
  }
  const SafeTensorsCheckpoint fp16 = SafeTensorsCheckpoint::open(dir / "fp16");
  const QuantizedCheckpoint q = importQuantizedCheckpoint(dir / "awq");
  const TensorView &norm = fp16.get("model.layers.1.input_layernorm.weight");
  const HostTensor &copied =
      q.tensors.at("model.layers.1.input_layernorm.weight");
  ASSERT_EQ(copied.data.size(), norm.size);
  EXPECT_EQ(std::memcmp(copied.data.data(), norm.data, norm.size), 0);
  // Every layer equals a plain RTN of its FP16 weight up to the fp16
  // rounding of the scale: dequantized weights within half a step, plus at
  // the clamped end qmax times the scale's rounding (at most two fp16 ulps
  // below the exact range / qmax).
  for (const auto &[name, layer] : q.linears) {
    const std::vector<float> w = floatsOf(fp16.get(name + ".weight"));
    const std::vector<float> deq = dequantize(layer); // [k, n]
    for (int64_t c = 0; c < layer.k; ++c)
      for (int64_t r = 0; r < layer.n; ++r) {
        const float step = halfToFloat(layer.scales[(c / 128) * layer.n + r]);
        const int qmax = (1 << layer.params.bits) - 1;
        ASSERT_LE(std::fabs(deq[c * layer.n + r] - w[r * layer.k + c]),
                  0.5f * step + qmax * std::ldexp(step, -9))
            << name << " [" << r << ", " << c << "]";
      }
  }
}

TEST(QuantizeModel, ShardedInputAndOutput) {
  TempDir dir;
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  test::synthesize(dir / "fp16", seed,
                   {"--shard-size", "500KB", "--tokens", "64"});
  ASSERT_TRUE(fs::exists(dir / "fp16/model.safetensors.index.json"));
  ModelQuantizeOptions options;
  options.model = dir / "fp16";
  options.calibration = dir / "fp16/calibration.safetensors";
  options.output = dir / "awq";
  options.threads = 1;
  options.maxShardBytes = 300000;
  options.keepLayers = true;
  const ModelQuantizeResult result = quantizeModel(options);
  EXPECT_TRUE(fs::exists(dir / "awq/model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(dir / "awq/model.safetensors"));
  const QuantizedCheckpoint q = importQuantizedCheckpoint(dir / "awq");
  for (const auto &[name, layer] : result.quantized)
    expectSameLayer(layer, q.linears.at(name), name);
}

TEST(QuantizeModel, CancellationLeavesNoOutputOnlyTheResumableState) {
  TempDir dir;
  test::synthesize(dir / "fp16", test::testSeed(), {"--tokens", "32"});
  std::atomic<bool> cancel{false};
  ModelQuantizeOptions options;
  options.model = dir / "fp16";
  options.calibration = dir / "fp16/calibration.safetensors";
  options.output = dir / "awq";
  options.threads = 1;
  options.cancel = &cancel;
  // Before any group is finished: nothing is left at all.
  options.onProgress = [&](const ModelProgress &p) {
    if (p.phase == ModelProgress::Phase::Planned)
      cancel = true;
  };
  EXPECT_THROW(quantizeModel(options), Cancelled);
  EXPECT_FALSE(fs::exists(dir / "awq"));
  EXPECT_TRUE(dir.leftovers().empty());

  cancel = false;
  int groupsDone = 0;
  options.onProgress = [&](const ModelProgress &p) {
    if (p.phase == ModelProgress::Phase::GroupDone && ++groupsDone == 3)
      cancel = true;
  };
  EXPECT_THROW(quantizeModel(options), Cancelled);
  EXPECT_EQ(groupsDone, 3);
  EXPECT_FALSE(fs::exists(dir / "awq"));
  EXPECT_EQ(dir.leftovers(), std::vector<std::string>{".awq.awqc-partial"});

  // Cancelling while writing (after the last group) also leaves no output.
  cancel = false;
  options.resume = true;
  options.onProgress = [&](const ModelProgress &p) {
    if (p.phase == ModelProgress::Phase::Writing)
      cancel = true;
  };
  EXPECT_THROW(quantizeModel(options), Cancelled);
  EXPECT_FALSE(fs::exists(dir / "awq"));
  EXPECT_EQ(dir.leftovers(), std::vector<std::string>{".awq.awqc-partial"});

  // Any other error removes the state, as it would recur on resume.
  options.onProgress = nullptr;
  options.afterGroupJournaled = [](size_t) { throw Error("injected"); };
  cancel = false;
  options.resume = false;
  options.overwrite = true;
  EXPECT_THROW(quantizeModel(options), Error);
  EXPECT_FALSE(fs::exists(dir / "awq"));
  EXPECT_TRUE(dir.leftovers().empty());
}

/// [tokens, k] activations with a few outlier channels, drawn here (not by
/// awqc synth) so the description path sees other data.
std::vector<float> outlierActivations(std::mt19937_64 &rng, int64_t tokens,
                                      int64_t k) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::vector<float> channel(k);
  for (float &c : channel)
    c = 0.5f + uniform(rng);
  for (int i = 0; i < 6; ++i)
    channel[std::uniform_int_distribution<int64_t>(0, k - 1)(rng)] =
        20.0f + 80.0f * uniform(rng);
  std::vector<float> x(static_cast<size_t>(tokens * k));
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t c = 0; c < k; ++c)
      x[t * k + c] = normal(rng) * channel[c];
  return x;
}

TEST(QuantizeModel, DescriptionInputWithLinearAndInputProducers) {
  TempDir dir;
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  test::synthesize(dir / "fp16", seed, {"--layers", "1", "--tokens", "8"});
  // A chain the Hugging Face derivation never produces: an external input,
  // a norm, and a linear feeding a linear directly. Weights live under
  // other names than the layers.
  const char *description = R"({
    "awqc_model_description": 1,
    "name": "chain",
    "checkpoint": {"path": "fp16"},
    "input_groups": [
      {"name": "g_in", "producer": {"kind": "input", "name": "x"}},
      {"name": "g_norm", "producer": {"kind": "rms_norm", "name": "norm",
        "weight": "model.layers.0.post_attention_layernorm.weight",
        "epsilon": 1e-5}},
      {"name": "g_mid", "producer": {"kind": "linear", "name": "up"}}
    ],
    "layers": [
      {"name": "first", "k": 256, "n": 256, "bits": 3, "group_size": 64,
       "zero_point": true, "input_group": "g_in",
       "weights": "model.layers.0.self_attn.q_proj"},
      {"name": "up", "k": 256, "n": 512, "bits": 3, "group_size": 64,
       "zero_point": true, "input_group": "g_norm",
       "weights": "model.layers.0.mlp.up_proj"},
      {"name": "down", "k": 512, "n": 256, "bits": 3, "group_size": 64,
       "zero_point": true, "input_group": "g_mid",
       "weights": "model.layers.0.mlp.down_proj", "skip_clip": true}
    ]})";
  test::writeText(dir / "chain.json", description);
  std::mt19937_64 rng(seed);
  const int64_t tokens = 128;
  std::map<std::string, std::vector<float>> activations = {
      {"first", outlierActivations(rng, tokens, 256)},
      {"up", outlierActivations(rng, tokens, 256)},
      {"down", outlierActivations(rng, tokens, 512)}};
  std::vector<TensorRef> refs;
  for (const auto &[name, x] : activations)
    refs.push_back({name,
                    DType::F32,
                    {tokens, int64_t(x.size()) / tokens},
                    x.data(),
                    x.size() * sizeof(float)});
  writeSafeTensors(dir / "chain-calibration.safetensors", refs);

  ModelQuantizeOptions options;
  options.model = dir / "chain.json";
  options.calibration = dir / "chain-calibration.safetensors";
  options.output = dir / "awq";
  options.threads = 1;
  options.keepLayers = true;
  const ModelQuantizeResult result = quantizeModel(options);
  EXPECT_EQ(result.settings.bits, 3);
  EXPECT_EQ(result.settings.groupSize, 64);
  ASSERT_EQ(result.groups.size(), 3u);
  EXPECT_EQ(result.groups[0].destination, ScaleDestination::ActivationScale);
  EXPECT_EQ(result.groups[0].target, "g_in.activation_scale");
  EXPECT_EQ(result.groups[1].destination, ScaleDestination::NormWeight);
  EXPECT_EQ(result.groups[1].target,
            "model.layers.0.post_attention_layernorm.weight");
  EXPECT_EQ(result.groups[2].destination, ScaleDestination::LinearRows);
  EXPECT_EQ(result.groups[2].target, "up");
  ASSERT_EQ(result.layers.size(), 3u);
  EXPECT_EQ(result.layers[1].rowsScaledBy, "g_mid");
  // skip_clip in the description; the others are clipped.
  EXPECT_TRUE(result.layers[0].clip.searched);
  EXPECT_TRUE(result.layers[1].clip.searched);
  EXPECT_FALSE(result.layers[2].clip.searched);

  const QuantizedCheckpoint q = importQuantizedCheckpoint(dir / "awq");
  ASSERT_EQ(q.linears.size(), 3u);
  for (const auto &[prefix, layer] : result.quantized)
    expectSameLayer(layer, q.linears.at(prefix), prefix);
  // Only the tensors the description names pass through (the norm, with 1/s
  // folded in), plus the activation scale; not the other weights of the
  // checkpoint (k/v/o/gate of the synthetic block, embeddings).
  EXPECT_TRUE(
      q.tensors.count("model.layers.0.post_attention_layernorm.weight"));
  EXPECT_TRUE(q.tensors.count("g_in.activation_scale"));
  EXPECT_EQ(q.tensors.size(), 2u);
  EXPECT_FALSE(q.tensors.count("model.layers.0.self_attn.k_proj.weight"));
  EXPECT_FALSE(q.tensors.count("model.layers.0.mlp.up_proj.weight"));

  const nlohmann::json written = readJsonFile(dir / "awq/model.json");
  EXPECT_EQ(written["name"], "chain");
  EXPECT_EQ(written["checkpoint"]["path"], ".");
  EXPECT_EQ(written["input_groups"][0]["activation_scale"],
            "g_in.activation_scale");
  EXPECT_FALSE(written["input_groups"][1].contains("activation_scale"));
  EXPECT_EQ(written["layers"][2]["weights"], "model.layers.0.mlp.down_proj");
  EXPECT_EQ(written["layers"][2]["skip_clip"], true);

  // Numerically, through the reference (3 bits: a looser error bound).
  const SafeTensorsCheckpoint fp16 = SafeTensorsCheckpoint::open(dir / "fp16");
  const QuantParams params{3, 64, true};
  LayerSetting first;
  first.activationScale = halfsOf(q.tensors.at("g_in.activation_scale"));
  LayerSetting up;
  const std::string norm = "model.layers.0.post_attention_layernorm.weight";
  const std::vector<float> original = floatsOf(fp16.get(norm));
  const std::vector<float> folded = floatsOf(q.tensors.at(norm));
  for (size_t c = 0; c < original.size(); ++c)
    up.inputFactor.push_back(folded[c] / original[c]);
  up.outputFactor = result.groups[2].scales;
  LayerSetting down;
  for (float v : result.groups[2].scales)
    down.inputFactor.push_back(1.0f / v);
  const std::pair<const char *, const LayerSetting *> layers[] = {
      {"first", &first}, {"up", &up}, {"down", &down}};
  const char *weights[] = {"model.layers.0.self_attn.q_proj",
                           "model.layers.0.mlp.up_proj",
                           "model.layers.0.mlp.down_proj"};
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(layers[i].first);
    checkLayerFunction(activations.at(layers[i].first), tokens,
                       floatsOf(fp16.get(std::string(weights[i]) + ".weight")),
                       q.linears.at(weights[i]), *layers[i].second,
                       result.layers[i], params, /*maxRelativeError=*/0.1);
  }

  // --copy-unlisted: every other tensor of the checkpoint goes along (as
  // FP16), as for a Hugging Face directory.
  options.output = dir / "all";
  options.copyUnlisted = true;
  options.method = QuantizeMethod::Rtn;
  quantizeModel(options);
  const QuantizedCheckpoint all = importQuantizedCheckpoint(dir / "all");
  const TensorView &kProj = fp16.get("model.layers.0.self_attn.k_proj.weight");
  ASSERT_TRUE(all.tensors.count("model.layers.0.self_attn.k_proj.weight"));
  EXPECT_EQ(all.tensors.at("model.layers.0.self_attn.k_proj.weight").dtype,
            DType::F16);
  EXPECT_EQ(floatsOf(all.tensors.at("model.layers.0.self_attn.k_proj.weight")),
            floatsOf(kProj)); // F16 already: copied exactly.
  EXPECT_TRUE(all.tensors.count("model.embed_tokens.weight"));
  EXPECT_FALSE(all.tensors.count("model.layers.0.mlp.up_proj.weight"));
}

//===----------------------------------------------------------------------===//
// Mixed precision: --target-bits and the description's "quantize" settings.
//===----------------------------------------------------------------------===//

/// Weight-count-weighted mean of the layers' code widths.
double averageBitsOf(const ModelQuantizeResult &result) {
  double weighted = 0, weights = 0;
  for (const LayerQuantReport &layer : result.layers) {
    weighted += double(layer.n * layer.k) * layer.bits;
    weights += double(layer.n * layer.k);
  }
  return weighted / weights;
}

ModelQuantizeOptions targetBitsOptions(const TempDir &dir, double target,
                                       QuantizeMethod method) {
  ModelQuantizeOptions options;
  options.model = dir / "fp16";
  options.calibration = dir / "fp16/calibration.safetensors";
  options.output = dir / "mixed";
  options.targetBits = target;
  options.method = method;
  options.threads = 1;
  options.keepLayers = true;
  return options;
}

TEST(QuantizeModel, TargetBitsMeetsTheBudgetAndPredictsItsError) {
  TempDir dir;
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  test::synthesize(dir / "fp16", seed, {"--tokens", "64"});
  // RTN folds nothing, so each group's measured error at its chosen width
  // is exactly what the final run measures.
  const ModelQuantizeResult result =
      quantizeModel(targetBitsOptions(dir, 3.5, QuantizeMethod::Rtn));
  ASSERT_TRUE(result.mixedPrecision);
  EXPECT_TRUE(result.mixed);
  const double average = averageBitsOf(result);
  EXPECT_LE(average, 3.5);
  EXPECT_GT(average, 3.0); // The budget is spent, not left unused.
  EXPECT_NEAR(result.mixedPrecision->averageBits, average, 1e-12);

  double actual = 0, uniform3 = 0, uniform4 = 0;
  for (const LayerQuantReport &layer : result.layers)
    actual += layer.awqError / layer.outputMeanSquare;
  for (const GroupQuantReport &group : result.groups) {
    SCOPED_TRACE(group.name);
    ASSERT_EQ(group.widthErrors.size(), 3u);
    EXPECT_EQ(group.widthErrors[0].first, 3);
    EXPECT_EQ(group.widthErrors[2].first, 8);
    // More bits, less error.
    EXPECT_GT(group.widthErrors[0].second, group.widthErrors[1].second);
    EXPECT_GT(group.widthErrors[1].second, group.widthErrors[2].second);
    uniform3 += group.widthErrors[0].second;
    uniform4 += group.widthErrors[1].second;
  }
  EXPECT_NEAR(result.mixedPrecision->predictedError, actual, 1e-9 * actual);
  EXPECT_LT(actual, uniform3);
  EXPECT_GT(actual, uniform4);

  // The checkpoint holds each layer at its own width, bit for bit, and says
  // so in config.json (awqc_layers) and model.json.
  const QuantizedCheckpoint imported = importQuantizedCheckpoint(dir / "mixed");
  EXPECT_EQ(imported.quantization.version, "awqc-gemm");
  EXPECT_FALSE(imported.quantization.layers.empty());
  std::set<int> widths;
  for (const LayerQuantReport &layer : result.layers) {
    widths.insert(layer.bits);
    EXPECT_EQ(imported.linears.at(layer.name).params.bits, layer.bits)
        << layer.name;
    expectSameLayer(result.quantized.at(layer.name),
                    imported.linears.at(layer.name), layer.name);
  }
  EXPECT_GT(widths.size(), 1u);
  const ModelDescription written =
      parseModelDescription(dir / "mixed/model.json");
  for (size_t i = 0; i < written.layers.size(); ++i)
    EXPECT_EQ(written.layers[i].bits, result.layers[i].bits);
  // describeCheckpoint reads the per-layer widths from config.json alone.
  fs::remove(dir / "mixed/model.json");
  const ModelDescription derived = describeCheckpoint(dir / "mixed");
  for (size_t i = 0; i < derived.layers.size(); ++i)
    EXPECT_EQ(derived.layers[i].bits, result.layers[i].bits);
  // ... and refuses an entry that names no layer of the model.
  nlohmann::json config = readJsonFile(dir / "mixed/config.json");
  config["quantization_config"]["awqc_layers"]["model.layers.9.nope"] = {
      {"bits", 8}};
  test::writeText(dir / "mixed/config.json", config.dump());
  std::string message;
  try {
    describeCheckpoint(dir / "mixed");
  } catch (const Error &e) {
    message = e.what();
  }
  EXPECT_NE(message.find("config.json: quantization_config.awqc_layers names "
                         "'model.layers.9.nope', which is no layer of the "
                         "model"),
            std::string::npos)
      << message;

  // The text and JSON reports name the chosen widths.
  const std::string table = formatReportTable(result);
  EXPECT_NE(table.find("mixed 3/"), std::string::npos) << table;
  EXPECT_NE(table.find("target bits: 3.5; chose"), std::string::npos);
  const nlohmann::json report = reportToJson(result);
  EXPECT_EQ(report["mixed_precision"]["target_bits"], 3.5);
  EXPECT_EQ(report["layers"][0]["bits"], result.layers[0].bits);
  EXPECT_EQ(report["groups"][0]["width_errors"].size(), 3u);
  EXPECT_TRUE(dir.leftovers().empty());
}

/// An AWQ checkpoint with mixed widths computes the FP16 model's layers: each
/// quantized layer through the fp64 reference, at its own width.
TEST(QuantizeModel, MixedWidthCheckpointComputesTheModel) {
  TempDir dir;
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  const int64_t tokens = 96;
  test::synthesize(dir / "fp16", seed,
                   {"--tokens", std::to_string(tokens), "--kv-heads", "2"});
  const ModelQuantizeResult result =
      quantizeModel(targetBitsOptions(dir, 4.25, QuantizeMethod::Awq));
  ASSERT_TRUE(result.mixed);
  EXPECT_LE(averageBitsOf(result), 4.25);

  const SafeTensorsCheckpoint fp16 = SafeTensorsCheckpoint::open(dir / "fp16");
  const SafeTensorsFile calibration(dir / "fp16/calibration.safetensors");
  const QuantizedCheckpoint q = importQuantizedCheckpoint(dir / "mixed");
  std::map<std::string, const GroupQuantReport *> groups;
  for (const GroupQuantReport &g : result.groups)
    groups[g.name] = &g;
  std::set<int> widths;
  for (const LayerQuantReport &report : result.layers) {
    SCOPED_TRACE(report.name);
    const GroupQuantReport &group = *groups.at(report.group);
    LayerSetting setting;
    switch (group.destination) {
    case ScaleDestination::NormWeight: {
      const std::vector<float> original = floatsOf(fp16.get(group.target));
      const std::vector<float> folded = floatsOf(q.tensors.at(group.target));
      for (size_t c = 0; c < original.size(); ++c)
        setting.inputFactor.push_back(folded[c] / original[c]);
      break;
    }
    case ScaleDestination::LinearRows:
      for (float v : group.scales)
        setting.inputFactor.push_back(1.0f / v);
      break;
    case ScaleDestination::ActivationScale:
      setting.activationScale = halfsOf(q.tensors.at(group.target));
      break;
    case ScaleDestination::None:
      FAIL() << "AWQ searched no scale for group " << group.name;
    }
    if (!report.rowsScaledBy.empty())
      setting.outputFactor = groups.at(report.rowsScaledBy)->scales;
    const QuantizedLinear &layer = q.linears.at(report.name);
    ASSERT_EQ(layer.params.bits, report.bits);
    widths.insert(report.bits);
    checkLayerFunction(floatsOf(calibration.get(group.layers.front())), tokens,
                       floatsOf(fp16.get(report.name + ".weight")), layer,
                       setting, report,
                       QuantParams{report.bits, report.groupSize, true},
                       report.bits == 3 ? 0.05 : 0.02);
  }
  EXPECT_GT(widths.size(), 1u);
}

TEST(QuantizeModel, DescriptionQuantizeSettingsWinOverTheCommandLine) {
  TempDir dir;
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  test::synthesize(dir / "fp16", seed, {"--layers", "1", "--tokens", "8"});
  ModelDescription description = parseModelDescription([&] {
    // The Hugging Face input's own model.json, pointed at the FP16 weights.
    ModelQuantizeOptions options;
    options.model = dir / "fp16";
    options.calibration = dir / "fp16/calibration.safetensors";
    options.output = dir / "plain";
    options.method = QuantizeMethod::Rtn;
    options.threads = 1;
    quantizeModel(options);
    return dir / "plain/model.json";
  }());
  description.checkpoint.path = "fp16";
  // q, k, v: 8-bit RTN; o: GPTQ with per-column groups; the rest free.
  for (LayerDescription &layer : description.layers) {
    if (layer.inputGroup == "model.layers.0.attn_input")
      layer.quantize = {"rtn", 8, 0};
    if (layer.inputGroup == "model.layers.0.attn_output")
      layer.quantize = {"gptq", 0, -1};
  }
  writeModelDescription(description, dir / "model.json");

  ModelQuantizeOptions options;
  options.model = dir / "model.json";
  options.calibration = dir / "fp16/calibration.safetensors";
  options.output = dir / "mixed";
  options.targetBits = 5.0;
  options.method = QuantizeMethod::Awq;
  options.threads = 1;
  const ModelQuantizeResult result = quantizeModel(options);
  ASSERT_EQ(result.layers.size(), 7u);
  for (const LayerQuantReport &layer : result.layers) {
    SCOPED_TRACE(layer.name);
    if (layer.group == "model.layers.0.attn_input") {
      EXPECT_EQ(layer.bits, 8);
      EXPECT_EQ(layer.method, QuantizeMethod::Rtn);
      EXPECT_EQ(layer.awqError, layer.rtnError);
    } else if (layer.group == "model.layers.0.attn_output") {
      EXPECT_EQ(layer.method, QuantizeMethod::Gptq);
      EXPECT_EQ(layer.groupSize, -1);
    } else {
      EXPECT_EQ(layer.method, QuantizeMethod::Awq);
      EXPECT_EQ(layer.groupSize, 128);
    }
  }
  // Fixed groups were not measured; the others were.
  EXPECT_TRUE(result.groups[0].widthErrors.empty());
  EXPECT_EQ(result.groups[1].widthErrors.size(), 3u);
  EXPECT_LE(averageBitsOf(result), 5.0);
  EXPECT_EQ(result.groups[0].destination, ScaleDestination::None);
  const QuantizedCheckpoint q = importQuantizedCheckpoint(dir / "mixed");
  EXPECT_EQ(q.linears.at("model.layers.0.self_attn.o_proj").params.groupSize,
            256);
  // The written description keeps the settings it was asked for.
  const ModelDescription written =
      parseModelDescription(dir / "mixed/model.json");
  EXPECT_EQ(written.layers[0].quantize.method, "rtn");
  EXPECT_EQ(written.layers[0].bits, 8);
  EXPECT_EQ(written.layers[3].groupSize, -1);

  // Infeasible with the 8-bit q/k/v fixed: nothing is written.
  options.targetBits = 3.0;
  options.output = dir / "impossible";
  std::string message;
  try {
    quantizeModel(options);
  } catch (const Error &e) {
    message = e.what();
  }
  EXPECT_NE(message.find("--target-bits 3 cannot be met"), std::string::npos)
      << message;
  EXPECT_FALSE(fs::exists(dir / "impossible"));
  // --target-bits and --bits exclude each other.
  options.targetBits = 4.0;
  options.settings.bits = 4;
  message.clear();
  try {
    quantizeModel(options);
  } catch (const Error &e) {
    message = e.what();
  }
  EXPECT_NE(message.find("cannot be combined with --bits"), std::string::npos)
      << message;
  EXPECT_TRUE(dir.leftovers().empty());
}

//===----------------------------------------------------------------------===//
// Bad input: a clear message naming the file/tensor/field, never a crash,
// and nothing left behind.
//===----------------------------------------------------------------------===//

class BadInputTest : public testing::Test {
protected:
  void SetUp() override {
    seed_ = test::testSeed();
    test::synthesize(dir_ / "fp16", seed_, {"--tokens", "32"});
    calibration_ = dir_ / "fp16/calibration.safetensors";
  }

  /// Runs quantizeModel and returns its error message ("" on success).
  std::string errorOf(ModelQuantizeOptions options) {
    if (options.model.empty())
      options.model = dir_ / "fp16";
    if (options.calibration.empty())
      options.calibration = calibration_;
    if (options.output.empty())
      options.output = dir_ / "awq";
    options.threads = 1;
    std::string message;
    try {
      quantizeModel(options);
    } catch (const Error &e) {
      message = e.what();
    }
    EXPECT_FALSE(message.empty()) << "expected an error";
    EXPECT_FALSE(fs::exists(options.output)) << "partial output left";
    EXPECT_TRUE(dir_.leftovers().empty());
    return message;
  }

  /// Rewrites the calibration file with `edit` applied to its tensors.
  std::string editedCalibration(
      const std::function<void(std::map<std::string, std::vector<float>> &,
                               std::map<std::string, std::vector<int64_t>> &,
                               std::map<std::string, std::string> &)> &edit) {
    const SafeTensorsFile original(calibration_);
    std::map<std::string, std::vector<float>> data;
    std::map<std::string, std::vector<int64_t>> shapes;
    std::map<std::string, std::string> metadata = original.metadata();
    for (const TensorView &view : original.tensors()) {
      data[view.name] = floatsOf(view);
      shapes[view.name] = view.shape;
    }
    edit(data, shapes, metadata);
    std::vector<TensorRef> refs;
    for (const auto &[name, values] : data)
      refs.push_back({name, DType::F32, shapes.at(name), values.data(),
                      values.size() * sizeof(float)});
    const std::string path = dir_ / "edited.safetensors";
    writeSafeTensors(path, refs, metadata);
    return path;
  }

  TempDir dir_;
  uint64_t seed_ = 0;
  std::string calibration_;
};

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

TEST_F(BadInputTest, CalibrationProblems) {
  SCOPED_TRACE(test::seedMessage(seed_));
  ModelQuantizeOptions options;

  test::writeText(dir_ / "garbage.safetensors", "this is not safetensors");
  options.calibration = dir_ / "garbage.safetensors";
  EXPECT_PRED2(contains, errorOf(options), dir_ / "garbage.safetensors");

  options.calibration = dir_ / "missing.safetensors";
  EXPECT_PRED2(contains, errorOf(options), dir_ / "missing.safetensors");

  options.calibration = editedCalibration([](auto &data, auto &, auto &) {
    data.erase("model.layers.1.mlp.down_proj");
  });
  std::string message = errorOf(options);
  EXPECT_PRED2(contains, message,
               "no calibration tensor for input group "
               "'model.layers.1.mlp_hidden': expected a tensor named "
               "'model.layers.1.mlp.down_proj'");

  options.calibration = editedCalibration([](auto &data, auto &shapes, auto &) {
    shapes["model.layers.0.mlp.down_proj"] = {64, 256};
  });
  message = errorOf(options);
  EXPECT_PRED2(contains, message, "tensor 'model.layers.0.mlp.down_proj'");
  EXPECT_PRED2(contains, message, "expected shape [tokens, K = 512]");
  EXPECT_PRED2(contains, message, "got F32 [64, 256]");

  options.calibration = editedCalibration([](auto &data, auto &, auto &) {
    data["model.layers.0.self_attn.o_proj"][77] =
        std::numeric_limits<float>::quiet_NaN();
  });
  message = errorOf(options);
  EXPECT_PRED2(contains, message, "model.layers.0.attn_output");
  EXPECT_PRED2(contains, message, "not finite");

  options.calibration = editedCalibration([](auto &, auto &, auto &metadata) {
    nlohmann::json groups = nlohmann::json::parse(metadata["groups"]);
    groups["model.layers.0.mlp.gate_proj"] = {"model.layers.0.mlp.gate_proj"};
    metadata["groups"] = groups.dump();
  });
  EXPECT_PRED2(contains, errorOf(options), "groups metadata says");

  options.calibration = editedCalibration(
      [](auto &, auto &, auto &metadata) { metadata["groups"] = "{oops"; });
  EXPECT_PRED2(contains, errorOf(options), "__metadata__ groups");

  options.calibration = editedCalibration(
      [](auto &, auto &, auto &metadata) { metadata["format"] = "pt"; });
  EXPECT_PRED2(contains, errorOf(options), "expected 'awqc-calibration'");
}

TEST_F(BadInputTest, ModelProblems) {
  SCOPED_TRACE(test::seedMessage(seed_));
  ModelQuantizeOptions options;
  options.model = dir_ / "nowhere";
  EXPECT_PRED2(contains, errorOf(options), "no such file or directory");

  // A weight missing, another of the wrong shape.
  const SafeTensorsCheckpoint fp16 = SafeTensorsCheckpoint::open(dir_ / "fp16");
  fs::create_directories(dir_ / "broken");
  fs::copy_file(dir_ / "fp16/config.json", dir_ / "broken/config.json");
  std::vector<TensorRef> refs;
  std::vector<float> wrong(100 * 256, 0.5f);
  for (const std::string &name : fp16.names()) {
    if (name == "model.layers.1.mlp.up_proj.weight")
      continue;
    const TensorView &view = fp16.get(name);
    refs.push_back({name, view.dtype, view.shape, view.data, view.size});
  }
  writeSafeTensors(dir_ / "broken/model.safetensors", refs);
  options.model = dir_ / "broken";
  std::string message = errorOf(options);
  EXPECT_PRED2(contains, message,
               "missing tensor 'model.layers.1.mlp.up_proj.weight'");
  EXPECT_PRED2(contains, message, "expected [N, K] = [512, 256]");

  refs.push_back({"model.layers.1.mlp.up_proj.weight",
                  DType::F32,
                  {100, 256},
                  wrong.data(),
                  wrong.size() * 4});
  writeSafeTensors(dir_ / "broken/model.safetensors", refs);
  message = errorOf(options);
  EXPECT_PRED2(contains, message, "tensor 'model.layers.1.mlp.up_proj.weight'");
  EXPECT_PRED2(contains, message, "got F32 [100, 256]");

  nlohmann::json config = readJsonFile(dir_ / "fp16/config.json");
  config["architectures"] = {"GPT2LMHeadModel"};
  test::writeText(dir_ / "broken/config.json", config.dump());
  EXPECT_PRED2(contains, errorOf(options), "architectures");

  config = readJsonFile(dir_ / "fp16/config.json");
  config["hidden_size"] = "256";
  test::writeText(dir_ / "broken/config.json", config.dump());
  EXPECT_PRED2(contains, errorOf(options), "hidden_size");

  fs::remove(dir_ / "broken/config.json");
  EXPECT_PRED2(contains, errorOf(options), "no config.json");
}

TEST_F(BadInputTest, SettingsAndOutputProblems) {
  SCOPED_TRACE(test::seedMessage(seed_));
  ModelQuantizeOptions options;
  options.settings.groupSize = 96;
  EXPECT_PRED2(
      contains, errorOf(options),
      "group size 96 must be K or a multiple of 32 that divides K = 256");
  // 16 divides every K but is not a size the kernels serve: refused before
  // any work, not by `awqc compile` after it.
  options.settings.groupSize = 16;
  EXPECT_PRED2(
      contains, errorOf(options),
      "group size 16 must be K or a multiple of 32 that divides K = 256");
  options.settings.groupSize = std::nullopt;
  options.settings.bits = 5;
  EXPECT_PRED2(contains, errorOf(options), "--bits must be 3, 4 or 8");

  // N = 48 is not a multiple of the 32 columns 3-bit packing groups.
  test::synthesize(dir_ / "narrow", seed_,
                   {"--hidden", "48", "--heads", "4", "--intermediate", "64",
                    "--tokens", "16"});
  options = {};
  options.model = dir_ / "narrow";
  options.calibration = dir_ / "narrow/calibration.safetensors";
  options.settings = {3, -1, true};
  EXPECT_PRED2(contains, errorOf(options), "q_proj");

  // An existing output needs --force; the old one survives a failure.
  options = {};
  fs::create_directories(dir_ / "taken");
  test::writeText(dir_ / "taken/keep.txt", "precious");
  options.output = dir_ / "taken";
  std::string message;
  try {
    options.model = dir_ / "fp16";
    options.calibration = calibration_;
    quantizeModel(options);
  } catch (const Error &e) {
    message = e.what();
  }
  EXPECT_PRED2(contains, message, "pass --force to replace it");
  EXPECT_EQ(test::readText(dir_ / "taken/keep.txt"), "precious");
  // --force replaces only an earlier checkpoint of awqc quantize.
  options.overwrite = true;
  options.threads = 1;
  const auto refusal = [](const ModelQuantizeOptions &o) {
    try {
      quantizeModel(o);
    } catch (const Error &e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_PRED2(contains, refusal(options),
               "is not an earlier output of awqc quantize");
  EXPECT_EQ(test::readText(dir_ / "taken/keep.txt"), "precious");
  fs::remove(dir_ / "taken/keep.txt");
  options.overwrite = false; // An empty directory holds nothing to lose.
  quantizeModel(options);
  EXPECT_TRUE(fs::exists(dir_ / "taken/model.safetensors"));
  test::writeText(dir_ / "taken/stale.txt", "from the earlier run");
  options.overwrite = true;
  options.method = QuantizeMethod::Rtn;
  quantizeModel(options);
  EXPECT_FALSE(fs::exists(dir_ / "taken/stale.txt"));
  EXPECT_TRUE(fs::exists(dir_ / "taken/model.safetensors"));
  EXPECT_TRUE(dir_.leftovers().empty());
  // Never the model it reads.
  options.output = dir_ / "fp16";
  EXPECT_PRED2(contains, refusal(options), "is an input of awqc quantize");
  EXPECT_TRUE(fs::exists(dir_ / "fp16/config.json"));

  // The quantized output is not a valid input.
  options = {};
  options.model = dir_ / "taken";
  EXPECT_PRED2(contains, errorOf(options), "already quantized");

  options = {};
  options.output = dir_ / "no/such/parent";
  EXPECT_PRED2(contains, errorOf(options), "does not exist");
}

} // namespace
} // namespace awq
