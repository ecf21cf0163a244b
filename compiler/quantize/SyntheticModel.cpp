//===- SyntheticModel.cpp - A random LLaMA-shaped model for tests and demos
//===//

#include "compiler/quantize/SyntheticModel.h"

#include "compiler/frontend/OutputStaging.h"
#include "runtime/formats/AtomicFile.h"
#include "runtime/formats/SafeTensorsWriter.h"
#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

namespace awq {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// Bounds that keep a "tiny" test model from filling the disk by a typo.
constexpr int64_t kMaxDimension = 65536;
constexpr uint64_t kMaxParameters = uint64_t(4) << 30;

/// A well-mixed 64-bit hash (splitmix64's finaliser).
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// Each tensor gets its own stream, so adding a tensor or changing one size
/// leaves the others as they were.
std::mt19937_64 streamFor(uint64_t seed, const std::string &name) {
  uint64_t h = 0xcbf29ce484222325ull; // FNV-1a
  for (unsigned char c : name)
    h = (h ^ c) * 0x100000001b3ull;
  return std::mt19937_64(mix(seed ^ mix(h)));
}

uint16_t floatToBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  bits += 0x7fffu + ((bits >> 16) & 1u); // round to nearest even
  return static_cast<uint16_t>(bits >> 16);
}

/// A tensor held in its final dtype.
struct OwnedTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

OwnedTensor encode(const std::string &name, std::vector<int64_t> shape,
                   const std::vector<float> &values, DType dtype) {
  OwnedTensor tensor{name, dtype, std::move(shape), {}};
  tensor.bytes.resize(values.size() * dtypeSize(dtype));
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::F32) {
      std::memcpy(tensor.bytes.data() + 4 * i, &values[i], 4);
    } else {
      const uint16_t bits =
          dtype == DType::F16 ? floatToHalf(values[i]) : floatToBf16(values[i]);
      std::memcpy(tensor.bytes.data() + 2 * i, &bits, 2);
    }
  }
  return tensor;
}

/// A linear weight [n, k] like a trained one: about N(0, 1/k), a mild
/// per-input-column spread and a heavy tail (1% of weights 3-6x larger).
std::vector<float> linearWeight(std::mt19937_64 &rng, int64_t n, int64_t k) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  const float sigma = 1.0f / std::sqrt(static_cast<float>(k));
  std::vector<float> column(static_cast<size_t>(k));
  for (float &c : column)
    c = sigma * std::exp(0.2f * normal(rng));
  std::vector<float> w(static_cast<size_t>(n * k));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      float v = normal(rng) * column[c];
      if (uniform(rng) < 0.01f)
        v *= 3.0f + 3.0f * uniform(rng);
      w[r * k + c] = v;
    }
  return w;
}

std::vector<float> normWeight(std::mt19937_64 &rng, int64_t k) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(static_cast<size_t>(k));
  for (float &v : w)
    v = std::max(0.05f, 1.0f + 0.1f * normal(rng));
  return w;
}

std::vector<float> gaussian(std::mt19937_64 &rng, size_t count, float sigma) {
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> v(count);
  for (float &x : v)
    x = normal(rng);
  return v;
}

/// Per-channel magnitudes of one activation tensor: log-normal around 1,
/// with `outliers` channels 20-100x larger.
struct ChannelProfile {
  std::vector<float> scale;
  std::vector<int64_t> outliers;
};

ChannelProfile channelProfile(std::mt19937_64 &rng, int64_t k,
                              int64_t outliers) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  ChannelProfile profile;
  profile.scale.resize(static_cast<size_t>(k));
  for (float &s : profile.scale)
    s = std::exp(0.3f * normal(rng));
  std::vector<int64_t> channels(static_cast<size_t>(k));
  for (int64_t c = 0; c < k; ++c)
    channels[c] = c;
  std::shuffle(channels.begin(), channels.end(), rng);
  profile.outliers.assign(channels.begin(),
                          channels.begin() + std::min(outliers, k));
  std::sort(profile.outliers.begin(), profile.outliers.end());
  for (int64_t c : profile.outliers)
    profile.scale[c] = 20.0f + 80.0f * uniform(rng);
  return profile;
}

/// [tokens, k] activations: N(0, 1) times the channel profile times a
/// per-token magnitude.
std::vector<float> activations(std::mt19937_64 &rng, int64_t tokens,
                               const std::vector<float> &channelScale) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t k = static_cast<int64_t>(channelScale.size());
  std::vector<float> x(static_cast<size_t>(tokens * k));
  for (int64_t t = 0; t < tokens; ++t) {
    const float tokenScale = std::exp(0.2f * normal(rng));
    for (int64_t c = 0; c < k; ++c)
      x[t * k + c] = normal(rng) * channelScale[c] * tokenScale;
  }
  return x;
}

