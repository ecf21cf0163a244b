//===- Inspect.cpp - Summaries of safetensors files, checkpoints, models --===//

#include "compiler/commands/Inspect.h"

#include "compiler/formats/JsonFields.h"
#include "compiler/formats/ModelDescription.h"
#include "compiler/formats/QuantizationConfig.h"
#include "runtime/bundle/Bundle.h"
#include "runtime/formats/SafeTensors.h"
#include "runtime/support/Error.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

namespace awq {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool endsWith(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

json tensorEntry(const TensorView &view) {
  return {{"name", view.name},
          {"dtype", dtypeName(view.dtype)},
          {"shape", view.shape},
          {"bytes", view.size}};
}

/// Element counts per dtype.
json dtypeCounts(const std::vector<const TensorView *> &views) {
  std::map<std::string, uint64_t> counts;
  for (const TensorView *view : views)
    counts[dtypeName(view->dtype)] += view->numel();
  return counts;
}

json inspectSafeTensorsFile(const std::string &path) {
  const SafeTensorsFile file(path);
  json tensors = json::array();
  std::vector<const TensorView *> views;
  uint64_t bytes = 0;
  for (const TensorView &view : file.tensors()) {
    tensors.push_back(tensorEntry(view));
    views.push_back(&view);
    bytes += view.size;
  }
  return {{"kind", "safetensors"},
          {"path", path},
          {"header_bytes", file.headerSize()},
          {"data_bytes", bytes},
          {"metadata", file.metadata()},
          {"elements", dtypeCounts(views)},
          {"tensors", tensors}};
}

/// The model-shape fields of config.json that are worth showing.
json configSummary(const json &config) {
  json summary = json::object();
  if (!config.is_object())
    return summary;
  for (const char *key :
       {"architectures", "hidden_size", "intermediate_size",
        "num_attention_heads", "num_key_value_heads", "num_hidden_layers",
        "head_dim", "vocab_size", "torch_dtype"})
    if (config.contains(key))
      summary[key] = config[key];
  return summary;
}

json describeDescription(const ModelDescription &description,
                         const std::string &path) {
  json result = modelDescriptionToJson(description);
  json summary = {{"kind", "model_description"}, {"path", path}};
  summary["name"] = description.name;
  summary["dtype"] = descriptionDtypeName(description.activation);
  summary["checkpoint"] = result["checkpoint"];
  summary["resolved_checkpoint"] = resolveCheckpointPath(description, path);
  json groups = json::array();
  size_t scales = 0;
  for (size_t i = 0; i < description.inputGroups.size(); ++i) {
    json group = result["input_groups"][i];
    json layers = json::array();
    for (const LayerDescription *layer :
         description.layersOfGroup(description.inputGroups[i].name))
      layers.push_back(layer->name);
    group["layers"] = layers;
    scales += description.inputGroups[i].activationScale.empty() ? 0 : 1;
    groups.push_back(group);
  }
  summary["input_groups"] = groups;
  summary["layers"] = result["layers"];
  uint64_t weights = 0;
  for (const LayerDescription &layer : description.layers)
    weights += static_cast<uint64_t>(layer.k * layer.n);
  summary["quantized_weights"] = weights;
  summary["activation_scales"] = scales;
  return summary;
}

json inspectDirectory(const std::string &path) {
  const fs::path dir(path);
  std::error_code ec;
  json config = json::object();
  const fs::path configFile = dir / "config.json";
  if (fs::is_regular_file(configFile, ec))
    config = readJsonFile(configFile.string());
  const bool quantized =
      (config.is_object() && config.contains("quantization_config")) ||
      fs::exists(dir / "quantize_config.json", ec) ||
      fs::exists(dir / "quant_config.json", ec);
  const SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint::open(path);

  json files = json::array();
  for (const auto &shard : checkpoint.shards())
    files.push_back(fs::path(shard->path()).filename().string());
  json summary = {
      {"path", path}, {"files", files}, {"config", configSummary(config)}};

  if (!quantized) {
    summary["kind"] = "checkpoint";
    json tensors = json::array();
    std::vector<const TensorView *> views;
    uint64_t bytes = 0;
    for (const std::string &name : checkpoint.names()) {
      const TensorView &view = checkpoint.get(name);
      tensors.push_back(tensorEntry(view));
      views.push_back(&view);
      bytes += view.size;
    }
    summary["data_bytes"] = bytes;
    summary["elements"] = dtypeCounts(views);
    summary["tensors"] = tensors;
    return summary;
  }

  const QuantizationConfig q = readQuantizationConfig(path);
  summary["kind"] = "quantized_checkpoint";
  summary["quantization"] = {
      {"method", q.method == QuantMethod::Awq ? "awq" : "gptq"},
      {"bits", q.bits},
      {"group_size", q.groupSize},
      {"zero_point", q.zeroPoint},
      {"version", q.version},
      {"layers_with_own_settings", q.layers.size()},
      {"source", q.source}};
  std::set<std::string> layerTensors;
  json layers = json::array();
  uint64_t weights = 0, layerBytes = 0;
  for (const std::string &name : checkpoint.names()) {
    if (!endsWith(name, ".qweight"))
      continue;
    const std::string prefix = name.substr(0, name.size() - 8);
    const TensorView &qweight = checkpoint.get(name);
    const TensorView *scales = checkpoint.find(prefix + ".scales");
    if (!scales || qweight.shape.size() != 2 || scales->shape.size() != 2)
      throw Error(std::string(qweight.file) + ": layer '" + prefix +
                  "': expected a rank-2 qweight and scales");
    const int64_t k = q.method == QuantMethod::Awq
                          ? qweight.shape[0]
                          : qweight.shape[0] * 32 / q.bits;
    const int64_t n = scales->shape[1];
    const int64_t groups = scales->shape[0];
    uint64_t bytes = 0;
    bool bias = false;
    for (const char *part :
         {".qweight", ".qzeros", ".scales", ".bias", ".g_idx"}) {
      if (const TensorView *view = checkpoint.find(prefix + part)) {
        bytes += view->size;
        layerTensors.insert(prefix + part);
        bias = bias || std::string(part) == ".bias";
      }
    }
    auto own = q.layers.find(prefix);
    layers.push_back(
        {{"name", prefix},
         {"k", k},
         {"n", n},
         {"bits", own == q.layers.end() ? q.bits : own->second.bits},
         {"group_size", groups > 0 ? k / groups : 0},
         {"groups", groups},
         {"bias", bias},
         {"bytes", bytes}});
    weights += static_cast<uint64_t>(k * n);
    layerBytes += bytes;
  }
  json others = json::array();
  uint64_t otherBytes = 0;
  for (const std::string &name : checkpoint.names()) {
    if (layerTensors.count(name))
      continue;
    const TensorView &view = checkpoint.get(name);
    others.push_back(tensorEntry(view));
    otherBytes += view.size;
  }
  summary["layers"] = layers;
  summary["tensors"] = others;
  summary["totals"] = {
      {"quantized_weights", weights},
      {"layer_bytes", layerBytes},
      {"fp16_layer_bytes", weights * 2},
      {"bits_per_weight",
       weights ? 8.0 * double(layerBytes) / double(weights) : 0.0},
      {"other_bytes", otherBytes}};

  const fs::path descriptionFile = dir / "model.json";
  if (fs::is_regular_file(descriptionFile, ec)) {
    json entry = {{"path", descriptionFile.string()}};
    try {
      const ModelDescription description =
          parseModelDescription(descriptionFile.string());
      json scales = json::array();
      for (const InputGroup &group : description.inputGroups)
        if (!group.activationScale.empty())
          scales.push_back(
              {{"group", group.name}, {"tensor", group.activationScale}});
      entry["input_groups"] = description.inputGroups.size();
      entry["layers"] = description.layers.size();
      entry["activation_scales"] = scales;
    } catch (const Error &error) {
      entry["error"] = error.what();
    }
    summary["model_description"] = entry;
  }
  return summary;
}

json inspectJsonFile(const std::string &path) {
  const json document = readJsonFile(path);
  if (document.is_object() && document.contains("awqc_model_description"))
    return describeDescription(parseModelDescription(path), path);
  if (document.is_object() && document.contains("weight_map")) {
    json summary = inspectDirectory(fs::path(path).parent_path().string());
    summary["path"] = path;
    return summary;
  }
  if (fs::path(path).filename() == "config.json") {
    fs::path parent = fs::path(path).parent_path();
    return inspectDirectory(parent.empty() ? "." : parent.string());
  }
  throw Error(path + ": a JSON file that is neither a model description "
                     "(no 'awqc_model_description' field), a safetensors "
                     "index nor a config.json");
}

std::string shapeText(const json &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i].get<int64_t>());
  return text + "]";
}

