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
#include <unistd.h>

namespace awq {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// Bounds on each size (the memory and the disk a model needs are checked
/// as well).
constexpr int64_t kMaxDimension = 65536;

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

/// `values` in `dtype`'s bytes.
std::vector<uint8_t> encode(const std::vector<float> &values, DType dtype) {
  std::vector<uint8_t> bytes(values.size() * dtypeSize(dtype));
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::F32) {
      std::memcpy(bytes.data() + 4 * i, &values[i], 4);
    } else {
      const uint16_t bits =
          dtype == DType::F16 ? floatToHalf(values[i]) : floatToBf16(values[i]);
      std::memcpy(bytes.data() + 2 * i, &bits, 2);
    }
  }
  return bytes;
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

/// Calls visit(name, shape, draw) for each model tensor in file order;
/// draw() returns its values (drawn only when called, from the tensor's own
/// stream).
template <typename Visit>
void forEachModelTensor(const SynthOptions &options, int64_t kvWidth,
                        Visit &&visit) {
  const int64_t h = options.hidden, inter = options.intermediate;
  const int64_t vocab = options.vocab;
  const uint64_t seed = options.seed;
  auto embedding = [&](const std::string &name, float sigma) {
    visit(name, std::vector<int64_t>{vocab, h}, [&] {
      std::mt19937_64 rng = streamFor(seed, name);
      return gaussian(rng, size_t(vocab * h), sigma);
    });
  };
  auto norm = [&](const std::string &name) {
    visit(name, std::vector<int64_t>{h}, [&] {
      std::mt19937_64 rng = streamFor(seed, name);
      return normWeight(rng, h);
    });
  };
  auto linear = [&](const std::string &name, int64_t n, int64_t k) {
    visit(name, std::vector<int64_t>{n, k}, [&] {
      std::mt19937_64 rng = streamFor(seed, name);
      return linearWeight(rng, n, k);
    });
  };
  embedding("model.embed_tokens.weight", 0.02f);
  for (int64_t block = 0; block < options.layers; ++block) {
    const std::string p = "model.layers." + std::to_string(block);
    norm(p + ".input_layernorm.weight");
    linear(p + ".self_attn.q_proj.weight", h, h);
    linear(p + ".self_attn.k_proj.weight", kvWidth, h);
    linear(p + ".self_attn.v_proj.weight", kvWidth, h);
    linear(p + ".self_attn.o_proj.weight", h, h);
    norm(p + ".post_attention_layernorm.weight");
    linear(p + ".mlp.gate_proj.weight", inter, h);
    linear(p + ".mlp.up_proj.weight", inter, h);
    linear(p + ".mlp.down_proj.weight", h, inter);
  }
  norm("model.norm.weight");
  embedding("lm_head.weight", 1.0f / std::sqrt(static_cast<float>(h)));
}

/// Calls visit(name, layers, profile, draw) for each calibration tensor (an
/// input group) in file order; draw() returns its [tokens, k] activations.
/// The hidden stream feeds both norms of every block, so its outlier
/// channels are shared (as in real models); the attention output and the
/// MLP hidden state have their own.
template <typename Visit>
void forEachCalibrationTensor(const SynthOptions &options, Visit &&visit) {
  const int64_t h = options.hidden, inter = options.intermediate;
  std::mt19937_64 profileRng = streamFor(options.seed, "calibration.hidden");
  const ChannelProfile hiddenProfile =
      channelProfile(profileRng, h, options.outliers);
  auto group = [&](const std::string &tensor,
                   const std::vector<std::string> &layers,
                   const ChannelProfile &profile) {
    visit(tensor, layers, profile, [&] {
      std::mt19937_64 rng = streamFor(options.seed, "calibration." + tensor);
      return activations(rng, options.tokens, profile.scale);
    });
  };
  for (int64_t block = 0; block < options.layers; ++block) {
    const std::string p = "model.layers." + std::to_string(block);
    const std::string attn = p + ".self_attn.", mlp = p + ".mlp.";
    std::mt19937_64 rng = streamFor(options.seed, p + ".calibration");
    group(attn + "q_proj", {attn + "q_proj", attn + "k_proj", attn + "v_proj"},
          hiddenProfile);
    group(attn + "o_proj", {attn + "o_proj"},
          channelProfile(rng, h, options.outliers));
    group(mlp + "gate_proj", {mlp + "gate_proj", mlp + "up_proj"},
          hiddenProfile);
    group(mlp + "down_proj", {mlp + "down_proj"},
          channelProfile(rng, inter, std::min(options.outliers, inter)));
  }
}

uint64_t elementsOf(const std::vector<int64_t> &shape) {
  uint64_t count = 1;
  for (int64_t extent : shape)
    count *= static_cast<uint64_t>(extent);
  return count;
}

const TensorRef &largestOf(const std::vector<TensorRef> &layout) {
  return *std::max_element(layout.begin(), layout.end(),
                           [](const TensorRef &a, const TensorRef &b) {
                             return elementsOf(a.shape) < elementsOf(b.shape);
                           });
}

