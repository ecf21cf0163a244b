//===- QuantizationConfig.cpp - quantization_config of AWQ/GPTQ -----------===//

#include "compiler/formats/QuantizationConfig.h"

#include "compiler/formats/JsonFields.h"
#include "runtime/support/Error.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace awq {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string lowerCase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return text;
}

/// Reads a field that has two spellings (AutoAWQ renamed w_bit -> bits and
/// q_group_size -> group_size); both present must agree.
std::optional<JsonField> aliasedField(const JsonField &object,
                                      const std::string &name,
                                      const std::string &alias) {
  std::optional<JsonField> primary = object.optionalField(name);
  std::optional<JsonField> secondary = object.optionalField(alias);
  if (primary && secondary && primary->value() != secondary->value())
    secondary->failWith("disagrees with " + primary->path() + " (" +
                        primary->value().dump() + " vs " +
                        secondary->value().dump() + ")");
  return primary ? primary : secondary;
}

int64_t readGroupSize(const JsonField &field) {
  int64_t groupSize = field.asInt(-1, INT64_MAX);
  if (groupSize == 0)
    field.fail("a positive group size, or -1 for one group per column");
  return groupSize;
}

} // namespace

QuantParams QuantizationConfig::paramsFor(int64_t k,
                                          const std::string &layer) const {
  LayerQuantization own{bits, groupSize};
  auto it = layers.find(layer);
  if (it != layers.end())
    own = it->second;
  QuantParams params;
  params.bits = own.bits;
  params.zeroPoint = zeroPoint;
  params.groupSize = own.groupSize == -1 ? k : own.groupSize;
  if (k <= 0 || params.groupSize <= 0 || k % params.groupSize != 0)
    throw Error(source + ": group_size " + std::to_string(own.groupSize) +
                " does not divide K = " + std::to_string(k) + " of layer '" +
                layer + "'");
  return params;
}

QuantizationConfig
parseQuantizationConfig(const json &object, const std::string &file,
                        const std::string &path,
                        std::optional<QuantMethod> impliedMethod) {
  JsonField root(object, file, path);
  root.requireObject();
  QuantizationConfig config;
  config.source = file;

  if (std::optional<JsonField> method = root.optionalField("quant_method")) {
    std::string name = lowerCase(method->asString());
    if (name == "awq")
      config.method = QuantMethod::Awq;
    else if (name == "gptq")
      config.method = QuantMethod::Gptq;
    else
      method->fail("\"awq\" or \"gptq\" (other quantization methods are not "
                   "supported)");
  } else if (impliedMethod) {
    config.method = *impliedMethod;
  } else {
    root.field("quant_method"); // Throws "missing required field".
  }
  const bool isAwq = config.method == QuantMethod::Awq;

  std::optional<JsonField> bits = aliasedField(root, "bits", "w_bit");
  if (!bits)
    root.field("bits");
  config.bits = static_cast<int>(bits->asInt(1, 64));

  std::optional<JsonField> group =
      aliasedField(root, "group_size", "q_group_size");
  if (!group)
    root.field("group_size");
  config.groupSize = readGroupSize(*group);

  if (isAwq) {
    if (std::optional<JsonField> zeroPoint = root.optionalField("zero_point"))
      config.zeroPoint = zeroPoint->asBool();
    if (std::optional<JsonField> version = root.optionalField("version")) {
      config.version = lowerCase(version->asString());
      if (config.version != kAwqGemmVersion &&
          config.version != kAwqcGemmVersion)
        version->fail(std::string("\"") + kAwqGemmVersion + "\" or \"" +
                      kAwqcGemmVersion +
                      "\" (the only AWQ layouts awqc reads)");
    }
    if (config.version == kAwqGemmVersion && config.bits != 4)
      bits->fail(std::string("4: AutoAWQ's \"gemm\" layout is defined only "
                             "for 4 bits; awqc's 3- and 8-bit layouts are "
                             "marked \"version\": \"") +
                 kAwqcGemmVersion + "\"");
    if (config.bits != 3 && config.bits != 4 && config.bits != 8)
      bits->fail("3, 4 or 8");
  } else {
    if (config.bits == 3)
      bits->fail("4 or 8: GPTQ's 3-bit packing (values straddling words "
                 "along K) is not supported");
    if (config.bits != 4 && config.bits != 8)
      bits->fail("4 or 8");
    if (std::optional<JsonField> sym = root.optionalField("sym"))
      config.zeroPoint = !sym->asBool();
    if (std::optional<JsonField> descAct = root.optionalField("desc_act"))
      config.descAct = descAct->asBool();
    config.version = "gptq";
    if (std::optional<JsonField> format =
            root.optionalField("checkpoint_format")) {
      config.version = lowerCase(format->asString());
      if (config.version != "gptq" && config.version != "gptq_v2")
        format->fail("\"gptq\" or \"gptq_v2\"");
    }
  }

  if (std::optional<JsonField> layers = root.optionalField("awqc_layers")) {
    // Per-layer widths (awqc quantize --target-bits or a description's
    // "quantize" settings). AutoAWQ would read such a checkpoint with one
    // width, so it is refused under its "gemm" version.
    if (!isAwq || config.version != kAwqcGemmVersion)
      layers->failWith(std::string("per-layer settings need quant_method "
                                   "\"awq\" with version \"") +
                       kAwqcGemmVersion + "\"");
    layers->requireObject();
    for (auto it = layers->value().begin(); it != layers->value().end(); ++it) {
      if (it.key().empty())
        layers->failWith("a layer name must not be empty");
      const JsonField entry = layers->field(it.key());
      entry.requireObject();
      entry.rejectUnknownKeys({"bits", "group_size"});
      LayerQuantization own{config.bits, config.groupSize};
      if (std::optional<JsonField> bits = entry.optionalField("bits")) {
        own.bits = static_cast<int>(bits->asInt(1, 64));
        if (own.bits != 3 && own.bits != 4 && own.bits != 8)
          bits->fail("3, 4 or 8");
      }
      if (std::optional<JsonField> group = entry.optionalField("group_size"))
        own.groupSize = readGroupSize(*group);
      config.layers.emplace(it.key(), own);
    }
  }

  if (std::optional<JsonField> modules =
          root.optionalField("modules_to_not_convert")) {
    size_t count = modules->requireArray();
    for (size_t i = 0; i < count; ++i)
      config.modulesToNotConvert.push_back(modules->element(i).asName());
  }
  return config;
}

