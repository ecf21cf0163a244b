//===- ModelDescription.cpp - The model description the compiler consumes -===//

#include "compiler/formats/ModelDescription.h"

#include "awq/contract.h"

#include "compiler/formats/JsonFields.h"
#include "runtime/formats/AtomicFile.h"
#include "runtime/support/Error.h"

#include <filesystem>
#include <map>
#include <set>

namespace awq {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Real models have K, N below 2^20; anything near 2^31 is a typo and would
// overflow the int32 index math of the kernels.

struct KindSpelling {
  ProducerKind kind;
  const char *name;
};
constexpr KindSpelling kProducerKinds[] = {
    {ProducerKind::RmsNorm, "rms_norm"},
    {ProducerKind::LayerNorm, "layer_norm"},
    {ProducerKind::Linear, "linear"},
    {ProducerKind::Activation, "activation"},
    {ProducerKind::Embedding, "embedding"},
    {ProducerKind::Input, "input"},
};

bool isNorm(ProducerKind kind) {
  return kind == ProducerKind::RmsNorm || kind == ProducerKind::LayerNorm;
}

/// Throws when `object` has `key` although it is meaningless here.
void forbid(const JsonField &object, const char *key, const std::string &why) {
  if (object.value().contains(key))
    throw Error(object.file() + ": " + object.childPath(key) +
                ": not allowed " + why);
}

Producer parseProducer(const JsonField &field) {
  field.requireObject();
  field.rejectUnknownKeys(
      {"kind", "name", "weight", "bias", "epsilon", "inputs"});
  Producer producer;
  const JsonField kindField = field.field("kind");
  const std::string kindName = kindField.asString();
  bool known = false;
  for (const KindSpelling &spelling : kProducerKinds)
    if (kindName == spelling.name) {
      producer.kind = spelling.kind;
      known = true;
    }
  if (!known)
    kindField.fail("one of \"rms_norm\", \"layer_norm\", \"linear\", "
                   "\"activation\", \"embedding\", \"input\"");
  producer.name = field.field("name").asName();

  const std::string forKind =
      std::string("for producer kind '") + kindName + "'";
  const bool hasWeight =
      isNorm(producer.kind) || producer.kind == ProducerKind::Embedding;
  if (hasWeight)
    producer.weight = field.field("weight").asName();
  else
    forbid(field, "weight", forKind);
  if (producer.kind == ProducerKind::LayerNorm) {
    if (std::optional<JsonField> bias = field.optionalField("bias"))
      producer.bias = bias->asName();
  } else {
    forbid(field, "bias", forKind);
  }
  if (isNorm(producer.kind)) {
    const JsonField epsilon = field.field("epsilon");
    producer.epsilon = epsilon.asNumber();
    if (!(producer.epsilon > 0))
      epsilon.fail("a positive number");
  } else {
    forbid(field, "epsilon", forKind);
  }
  if (producer.kind == ProducerKind::Activation) {
    if (std::optional<JsonField> inputs = field.optionalField("inputs")) {
      const size_t count = inputs->requireArray();
      std::set<std::string> seen;
      for (size_t i = 0; i < count; ++i) {
        const JsonField element = inputs->element(i);
        std::string input = element.asName();
        if (!seen.insert(input).second)
          element.failWith("layer '" + input + "' is listed twice");
        producer.inputs.push_back(std::move(input));
      }
    }
  } else {
    forbid(field, "inputs", forKind);
  }
  return producer;
}

Epilogue parseEpilogue(const JsonField &field) {
  field.requireObject();
  field.rejectUnknownKeys({"kind", "role", "partner", "residual"});
  Epilogue epilogue;
  const JsonField kindField = field.field("kind");
  const std::string kind = kindField.asString();
  if (kind == "silu_mul") {
    epilogue.kind = EpilogueKind::SiluMul;
    const JsonField roleField = field.field("role");
    const std::string role = roleField.asString();
    if (role == "gate")
      epilogue.role = SiluMulRole::Gate;
    else if (role == "up")
      epilogue.role = SiluMulRole::Up;
    else
      roleField.fail("\"gate\" or \"up\"");
    epilogue.partner = field.field("partner").asName();
    forbid(field, "residual", "for epilogue kind 'silu_mul'");
  } else if (kind == "residual_add") {
    epilogue.kind = EpilogueKind::ResidualAdd;
    epilogue.residual = field.field("residual").asName();
    forbid(field, "role", "for epilogue kind 'residual_add'");
    forbid(field, "partner", "for epilogue kind 'residual_add'");
  } else {
    kindField.fail("\"silu_mul\" or \"residual_add\"");
  }
  return epilogue;
}

/// A layer's "quantize" object: awqc quantize's settings for it.
QuantizeOverride parseQuantizeOverride(const JsonField &field, int64_t k) {
  field.requireObject();
  field.rejectUnknownKeys({"method", "bits", "group_size"});
  QuantizeOverride quantize;
  if (std::optional<JsonField> method = field.optionalField("method")) {
    quantize.method = method->asString();
    if (quantize.method != "rtn" && quantize.method != "awq" &&
        quantize.method != "gptq" && quantize.method != "awq-gptq")
      method->fail("\"rtn\", \"awq\", \"gptq\" or \"awq-gptq\"");
  }
  if (std::optional<JsonField> bits = field.optionalField("bits")) {
    quantize.bits = static_cast<int>(bits->asInt(INT32_MIN, INT32_MAX));
    if (quantize.bits != 3 && quantize.bits != 4 && quantize.bits != 8)
      bits->fail("3, 4 or 8");
  }
  if (std::optional<JsonField> group = field.optionalField("group_size")) {
    quantize.groupSize = group->asInt(-1, kMaxFeatures);
    if (quantize.groupSize == 0 ||
        (quantize.groupSize != -1 &&
         !isSupportedGroupSize(k, quantize.groupSize)))
      group->fail("-1 or k (one group per column) or a multiple of 32 that "
                  "divides k = " +
                  std::to_string(k));
  }
  if (quantize.empty())
    field.failWith("expected at least one of \"method\", \"bits\", "
                   "\"group_size\" (or no \"quantize\" object)");
  return quantize;
}

LayerDescription parseLayer(const JsonField &field) {
  field.requireObject();
  field.rejectUnknownKeys({"name", "k", "n", "bits", "group_size", "zero_point",
                           "bias", "input_group", "weights", "epilogue",
                           "skip_clip", "quantize"});
  LayerDescription layer;
  layer.name = field.field("name").asName();
  layer.k = field.field("k").asInt(1, kMaxFeatures);
  layer.n = field.field("n").asInt(1, kMaxFeatures);
  const JsonField bits = field.field("bits");
  layer.bits = static_cast<int>(bits.asInt(INT32_MIN, INT32_MAX));
  if (layer.bits != 3 && layer.bits != 4 && layer.bits != 8)
    bits.fail("3, 4 or 8");
  const JsonField group = field.field("group_size");
  layer.groupSize = group.asInt(-1, kMaxFeatures);
  // The kernel contract's one group-size rule (awq/contract.h).
  if (layer.groupSize != -1 && !isSupportedGroupSize(layer.k, layer.groupSize))
    group.fail("-1 or k (one group per column) or a multiple of 32 that "
               "divides k = " +
               std::to_string(layer.k));
  layer.zeroPoint = field.field("zero_point").asBool();
  if (std::optional<JsonField> bias = field.optionalField("bias"))
    layer.bias = bias->asBool();
  layer.inputGroup = field.field("input_group").asName();
  if (std::optional<JsonField> weights = field.optionalField("weights"))
    layer.weights = weights->asName();
  else
    layer.weights = layer.name;
  if (std::optional<JsonField> epilogue = field.optionalField("epilogue"))
    layer.epilogue = parseEpilogue(*epilogue);
  if (std::optional<JsonField> skipClip = field.optionalField("skip_clip"))
    layer.skipClip = skipClip->asBool();
  if (std::optional<JsonField> quantize = field.optionalField("quantize"))
    layer.quantize = parseQuantizeOverride(*quantize, layer.k);
  return layer;
}

std::string describeOverrideValue(const QuantizeOverride &quantize,
                                  const std::string &key) {
  if (key == "method")
    return quantize.method.empty() ? "none" : "\"" + quantize.method + "\"";
  const int64_t value = key == "bits" ? quantize.bits : quantize.groupSize;
  return value ? std::to_string(value) : "none";
}

/// The layers of an input group are quantized together (one scale search,
/// one Hessian) and merged into one kernel where they can be (q/k/v,
/// gate/up), so their "quantize" settings must agree field by field.
[[noreturn]] void failQuantizeMismatch(const JsonField &field,
                                       const LayerDescription &layer,
                                       const LayerDescription &first) {
  for (const char *key : {"method", "bits", "group_size"}) {
    const std::string mine = describeOverrideValue(layer.quantize, key);
    const std::string theirs = describeOverrideValue(first.quantize, key);
    if (mine == theirs)
      continue;
    field.failWith(
        std::string("quantize.") + key + " is " + mine + " but layer '" +
        first.name + "' of the same input group '" + layer.inputGroup +
        "' has " + theirs +
        "; the layers of an input group share their input and are quantized "
        "(and merged into kernels) together: give each of them the same "
        "\"quantize\" settings");
  }
  field.failWith("internal error: quantize settings differ");
}

/// Cross-reference checks once every group and layer is known.
void checkReferences(const ModelDescription &description,
                     const JsonField &groupsField,
                     const JsonField &layersField) {
  std::map<std::string, size_t> layerIndex;
  for (size_t i = 0; i < description.layers.size(); ++i)
    layerIndex.emplace(description.layers[i].name, i);
  std::map<std::string, size_t> groupIndex;
  for (size_t i = 0; i < description.inputGroups.size(); ++i)
    groupIndex.emplace(description.inputGroups[i].name, i);

  // Layers -> groups, and one K per group.
  std::map<std::string, size_t> firstLayerOfGroup;
  for (size_t i = 0; i < description.layers.size(); ++i) {
    const LayerDescription &layer = description.layers[i];
    const JsonField field = layersField.element(i);
    if (!groupIndex.count(layer.inputGroup))
      field.field("input_group")
          .failWith("unknown input group '" + layer.inputGroup + "'");
    auto [it, first] = firstLayerOfGroup.emplace(layer.inputGroup, i);
    const LayerDescription &groupFirst = description.layers[it->second];
    if (!first && groupFirst.k != layer.k)
      field.field("k").failWith(
          std::to_string(layer.k) +
          " differs from k = " + std::to_string(groupFirst.k) + " of layer '" +
          groupFirst.name + "' in the same input group '" + layer.inputGroup +
          "' (layers of a group read the same input)");
    if (!first && groupFirst.quantize != layer.quantize)
      failQuantizeMismatch(field, layer, groupFirst);
  }

  // Groups: used, and producers referring to real layers.
  for (size_t g = 0; g < description.inputGroups.size(); ++g) {
    const InputGroup &group = description.inputGroups[g];
    const JsonField field = groupsField.element(g);
    auto first = firstLayerOfGroup.find(group.name);
    if (first == firstLayerOfGroup.end())
      field.field("name").failWith("input group '" + group.name +
                                   "' has no layers");
    const Producer &producer = group.producer;
    const JsonField producerField = field.field("producer");
    if (producer.kind == ProducerKind::Linear) {
      auto source = layerIndex.find(producer.name);
      if (source == layerIndex.end())
        producerField.field("name").failWith("unknown layer '" + producer.name +
                                             "'");
      const LayerDescription &from = description.layers[source->second];
      const LayerDescription &to = description.layers[first->second];
      if (from.n != to.k)
        producerField.field("name").failWith(
            "layer '" + from.name + "' outputs n = " + std::to_string(from.n) +
            " features but the group's layers have k = " +
            std::to_string(to.k));
    }
    for (size_t i = 0; i < producer.inputs.size(); ++i)
      if (!layerIndex.count(producer.inputs[i]))
        producerField.field("inputs").element(i).failWith(
            "unknown layer '" + producer.inputs[i] + "'");
  }

  // silu_mul pairs must point at each other with opposite roles.
  for (size_t i = 0; i < description.layers.size(); ++i) {
    const LayerDescription &layer = description.layers[i];
    if (layer.epilogue.kind != EpilogueKind::SiluMul)
      continue;
    const JsonField partnerField =
        layersField.element(i).field("epilogue").field("partner");
    auto it = layerIndex.find(layer.epilogue.partner);
    if (it == layerIndex.end())
      partnerField.failWith("unknown layer '" + layer.epilogue.partner + "'");
    const LayerDescription &partner = description.layers[it->second];
    if (&partner == &layer)
      partnerField.failWith("a layer cannot be its own silu_mul partner");
    if (partner.epilogue.kind != EpilogueKind::SiluMul ||
        partner.epilogue.partner != layer.name ||
        partner.epilogue.role == layer.epilogue.role)
      partnerField.failWith("layer '" + partner.name +
                            "' must have a silu_mul epilogue naming '" +
                            layer.name + "' as partner with the opposite role");
    if (partner.n != layer.n)
      partnerField.failWith("partner '" + partner.name +
                            "' has n = " + std::to_string(partner.n) +
                            " but this layer has "
                            "n = " +
                            std::to_string(layer.n) +
                            "; SiLU(gate) * up needs equal widths");
  }

  // A layer may not (transitively) consume its own output.
  std::vector<std::vector<size_t>> dependsOn(description.layers.size());
  for (size_t i = 0; i < description.layers.size(); ++i) {
    const InputGroup &group =
        description
            .inputGroups[groupIndex.at(description.layers[i].inputGroup)];
    if (group.producer.kind == ProducerKind::Linear)
      dependsOn[i].push_back(layerIndex.at(group.producer.name));
    for (const std::string &input : group.producer.inputs)
      dependsOn[i].push_back(layerIndex.at(input));
  }
  enum class Mark { None, Active, Done };
  std::vector<Mark> marks(description.layers.size(), Mark::None);
  // Iterative DFS keeps deep (adversarial) chains off the call stack.
  for (size_t root = 0; root < description.layers.size(); ++root) {
    if (marks[root] != Mark::None)
      continue;
    std::vector<std::pair<size_t, size_t>> work{{root, 0}};
    marks[root] = Mark::Active;
    while (!work.empty()) {
      auto &[node, next] = work.back();
      if (next == dependsOn[node].size()) {
        marks[node] = Mark::Done;
        work.pop_back();
        continue;
      }
      const size_t dep = dependsOn[node][next++];
      if (marks[dep] == Mark::Active) {
        std::string cycle = description.layers[dep].name;
        bool inCycle = false;
        for (const auto &entry : work) {
          inCycle = inCycle || entry.first == dep;
          if (inCycle && entry.first != dep)
            cycle += " -> " + description.layers[entry.first].name;
        }
        cycle += " -> " + description.layers[dep].name;
        layersField.element(dep)
            .field("input_group")
            .failWith("layers form a cycle through their inputs: " + cycle);
      }
      if (marks[dep] == Mark::None) {
        marks[dep] = Mark::Active;
        work.emplace_back(dep, 0);
      }
    }
  }
}

} // namespace