void checkRange(const char *option, int64_t value, int64_t min, int64_t max) {
  if (value < min || value > max)
    throw Error(std::string(option) + " must be in [" + std::to_string(min) +
                ", " + std::to_string(max) + "], got " + std::to_string(value));
}

/// The model's name for the calibration metadata: the directory's name
/// ("out/" names "out").
std::string modelName(const std::string &output) {
  fs::path path = fs::path(output).lexically_normal();
  if (path.filename().empty())
    path = path.parent_path();
  return path.filename().string();
}

std::vector<TensorRef> refsOf(const std::vector<OwnedTensor> &tensors) {
  std::vector<TensorRef> refs;
  for (const OwnedTensor &t : tensors)
    refs.push_back({t.name, t.dtype, t.shape, t.bytes.data(), t.bytes.size()});
  return refs;
}

} // namespace

SynthResult writeSyntheticModel(const SynthOptions &options) {
  const int64_t kvHeads =
      options.kvHeads == 0 ? options.heads : options.kvHeads;
  checkRange("--hidden", options.hidden, 1, kMaxDimension);
  checkRange("--intermediate", options.intermediate, 1, 4 * kMaxDimension);
  checkRange("--layers", options.layers, 1, 1024);
  checkRange("--heads", options.heads, 1, options.hidden);
  checkRange("--kv-heads", kvHeads, 1, options.heads);
  checkRange("--vocab", options.vocab, 1, 1 << 20);
  checkRange("--tokens", options.tokens, 1, 1 << 20);
  checkRange("--outliers", options.outliers, 0, options.hidden);
  if (options.hidden % options.heads != 0)
    throw Error("--hidden " + std::to_string(options.hidden) +
                " must be divisible by --heads " +
                std::to_string(options.heads));
  if (options.heads % kvHeads != 0)
    throw Error("--heads " + std::to_string(options.heads) +
                " must be divisible by --kv-heads " + std::to_string(kvHeads));
  if (options.dtype != DType::F16 && options.dtype != DType::BF16 &&
      options.dtype != DType::F32)
    throw Error("--dtype must be f16, bf16 or f32");
  const int64_t h = options.hidden, inter = options.intermediate;
  const int64_t headDim = h / options.heads, kvWidth = kvHeads * headDim;
  const uint64_t perBlock = uint64_t(h) * (2 * h + 2 * kvWidth) +
                            3 * uint64_t(h) * inter + 2 * uint64_t(h);
  const uint64_t parameters =
      perBlock * options.layers + 2 * uint64_t(options.vocab) * h + h;
  if (parameters > kMaxParameters)
    throw Error("the synthetic model would have " + std::to_string(parameters) +
                " parameters; the limit is " + std::to_string(kMaxParameters));

  OutputRules rules;
  rules.command = "awqc synth";
  rules.force = options.overwrite;
  rules.isEarlierOutput = [](const fs::path &dir) {
    return (fs::exists(dir / "model.safetensors") ||
            fs::exists(dir / "model.safetensors.index.json")) &&
           fs::exists(dir / "config.json") &&
           !fileContains(dir / "config.json", "\"quantization_config\"");
  };
  rules.earlierOutput = "an unquantized model directory with config.json and "
                        "model.safetensors";
  OutputRules calibrationRules = rules;
  calibrationRules.inputs = {options.output};
  calibrationRules.isEarlierOutput = [](const fs::path &file) {
    return fileContains(file, "awqc-calibration", 1 << 16);
  };
  calibrationRules.earlierOutput = "an awqc-calibration safetensors file";
  if (!options.calibration.empty())
    checkOutputFile(options.calibration, calibrationRules);
  StagingDirectory staging(options.output, rules);
  const fs::path dir(staging.path());
  const std::string name = modelName(options.output);

  SynthResult result;
  result.parameters = parameters;
  std::vector<OwnedTensor> tensors;
  auto add = [&](const std::string &tensor, std::vector<int64_t> shape,
                 std::vector<float> values) {
    tensors.push_back(encode(tensor, std::move(shape), values, options.dtype));
  };
  {
    std::mt19937_64 rng = streamFor(options.seed, "model.embed_tokens.weight");
    add("model.embed_tokens.weight", {options.vocab, h},
        gaussian(rng, size_t(options.vocab * h), 0.02f));
  }
  for (int64_t block = 0; block < options.layers; ++block) {
    const std::string p = "model.layers." + std::to_string(block);
    auto linear = [&](const std::string &module, int64_t n, int64_t k) {
      const std::string tensor = p + module + ".weight";
      std::mt19937_64 rng = streamFor(options.seed, tensor);
      add(tensor, {n, k}, linearWeight(rng, n, k));
    };
    auto norm = [&](const std::string &module) {
      const std::string tensor = p + module + ".weight";
      std::mt19937_64 rng = streamFor(options.seed, tensor);
      add(tensor, {h}, normWeight(rng, h));
    };
    norm(".input_layernorm");
    linear(".self_attn.q_proj", h, h);
    linear(".self_attn.k_proj", kvWidth, h);
    linear(".self_attn.v_proj", kvWidth, h);
    linear(".self_attn.o_proj", h, h);
    norm(".post_attention_layernorm");
    linear(".mlp.gate_proj", inter, h);
    linear(".mlp.up_proj", inter, h);
    linear(".mlp.down_proj", h, inter);
  }
  {
    std::mt19937_64 rng = streamFor(options.seed, "model.norm.weight");
    add("model.norm.weight", {h}, normWeight(rng, h));
    std::mt19937_64 head = streamFor(options.seed, "lm_head.weight");
    add("lm_head.weight", {options.vocab, h},
        gaussian(head, size_t(options.vocab * h),
                 1.0f / std::sqrt(static_cast<float>(h))));
  }
  const WrittenCheckpoint written =
      writeSafeTensorsCheckpoint(dir.string(), refsOf(tensors),
                                 {{"format", "pt"},
                                  {"generator", "awqc synth"},
                                  {"seed", std::to_string(options.seed)}},
                                 options.maxShardBytes);
  result.files = written.files;
  if (!written.index.empty())
    result.files.push_back(written.index);
  tensors.clear();

  const char *torchDtype = options.dtype == DType::F16    ? "float16"
                           : options.dtype == DType::BF16 ? "bfloat16"
                                                          : "float32";
  const json config = {{"architectures", {"LlamaForCausalLM"}},
                       {"model_type", "llama"},
                       {"hidden_size", h},
                       {"intermediate_size", inter},
                       {"num_attention_heads", options.heads},
                       {"num_key_value_heads", kvHeads},
                       {"num_hidden_layers", options.layers},
                       {"head_dim", headDim},
                       {"hidden_act", "silu"},
                       {"rms_norm_eps", 1e-5},
                       {"vocab_size", options.vocab},
                       {"max_position_embeddings", 2048},
                       {"rope_theta", 10000.0},
                       {"attention_bias", false},
                       {"mlp_bias", false},
                       {"tie_word_embeddings", false},
                       {"bos_token_id", 1},
                       {"eos_token_id", 2},
                       {"torch_dtype", torchDtype}};
  writeFileAtomically((dir / "config.json").string(), config.dump(2) + "\n");
  result.files.push_back("config.json");

  // Calibration: the hidden stream feeds both norms of every block, so its
  // outlier channels are shared (as in real models); the attention output
  // and the MLP hidden state have their own.
  std::vector<OwnedTensor> calibration;
  json groups = json::object();
  std::mt19937_64 profileRng = streamFor(options.seed, "calibration.hidden");
  const ChannelProfile hiddenProfile =
      channelProfile(profileRng, h, options.outliers);
  auto addGroup = [&](const std::string &tensor,
                      const std::vector<std::string> &layers,
                      const ChannelProfile &profile) {
    std::mt19937_64 rng = streamFor(options.seed, "calibration." + tensor);
    const int64_t k = static_cast<int64_t>(profile.scale.size());
    calibration.push_back(
        encode(tensor, {options.tokens, k},
               activations(rng, options.tokens, profile.scale), DType::F16));
    groups[tensor] = layers;
    result.outlierChannels.push_back(profile.outliers);
  };
  for (int64_t block = 0; block < options.layers; ++block) {
    const std::string p = "model.layers." + std::to_string(block);
    const std::string attn = p + ".self_attn.", mlp = p + ".mlp.";
    std::mt19937_64 rng = streamFor(options.seed, p + ".calibration");
    addGroup(attn + "q_proj",
             {attn + "q_proj", attn + "k_proj", attn + "v_proj"},
             hiddenProfile);
    addGroup(attn + "o_proj", {attn + "o_proj"},
             channelProfile(rng, h, options.outliers));
    addGroup(mlp + "gate_proj", {mlp + "gate_proj", mlp + "up_proj"},
             hiddenProfile);
    addGroup(mlp + "down_proj", {mlp + "down_proj"},
             channelProfile(rng, inter, std::min(options.outliers, inter)));
  }
  result.inputGroups = calibration.size();
  const std::map<std::string, std::string> metadata = {
      {"format", "awqc-calibration"},
      {"version", "1"},
      {"tokens", std::to_string(options.tokens)},
      {"model", name},
      {"groups", groups.dump()},
      {"generator", "awqc synth"},
      {"seed", std::to_string(options.seed)}};
  if (options.calibration.empty()) {
    writeSafeTensors((dir / "calibration.safetensors").string(),
                     refsOf(calibration), metadata);
    result.files.push_back("calibration.safetensors");
    result.calibration =
        (fs::path(options.output) / "calibration.safetensors").string();
  } else {
    checkOutputFile(options.calibration, calibrationRules);
    writeSafeTensors(options.calibration, refsOf(calibration), metadata);
    result.calibration = options.calibration;
  }
  staging.commit();
  return result;
}

} // namespace awq