/// One tensor is held at a time, as floats and encoded: the largest must
/// fit in memory, or the run would be killed midway.
void checkLargestTensorFitsInMemory(const char *what, const TensorRef &largest,
                                    uint64_t bytesPerElement) {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long pageSize = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || pageSize <= 0)
    return;
  const uint64_t memory = uint64_t(pages) * uint64_t(pageSize);
  const uint64_t needed = elementsOf(largest.shape) * bytesPerElement;
  if (needed > memory)
    throw Error(std::string(what) + " " + largest.name + " " +
                formatShape(largest.shape) + " needs " +
                std::to_string(needed) +
                " bytes of memory while it is drawn; this machine has " +
                std::to_string(memory));
}

/// Refuses to start what cannot finish, so a typo in a size does not fill
/// the disk: `bytes` must be free where `dir` is.
void checkFreeSpace(const std::string &dir, uint64_t bytes,
                    const std::string &what, const std::string &destination) {
  std::error_code ec;
  const fs::space_info space = fs::space(dir, ec);
  if (!ec && space.available < bytes)
    throw Error(what + " would need " + std::to_string(bytes) +
                " bytes, but only " + std::to_string(space.available) +
                " are free where " + destination + " goes");
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

  // The layouts first: the files' headers, and what the checks need.
  SynthResult result;
  std::vector<TensorRef> modelLayout;
  forEachModelTensor(
      options, kvWidth,
      [&](const std::string &tensor, std::vector<int64_t> shape, const auto &) {
        result.parameters += elementsOf(shape);
        modelLayout.push_back({tensor, options.dtype, std::move(shape)});
      });
  std::vector<TensorRef> calibrationLayout;
  json groups = json::object();
  forEachCalibrationTensor(options, [&](const std::string &tensor,
                                        const std::vector<std::string> &layers,
                                        const ChannelProfile &profile,
                                        const auto &) {
    const int64_t k = static_cast<int64_t>(profile.scale.size());
    calibrationLayout.push_back(
        {tensor, DType::F16, std::vector<int64_t>{options.tokens, k}});
    groups[tensor] = layers;
    result.outlierChannels.push_back(profile.outliers);
  });
  result.inputGroups = calibrationLayout.size();
  checkLargestTensorFitsInMemory("tensor", largestOf(modelLayout),
                                 sizeof(float) + dtypeSize(options.dtype));
  checkLargestTensorFitsInMemory("calibration tensor",
                                 largestOf(calibrationLayout),
                                 sizeof(float) + dtypeSize(DType::F16));

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

  const std::map<std::string, std::string> calibrationMetadata = {
      {"format", "awqc-calibration"},
      {"version", "1"},
      {"tokens", std::to_string(options.tokens)},
      {"model", name},
      {"groups", groups.dump()},
      {"generator", "awqc synth"},
      {"seed", std::to_string(options.seed)}};
  const std::string calibrationPath =
      options.calibration.empty() ? (dir / "calibration.safetensors").string()
                                  : options.calibration;
  // Tensors are drawn, written and dropped one at a time.
  SafeTensorsCheckpointWriter model(dir.string(), modelLayout,
                                    {{"format", "pt"},
                                     {"generator", "awqc synth"},
                                     {"seed", std::to_string(options.seed)}},
                                    options.maxShardBytes);
  auto calibration = SafeTensorsCheckpointWriter::singleFile(
      calibrationPath, calibrationLayout, calibrationMetadata);
  if (options.calibration.empty()) {
    checkFreeSpace(dir.string(), model.totalBytes() + calibration->totalBytes(),
                   "the model and its calibration", options.output);
  } else {
    checkFreeSpace(dir.string(), model.totalBytes(), "the model",
                   options.output);
    checkFreeSpace(fs::absolute(options.calibration).parent_path().string(),
                   calibration->totalBytes(), "the calibration",
                   options.calibration);
  }
  forEachModelTensor(options, kvWidth,
                     [&](const std::string &tensor,
                         const std::vector<int64_t> &, const auto &draw) {
                       const std::vector<uint8_t> bytes =
                           encode(draw(), options.dtype);
                       model.write(tensor, bytes.data(), bytes.size());
                     });
  const WrittenCheckpoint written = model.commit();
  result.files = written.files;
  if (!written.index.empty())
    result.files.push_back(written.index);

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

  forEachCalibrationTensor(
      options, [&](const std::string &tensor, const std::vector<std::string> &,
                   const ChannelProfile &, const auto &draw) {
        const std::vector<uint8_t> bytes = encode(draw(), DType::F16);
        calibration->write(tensor, bytes.data(), bytes.size());
      });
  if (!options.calibration.empty())
    checkOutputFile(options.calibration, calibrationRules);
  calibration->commit();
  if (options.calibration.empty()) {
    result.files.push_back("calibration.safetensors");
    result.calibration =
        (fs::path(options.output) / "calibration.safetensors").string();
  } else {
    result.calibration = options.calibration;
  }
  staging.commit();
  return result;
}

} // namespace awq