std::string pad(const std::string &text, size_t width) {
  return text.size() >= width ? text
                              : text + std::string(width - text.size(), ' ');
}

void writeTensorTable(std::ostringstream &out, const json &tensors) {
  size_t width = 4;
  for (const json &t : tensors)
    width = std::max(width, t["name"].get<std::string>().size());
  out << "  " << pad("name", width) << "  " << pad("dtype", 7)
      << pad("shape", 16) << "size\n";
  for (const json &t : tensors)
    out << "  " << pad(t["name"].get<std::string>(), width) << "  "
        << pad(t["dtype"].get<std::string>(), 7)
        << pad(shapeText(t["shape"]), 16)
        << formatBytes(t["bytes"].get<uint64_t>()) << "\n";
}

std::string elementsText(const json &elements) {
  std::string text;
  for (auto it = elements.begin(); it != elements.end(); ++it)
    text += (text.empty() ? "" : ", ") +
            std::to_string(it.value().get<uint64_t>()) + " " + it.key();
  return text.empty() ? "no elements" : text;
}

std::string configText(const json &config) {
  std::ostringstream out;
  if (config.contains("architectures") && config["architectures"].is_array() &&
      !config["architectures"].empty() &&
      config["architectures"][0].is_string())
    out << config["architectures"][0].get<std::string>();
  const std::pair<const char *, const char *> fields[] = {
      {"hidden_size", "hidden"},
      {"intermediate_size", "intermediate"},
      {"num_hidden_layers", "layers"},
      {"num_attention_heads", "heads"},
      {"num_key_value_heads", "KV heads"},
      {"vocab_size", "vocab"}};
  std::string details;
  for (const auto &[key, label] : fields)
    if (config.contains(key) && config[key].is_number_integer())
      details += (details.empty() ? "" : ", ") + std::string(label) + " " +
                 std::to_string(config[key].get<int64_t>());
  if (!details.empty())
    out << (out.tellp() > 0 ? ": " : "") << details;
  return out.str();
}

} // namespace