const char *producerKindName(ProducerKind kind) {
  for (const KindSpelling &spelling : kProducerKinds)
    if (spelling.kind == kind)
      return spelling.name;
  return "input";
}

QuantParams LayerDescription::params() const {
  QuantParams params;
  params.bits = bits;
  params.groupSize = groupSize == -1 ? k : groupSize;
  params.zeroPoint = zeroPoint;
  return params;
}

const LayerDescription *
ModelDescription::findLayer(std::string_view name) const {
  for (const LayerDescription &layer : layers)
    if (layer.name == name)
      return &layer;
  return nullptr;
}

const InputGroup *
ModelDescription::findInputGroup(std::string_view name) const {
  for (const InputGroup &group : inputGroups)
    if (group.name == name)
      return &group;
  return nullptr;
}

std::vector<const LayerDescription *>
ModelDescription::layersOfGroup(std::string_view group) const {
  std::vector<const LayerDescription *> result;
  for (const LayerDescription &layer : layers)
    if (layer.inputGroup == group)
      result.push_back(&layer);
  return result;
}

const char *descriptionDtypeName(ActivationType type) {
  return type == ActivationType::BF16 ? "bfloat16" : "float16";
}

ModelDescription parseModelDescriptionJson(const json &document,
                                           const std::string &source) {
  const JsonField root(document, source, "");
  root.requireObject();
  // The version comes first so that a newer file fails on its version, not
  // on a field this reader does not know.
  const JsonField version = root.field("awqc_model_description");
  ModelDescription description;
  description.version = static_cast<int>(version.asInt(INT32_MIN, INT32_MAX));
  if (description.version != kModelDescriptionVersion)
    version.fail("version " + std::to_string(kModelDescriptionVersion) +
                 " (the only version this awqc reads)");
  root.rejectUnknownKeys({"awqc_model_description", "name", "dtype",
                          "checkpoint", "input_groups", "layers"});
  if (std::optional<JsonField> name = root.optionalField("name"))
    description.name = name->asString();
  if (std::optional<JsonField> dtype = root.optionalField("dtype")) {
    const std::string spelling = dtype->asString();
    if (spelling == descriptionDtypeName(ActivationType::F16))
      description.activation = ActivationType::F16;
    else if (spelling == descriptionDtypeName(ActivationType::BF16))
      description.activation = ActivationType::BF16;
    else
      dtype->fail("\"float16\" or \"bfloat16\" (the activation type)");
  }

  const JsonField checkpoint = root.field("checkpoint");
  checkpoint.requireObject();
  checkpoint.rejectUnknownKeys({"path", "format"});
  description.checkpoint.path = checkpoint.field("path").asName();
  if (std::optional<JsonField> format = checkpoint.optionalField("format")) {
    description.checkpoint.format = format->asString();
    if (description.checkpoint.format != "awq" &&
        description.checkpoint.format != "gptq")
      format->fail("\"awq\" or \"gptq\"");
  }

  const JsonField groups = root.field("input_groups");
  const size_t groupCount = groups.requireArray();
  if (groupCount == 0 || groupCount > kMaxDescriptionEntries)
    groups.fail("a non-empty array of at most " +
                std::to_string(kMaxDescriptionEntries) + " input groups");
  std::map<std::string, size_t> groupNames;
  for (size_t i = 0; i < groupCount; ++i) {
    const JsonField field = groups.element(i);
    field.requireObject();
    field.rejectUnknownKeys({"name", "producer", "activation_scale"});
    InputGroup group;
    const JsonField nameField = field.field("name");
    group.name = nameField.asName();
    auto [it, inserted] = groupNames.emplace(group.name, i);
    if (!inserted)
      nameField.failWith("duplicate input group name '" + group.name +
                         "' (also input_groups[" + std::to_string(it->second) +
                         "])");
    group.producer = parseProducer(field.field("producer"));
    if (std::optional<JsonField> scale =
            field.optionalField("activation_scale"))
      group.activationScale = scale->asName();
    description.inputGroups.push_back(std::move(group));
  }

  const JsonField layers = root.field("layers");
  const size_t layerCount = layers.requireArray();
  if (layerCount == 0 || layerCount > kMaxDescriptionEntries)
    layers.fail("a non-empty array of at most " +
                std::to_string(kMaxDescriptionEntries) + " layers");
  std::map<std::string, size_t> layerNames;
  for (size_t i = 0; i < layerCount; ++i) {
    LayerDescription layer = parseLayer(layers.element(i));
    auto [it, inserted] = layerNames.emplace(layer.name, i);
    if (!inserted)
      layers.element(i).field("name").failWith(
          "duplicate layer name '" + layer.name + "' (also layers[" +
          std::to_string(it->second) + "])");
    description.layers.push_back(std::move(layer));
  }

  checkReferences(description, groups, layers);
  return description;
}