QuantizationConfig readQuantizationConfig(const std::string &dir) {
  const fs::path directory(dir);
  const fs::path configPath = directory / "config.json";
  if (fs::exists(configPath)) {
    json config = readJsonFile(configPath.string());
    JsonField root(config, configPath.string(), "");
    root.requireObject();
    if (root.optionalField("quantization_config"))
      return parseQuantizationConfig(config["quantization_config"],
                                     configPath.string(), "quantization_config",
                                     std::nullopt);
  }
  const fs::path gptqPath = directory / "quantize_config.json";
  if (fs::exists(gptqPath))
    return parseQuantizationConfig(readJsonFile(gptqPath.string()),
                                   gptqPath.string(), "", QuantMethod::Gptq);
  const fs::path awqPath = directory / "quant_config.json";
  if (fs::exists(awqPath))
    return parseQuantizationConfig(readJsonFile(awqPath.string()),
                                   awqPath.string(), "", QuantMethod::Awq);
  throw Error(dir + ": no quantization settings: expected config.json with a "
                    "quantization_config, or quantize_config.json (GPTQ), or "
                    "quant_config.json (AutoAWQ)");
}

json awqQuantizationConfigJson(const QuantizationConfig &config) {
  json object = json::object();
  object["quant_method"] = "awq";
  object["bits"] = config.bits;
  object["group_size"] = config.groupSize;
  object["zero_point"] = config.zeroPoint;
  object["version"] = config.version;
  if (!config.layers.empty()) {
    json layers = json::object();
    for (const auto &[name, own] : config.layers)
      layers[name] = {{"bits", own.bits}, {"group_size", own.groupSize}};
    object["awqc_layers"] = std::move(layers);
  }
  if (config.modulesToNotConvert.empty())
    object["modules_to_not_convert"] = nullptr;
  else
    object["modules_to_not_convert"] = config.modulesToNotConvert;
  return object;
}

} // namespace awq