std::string formatBytes(uint64_t bytes) {
  char buffer[32];
  if (bytes < 1024)
    std::snprintf(buffer, sizeof(buffer), "%llu B",
                  static_cast<unsigned long long>(bytes));
  else if (bytes < (1ull << 20))
    std::snprintf(buffer, sizeof(buffer), "%.1f KiB", double(bytes) / 1024.0);
  else if (bytes < (1ull << 30))
    std::snprintf(buffer, sizeof(buffer), "%.2f MiB",
                  double(bytes) / double(1ull << 20));
  else
    std::snprintf(buffer, sizeof(buffer), "%.2f GiB",
                  double(bytes) / double(1ull << 30));
  return buffer;
}

/// A bundle: its manifest (hashes checked), layers, kernels and bytes.
json inspectBundle(const std::string &path) {
  const std::unique_ptr<bundle::Bundle> b = bundle::Bundle::open(path);
  const bundle::Manifest &m = b->manifest();
  json layers = json::array();
  uint64_t weightBytes = 0, fp16Bytes = 0;
  std::set<std::string> activations;
  for (const bundle::Layer &layer : m.layers) {
    json kernels = json::array();
    for (const bundle::KernelUse &use : layer.kernels)
      kernels.push_back({{"kernel", use.kernel},
                         {"family", familyName(use.family)},
                         {"min_m", use.minM},
                         {"max_m", use.maxM}});
    uint64_t bytes = 0;
    for (const auto &[family, buffers] : layer.layouts)
      bytes += uint64_t(weightBuffers(family, layer.shape).totalBytes());
    if (layer.shape.bias)
      bytes += uint64_t(layer.shape.n) * 2;
    if (layer.shape.actScale)
      bytes += uint64_t(layer.shape.k) * 2;
    weightBytes += bytes;
    fp16Bytes += uint64_t(layer.shape.k) * uint64_t(layer.shape.n) * 2;
    activations.insert(activationTypeName(layer.shape.activation));
    layers.push_back(
        {{"name", layer.name},
         {"activation", activationTypeName(layer.shape.activation)},
         {"function", layer.function},
         {"k", layer.shape.k},
         {"n", layer.shape.n},
         {"n_out", layer.shape.nOut()},
         {"bits", layer.shape.bits},
         {"group_size", layer.shape.group},
         {"zero_point", layer.shape.zeroPoint},
         {"bias", layer.shape.bias},
         {"act_scale", layer.shape.actScale},
         {"residual", layer.shape.residual},
         {"silu_mul", layer.shape.siluMul},
         {"kernels", kernels},
         {"bytes", bytes}});
  }
  json kernels = json::array();
  for (const bundle::Kernel &kernel : m.kernels)
    kernels.push_back({{"name", kernel.name},
                       {"config", kernel.instance.configType()},
                       {"launch", kernel.instance.describeLaunch()},
                       {"serves", kernel.serves.size()}});
  json aot = json::array();
  for (const bundle::AotImage &image : m.aot)
    aot.push_back({{"kernel", image.kernel}, {"target", image.target}});
  return {{"kind", "bundle"},
          {"path", path},
          {"format_version", bundle::kFormatVersion},
          {"compiler", m.compiler},
          {"input", {{"path", m.inputPath}, {"sha256", m.inputSha256}}},
          {"target", m.target},
          {"target_sms", m.targetSms},
          {"max_m", m.maxM},
          {"activations", activations},
          {"weights", m.hasWeights},
          {"file_bytes", b->fileBytes()},
          {"weight_bytes", weightBytes},
          {"fp16_weight_bytes", fp16Bytes},
          {"headers", m.headers.size()},
          {"layers", layers},
          {"kernels", kernels},
          {"aot", aot}};
}