ModelDescription parseModelDescription(const std::string &path) {
  return parseModelDescriptionJson(readJsonFile(path), path);
}

namespace {

/// Builds the document; ordered_json keeps the schema's field order in
/// written files, which people read and diff.
template <typename JsonT>
JsonT toDocument(const ModelDescription &description) {
  JsonT document = JsonT::object();
  document["awqc_model_description"] = description.version;
  if (!description.name.empty())
    document["name"] = description.name;
  // float16 is the default: written only for bf16 models, so fp16
  // descriptions read the same as before the field existed.
  if (description.activation != ActivationType::F16)
    document["dtype"] = descriptionDtypeName(description.activation);
  document["checkpoint"] = {{"path", description.checkpoint.path},
                            {"format", description.checkpoint.format}};
  JsonT groups = JsonT::array();
  for (const InputGroup &group : description.inputGroups) {
    const Producer &p = group.producer;
    JsonT producer = {{"kind", producerKindName(p.kind)}, {"name", p.name}};
    if (!p.weight.empty())
      producer["weight"] = p.weight;
    if (!p.bias.empty())
      producer["bias"] = p.bias;
    if (isNorm(p.kind))
      producer["epsilon"] = p.epsilon;
    if (!p.inputs.empty())
      producer["inputs"] = p.inputs;
    JsonT entry = {{"name", group.name}, {"producer", std::move(producer)}};
    if (!group.activationScale.empty())
      entry["activation_scale"] = group.activationScale;
    groups.push_back(std::move(entry));
  }
  document["input_groups"] = std::move(groups);

  JsonT layers = JsonT::array();
  for (const LayerDescription &layer : description.layers) {
    JsonT entry = {
        {"name", layer.name},
        {"k", layer.k},
        {"n", layer.n},
        {"bits", layer.bits},
        {"group_size", layer.groupSize},
        {"zero_point", layer.zeroPoint},
        {"bias", layer.bias},
        {"input_group", layer.inputGroup},
        {"weights", layer.weights.empty() ? layer.name : layer.weights}};
    const Epilogue &e = layer.epilogue;
    if (e.kind == EpilogueKind::SiluMul)
      entry["epilogue"] = {
          {"kind", "silu_mul"},
          {"role", e.role == SiluMulRole::Gate ? "gate" : "up"},
          {"partner", e.partner}};
    else if (e.kind == EpilogueKind::ResidualAdd)
      entry["epilogue"] = {{"kind", "residual_add"}, {"residual", e.residual}};
    if (layer.skipClip)
      entry["skip_clip"] = true;
    if (!layer.quantize.empty()) {
      JsonT quantize = JsonT::object();
      if (!layer.quantize.method.empty())
        quantize["method"] = layer.quantize.method;
      if (layer.quantize.bits)
        quantize["bits"] = layer.quantize.bits;
      if (layer.quantize.groupSize)
        quantize["group_size"] = layer.quantize.groupSize;
      entry["quantize"] = std::move(quantize);
    }
    layers.push_back(std::move(entry));
  }
  document["layers"] = std::move(layers);
  return document;
}

} // namespace

json modelDescriptionToJson(const ModelDescription &description) {
  return toDocument<json>(description);
}

void writeModelDescription(const ModelDescription &description,
                           const std::string &path) {
  nlohmann::ordered_json document =
      toDocument<nlohmann::ordered_json>(description);
  // Never write a file that the parser would reject.
  parseModelDescriptionJson(json(document), path + " (to be written)");
  writeFileAtomically(path, document.dump(2) + "\n");
}

std::string resolveCheckpointPath(const ModelDescription &description,
                                  const std::string &descriptionPath) {
  const fs::path checkpoint(description.checkpoint.path);
  if (checkpoint.is_absolute())
    return checkpoint.lexically_normal().string();
  return (fs::path(descriptionPath).parent_path() / checkpoint)
      .lexically_normal()
      .string();
}

} // namespace awq