json inspectPath(const std::string &path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    return inspectDirectory(path);
  if (!fs::exists(path, ec))
    throw Error(path + ": no such file or directory");
  if (bundle::looksLikeBundle(path))
    return inspectBundle(path);
  if (endsWith(path, ".json"))
    return inspectJsonFile(path);
  return inspectSafeTensorsFile(path);
}

std::string formatInspection(const json &summary) {
  std::ostringstream out;
  const std::string kind = summary["kind"];
  const std::string path = summary["path"];
  if (kind == "safetensors") {
    out << path << ": safetensors file, " << summary["tensors"].size()
        << " tensors, " << formatBytes(summary["data_bytes"]) << " of data ("
        << elementsText(summary["elements"]) << "), header "
        << formatBytes(summary["header_bytes"]) << "\n";
    for (auto it = summary["metadata"].begin(); it != summary["metadata"].end();
         ++it) {
      std::string value = it.value().get<std::string>();
      if (value.size() > 100)
        value = value.substr(0, 97) + "...";
      out << "metadata " << it.key() << ": " << value << "\n";
    }
    writeTensorTable(out, summary["tensors"]);
  } else if (kind == "bundle") {
    out << path << ": awqc bundle (format " << summary["format_version"] << ", "
        << summary["compiler"].get<std::string>() << "), "
        << summary["target"].get<std::string>() << " (" << summary["target_sms"]
        << " SMs planned), M up to " << summary["max_m"];
    for (const json &type : summary["activations"])
      out << ", " << type.get<std::string>() << " activations";
    out << "\n";
    out << "input: " << summary["input"]["path"].get<std::string>()
        << " (sha256 "
        << summary["input"]["sha256"].get<std::string>().substr(0, 16)
        << "...)\n";
    out << summary["layers"].size() << " layers, " << summary["kernels"].size()
        << " distinct kernels, " << summary["headers"]
        << " device-library headers; "
        << (summary["weights"].get<bool>()
                ? "weights " + formatBytes(summary["weight_bytes"]) +
                      " (FP16: " + formatBytes(summary["fp16_weight_bytes"]) +
                      ")"
                : std::string("no weights (benchmark bundle)"))
        << "; file " << formatBytes(summary["file_bytes"]) << "\n";
    if (summary["aot"].empty()) {
      out << "AOT: none (kernels are JIT-compiled at load)\n";
    } else {
      std::set<std::string> targets;
      for (const json &image : summary["aot"])
        targets.insert(image["target"].get<std::string>());
      out << "AOT:";
      for (const std::string &target : targets)
        out << " " << target;
      out << "\n";
    }
    size_t width = 5;
    for (const json &layer : summary["layers"])
      width = std::max(width, layer["name"].get<std::string>().size());
    out << "layers:\n  " << pad("name", width) << "  " << pad("K x N", 13)
        << pad("bits", 6) << pad("group", 7) << pad("size", 11)
        << "kernels (M range)\n";
    for (const json &layer : summary["layers"]) {
      std::string uses;
      for (const json &use : layer["kernels"])
        uses += (uses.empty() ? "" : ", ") + use["kernel"].get<std::string>() +
                " (" + std::to_string(use["min_m"].get<int64_t>()) + ".." +
                std::to_string(use["max_m"].get<int64_t>()) + ")";
      out << "  " << pad(layer["name"].get<std::string>(), width) << "  "
          << pad(std::to_string(layer["k"].get<int64_t>()) + "x" +
                     std::to_string(layer["n"].get<int64_t>()),
                 13)
          << pad(std::to_string(layer["bits"].get<int>()), 6)
          << pad(std::to_string(layer["group_size"].get<int64_t>()), 7)
          << pad(formatBytes(layer["bytes"]), 11) << uses << "\n";
    }
    out << "kernels:\n";
    for (const json &kernel : summary["kernels"])
      out << "  " << kernel["name"].get<std::string>() << ": "
          << kernel["launch"].get<std::string>() << "; serves "
          << kernel["serves"] << " layer(s)\n";
  } else if (kind == "checkpoint") {
    const std::string config = configText(summary["config"]);
    out << path << ": unquantized checkpoint"
        << (config.empty() ? "" : " (" + config + ")") << ", "
        << summary["tensors"].size() << " tensors, "
        << formatBytes(summary["data_bytes"]) << " ("
        << elementsText(summary["elements"]) << ")\n";
    writeTensorTable(out, summary["tensors"]);
  } else if (kind == "quantized_checkpoint") {
    const json &q = summary["quantization"];
    const std::string config = configText(summary["config"]);
    const int64_t group = q["group_size"];
    out << path << ": " << (q["method"] == "awq" ? "AWQ" : "GPTQ")
        << " checkpoint" << (config.empty() ? "" : " (" + config + ")") << "\n";
    out << "quantization: " << q["bits"].get<int>() << "-bit, "
        << (group == -1 ? std::string("one group per column")
                        : "group " + std::to_string(group))
        << ", " << (q["zero_point"].get<bool>() ? "zero point" : "symmetric")
        << ", version " << q["version"].get<std::string>();
    if (q["layers_with_own_settings"].get<size_t>() > 0)
      out << "; mixed: " << q["layers_with_own_settings"].get<size_t>()
          << " layers with their own bits or group size (awqc_layers)";
    out << "\n";
    const json &totals = summary["totals"];
    char bits[32];
    std::snprintf(bits, sizeof(bits), "%.2f",
                  totals["bits_per_weight"].get<double>());
    out << summary["layers"].size() << " quantized layers, "
        << totals["quantized_weights"].get<uint64_t>() << " weights in "
        << formatBytes(totals["layer_bytes"]) << " (" << bits
        << " bits per weight with scales and zeros; FP16: "
        << formatBytes(totals["fp16_layer_bytes"]) << "); "
        << summary["tensors"].size() << " other tensors, "
        << formatBytes(totals["other_bytes"]) << "\n";
    size_t width = 5;
    for (const json &layer : summary["layers"])
      width = std::max(width, layer["name"].get<std::string>().size());
    // A mixed-precision checkpoint shows each layer's width.
    const bool mixed = q["layers_with_own_settings"].get<size_t>() > 0;
    out << "  " << pad("layer", width) << "  " << pad("K x N", 13)
        << (mixed ? pad("bits", 6) : "") << pad("group", 7) << pad("bias", 6)
        << "size\n";
    for (const json &layer : summary["layers"])
      out << "  " << pad(layer["name"].get<std::string>(), width) << "  "
          << pad(std::to_string(layer["k"].get<int64_t>()) + "x" +
                     std::to_string(layer["n"].get<int64_t>()),
                 13)
          << (mixed ? pad(std::to_string(layer["bits"].get<int>()), 6) : "")
          << pad(std::to_string(layer["group_size"].get<int64_t>()), 7)
          << pad(layer["bias"].get<bool>() ? "yes" : "no", 6)
          << formatBytes(layer["bytes"]) << "\n";
    if (!summary["tensors"].empty()) {
      out << "other tensors:\n";
      writeTensorTable(out, summary["tensors"]);
    }
    if (summary.contains("model_description")) {
      const json &d = summary["model_description"];
      out << "model description: " << d["path"].get<std::string>();
      if (d.contains("error")) {
        out << ": invalid: " << d["error"].get<std::string>() << "\n";
      } else {
        out << " (" << d["input_groups"].get<size_t>() << " input groups, "
            << d["layers"].get<size_t>() << " layers, "
            << d["activation_scales"].size() << " activation scales)\n";
        for (const json &s : d["activation_scales"])
          out << "  activation scale " << s["tensor"].get<std::string>()
              << " for input group " << s["group"].get<std::string>() << "\n";
      }
    }
  } else if (kind == "model_description") {
    out << path << ": model description '" << summary["name"].get<std::string>()
        << "', checkpoint " << summary["checkpoint"]["path"].get<std::string>()
        << " (" << summary["checkpoint"]["format"].get<std::string>() << "), "
        << summary["input_groups"].size() << " input groups, "
        << summary["layers"].size() << " layers, "
        << summary["quantized_weights"].get<uint64_t>()
        << " quantized weights, " << summary["dtype"].get<std::string>()
        << " activations\n";
    out << "input groups:\n";
    for (const json &group : summary["input_groups"]) {
      const json &producer = group["producer"];
      out << "  " << group["name"].get<std::string>() << " <- "
          << producer["kind"].get<std::string>() << " "
          << producer["name"].get<std::string>() << "; layers:";
      for (const json &layer : group["layers"])
        out << " " << layer.get<std::string>();
      if (group.contains("activation_scale"))
        out << "; activation scale "
            << group["activation_scale"].get<std::string>();
      out << "\n";
    }
    size_t width = 5;
    for (const json &layer : summary["layers"])
      width = std::max(width, layer["name"].get<std::string>().size());
    out << "layers:\n  " << pad("name", width) << "  " << pad("K x N", 13)
        << pad("bits", 6) << pad("group", 7) << pad("zero", 6) << pad("bias", 6)
        << "epilogue\n";
    for (const json &layer : summary["layers"]) {
      std::string epilogue = "-";
      if (layer.contains("epilogue")) {
        const json &e = layer["epilogue"];
        epilogue = e["kind"].get<std::string>();
        if (e.contains("role"))
          epilogue += " (" + e["role"].get<std::string>() + ", partner " +
                      e["partner"].get<std::string>() + ")";
        if (e.contains("residual"))
          epilogue += " (" + e["residual"].get<std::string>() + ")";
      }
      out << "  " << pad(layer["name"].get<std::string>(), width) << "  "
          << pad(std::to_string(layer["k"].get<int64_t>()) + "x" +
                     std::to_string(layer["n"].get<int64_t>()),
                 13)
          << pad(std::to_string(layer["bits"].get<int>()), 6)
          << pad(std::to_string(layer["group_size"].get<int64_t>()), 7)
          << pad(layer["zero_point"].get<bool>() ? "yes" : "no", 6)
          << pad(layer.value("bias", false) ? "yes" : "no", 6) << epilogue
          << "\n";
    }
  }
  return out.str();
}

} // namespace awq
