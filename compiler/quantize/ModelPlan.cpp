//===- ModelPlan.cpp - What awqc quantize will do, decided before doing it ===//

#include "compiler/quantize/ModelPlan.h"

#include "compiler/formats/ModelDescription.h"
#include "compiler/quantize/Calibration.h"
#include "compiler/quantize/Fp16Model.h"
#include "runtime/support/Error.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <set>

namespace awq {

const char *methodName(QuantizeMethod method) {
  switch (method) {
  case QuantizeMethod::Awq:
    return "awq";
  case QuantizeMethod::Rtn:
    return "rtn";
  case QuantizeMethod::Gptq:
    return "gptq";
  case QuantizeMethod::AwqGptq:
    return "awq-gptq";
  }
  return "?";
}

std::optional<QuantizeMethod> parseQuantizeMethod(const std::string &name) {
  for (QuantizeMethod method : {QuantizeMethod::Awq, QuantizeMethod::Rtn,
                                QuantizeMethod::Gptq, QuantizeMethod::AwqGptq})
    if (name == methodName(method))
      return method;
  return std::nullopt;
}

bool searchesScales(QuantizeMethod method) {
  return method == QuantizeMethod::Awq || method == QuantizeMethod::AwqGptq;
}

bool usesGptq(QuantizeMethod method) {
  return method == QuantizeMethod::Gptq || method == QuantizeMethod::AwqGptq;
}

const char *scaleDestinationName(ScaleDestination destination) {
  switch (destination) {
  case ScaleDestination::None:
    return "none";
  case ScaleDestination::NormWeight:
    return "norm";
  case ScaleDestination::LinearRows:
    return "linear_rows";
  case ScaleDestination::ActivationScale:
    return "activation_scale";
  }
  return "?";
}

namespace {

bool endsWith(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// The value projection among an attention op's inputs: the one named
/// `*v_proj`, else the last of q, k, v.
const LayerDescription *valueProjection(const ModelDescription &description,
                                        const Producer &producer) {
  for (const std::string &name : producer.inputs)
    if (endsWith(name, "v_proj"))
      return description.findLayer(name);
  return producer.inputs.size() == 3 ? description.findLayer(producer.inputs[2])
                                     : nullptr;
}

/// The `up` operand of SiLU(gate) * up: the input whose epilogue role is up,
/// else the second input.
const LayerDescription *upProjection(const ModelDescription &description,
                                     const Producer &producer) {
  for (const std::string &name : producer.inputs) {
    const LayerDescription *layer = description.findLayer(name);
    if (layer && layer->epilogue.kind == EpilogueKind::SiluMul &&
        layer->epilogue.role == SiluMulRole::Up)
      return layer;
  }
  return producer.inputs.size() == 2 ? description.findLayer(producer.inputs[1])
                                     : nullptr;
}

/// Whether 1/s of `consumer` may be divided into the output rows of
/// `producer`: the shapes must match (v -> o only without GQA), and the
/// output must reach the group through `consumer` only with nothing added
/// to it (a residual would not be divided).
bool rowsFoldable(const ModelDescription &description,
                  const LayerDescription &producer, const InputGroup &consumer,
                  int64_t k, const std::set<std::string> &claimed) {
  if (producer.n != k || claimed.count(producer.name))
    return false;
  const bool siluUp = consumer.producer.kind == ProducerKind::Activation &&
                      consumer.producer.name == "silu_mul" &&
                      producer.epilogue.kind == EpilogueKind::SiluMul &&
                      producer.epilogue.role == SiluMulRole::Up;
  if (producer.epilogue.kind != EpilogueKind::None && !siluUp)
    return false;
  int references = 0;
  for (const InputGroup &group : description.inputGroups) {
    if (group.producer.kind == ProducerKind::Linear &&
        group.producer.name == producer.name)
      ++references;
    for (const std::string &input : group.producer.inputs)
      if (input == producer.name)
        ++references;
  }
  return references == 1;
}

bool isFloatVector(const TensorView *view, int64_t k) {
  return view &&
         (view->dtype == DType::F16 || view->dtype == DType::BF16 ||
          view->dtype == DType::F32) &&
         view->shape == std::vector<int64_t>{k};
}

void requireNormTensor(const SafeTensorsCheckpoint &weights,
                       const InputGroup &group, const std::string &tensor,
                       const char *role, int64_t k) {
  const TensorView *view = weights.find(tensor);
  if (isFloatVector(view, k))
    return;
  throw Error(weights.source() + ": input group '" + group.name +
              "' is produced by norm '" + group.producer.name + "' whose " +
              role + " '" + tensor +
              "' must be an F16, BF16 or F32 tensor [K = " + std::to_string(k) +
              "]" +
              (view ? ", got " + std::string(dtypeName(view->dtype)) + " " +
                          formatShape(view->shape)
                    : std::string(", but the checkpoint has no such tensor")));
}

/// Decides, per group, where its 1/s goes and whether to search scales.
void planDestinations(std::vector<PlannedGroup> &plans, const Fp16Model &model,
                      const ModelPlanOptions &options) {
  const ModelDescription &description = model.description;
  std::set<std::string> claimed; // Tensors and layers already absorbing a 1/s.
  for (PlannedGroup &plan : plans) {
    const InputGroup &group = description.inputGroups[plan.index];
    const Producer &producer = group.producer;
    plan.destination = ScaleDestination::None;
    plan.target.clear();
    if (!searchesScales(plan.method))
      continue;
    switch (producer.kind) {
    case ProducerKind::RmsNorm:
    case ProducerKind::LayerNorm:
      requireNormTensor(*model.weights, group, producer.weight, "weight",
                        plan.k);
      if (!producer.bias.empty())
        requireNormTensor(*model.weights, group, producer.bias, "bias", plan.k);
      if (!claimed.count(producer.weight)) {
        plan.destination = ScaleDestination::NormWeight;
        plan.target = producer.weight;
        plan.normBias = producer.bias;
      }
      break;
    case ProducerKind::Linear:
    case ProducerKind::Activation: {
      const LayerDescription *layer = nullptr;
      if (producer.kind == ProducerKind::Linear)
        layer = description.findLayer(producer.name);
      else if (producer.name == "attention")
        layer = valueProjection(description, producer);
      else if (producer.name == "silu_mul")
        layer = upProjection(description, producer);
      if (layer && rowsFoldable(description, *layer, group, plan.k, claimed)) {
        plan.destination = ScaleDestination::LinearRows;
        plan.target = layer->name;
      }
      break;
    }
    case ProducerKind::Embedding:
    case ProducerKind::Input:
      break;
    }
    if (plan.destination == ScaleDestination::None && !options.foldOnly) {
      plan.destination = ScaleDestination::ActivationScale;
      plan.target = group.name + ".activation_scale";
      if (model.weights->find(plan.target))
        throw Error(model.weights->source() + ": input group '" + group.name +
                    "' needs an activation scale tensor '" + plan.target +
                    "' but the checkpoint already has a tensor of that name");
    }
    if (plan.destination != ScaleDestination::None)
      claimed.insert(plan.target);
    plan.searchScales = plan.destination != ScaleDestination::None;
  }
}

std::vector<size_t> processingOrder(const std::vector<PlannedGroup> &plans,
                                    const ModelDescription &description) {
  std::map<std::string, size_t> groupIndex;
  for (const PlannedGroup &plan : plans)
    groupIndex[plan.name] = plan.index;
  std::vector<std::vector<size_t>> after(plans.size());
  std::vector<int> pending(plans.size(), 0);
  for (const PlannedGroup &plan : plans) {
    if (plan.destination != ScaleDestination::LinearRows)
      continue;
    const size_t producerGroup =
        groupIndex.at(description.findLayer(plan.target)->inputGroup);
    after[plan.index].push_back(producerGroup);
    ++pending[producerGroup];
  }
  // Among the groups that may run, the earliest in the description first.
  std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> ready;
  for (size_t i = 0; i < plans.size(); ++i)
    if (pending[i] == 0)
      ready.push(i);
  std::vector<size_t> order;
  while (!ready.empty()) {
    const size_t next = ready.top();
    ready.pop();
    order.push_back(next);
    for (size_t dependent : after[next])
      if (--pending[dependent] == 0)
        ready.push(dependent);
  }
  if (order.size() != plans.size())
    throw Error(description.name + ": the folds of 1/s into linear layers "
                                   "form a cycle");
  return order;
}

} // namespace

ModelPlan planModelQuantization(const ModelPlanOptions &options) {
  auto model = std::make_shared<Fp16Model>(
      openFp16Model(options.model, options.settings));
  auto calibration = std::make_shared<CalibrationSet>(options.calibration);
  const ModelDescription &description = model->description;

  ModelPlan plan;
  plan.settings = model->settings;
  plan.config = model->config;
  plan.weights = model->weights.get();

  // q_proj and k_proj: the first two inputs of an attention op.
  std::set<std::string> skipClip;
  for (const InputGroup &group : description.inputGroups)
    if (group.producer.kind == ProducerKind::Activation &&
        group.producer.name == "attention")
      for (size_t i = 0; i < group.producer.inputs.size() && i < 2; ++i)
        skipClip.insert(group.producer.inputs[i]);

  plan.groups.resize(description.inputGroups.size());
  for (size_t i = 0; i < plan.groups.size(); ++i) {
    const InputGroup &group = description.inputGroups[i];
    PlannedGroup &planned = plan.groups[i];
    planned.index = i;
    planned.name = group.name;
    const std::vector<const LayerDescription *> layers =
        description.layersOfGroup(group.name);
    planned.k = layers.front()->k;
    planned.activations = &calibration->tensorFor(group, layers);
    // Fp16Model checked that the layers of a group agree on these.
    const LayerDescription &first = *layers.front();
    planned.settings = {first.bits, first.groupSize, first.zeroPoint};
    planned.method = options.method;
    if (!first.quantize.method.empty())
      planned.method = *parseQuantizeMethod(first.quantize.method);
    planned.bitsPinned = first.quantize.bits != 0 || options.settings.bits;
    for (const LayerDescription *layer : layers) {
      PlannedLayer entry;
      entry.name = layer->name;
      entry.weights = layer->weights;
      entry.n = layer->n;
      entry.k = layer->k;
      entry.weight = &model->weightOf(*layer);
      entry.bias = model->biasOf(*layer);
      entry.skipClip = layer->skipClip || skipClip.count(layer->name) != 0;
      planned.work += static_cast<uint64_t>(layer->n * layer->k);
      planned.layers.push_back(entry);
    }
  }
  plan.settings = dominantSettings(plan);
  planDestinations(plan.groups, *model, options);
  plan.order = processingOrder(plan.groups, description);

  std::set<std::string> consumed;
  for (const LayerDescription &layer : description.layers) {
    plan.layers.push_back(layer.name);
    consumed.insert(layer.weights + ".weight");
    consumed.insert(layer.weights + ".bias");
  }
  // A Hugging Face directory is a whole model: embeddings, lm_head and the
  // final norm go along. A description may list a few linears of a large
  // checkpoint: only the tensors it names travel, unless asked.
  std::set<std::string> named;
  for (const InputGroup &group : description.inputGroups)
    for (const std::string *tensor :
         {&group.producer.weight, &group.producer.bias})
      if (!tensor->empty())
        named.insert(*tensor);
  const bool everything = model->huggingFace || options.copyUnlisted;
  for (const std::string &name : model->weights->names())
    if (!consumed.count(name) && (everything || named.count(name)))
      plan.passThrough.push_back(name);

  plan.model = std::move(model);
  plan.calibration = std::move(calibration);
  return plan;
}

UniformQuantSettings dominantSettings(const ModelPlan &plan) {
  std::vector<std::pair<UniformQuantSettings, uint64_t>> weights;
  for (const PlannedGroup &group : plan.groups) {
    auto same = std::find_if(weights.begin(), weights.end(), [&](auto &entry) {
      return entry.first.bits == group.settings.bits &&
             entry.first.groupSize == group.settings.groupSize;
    });
    if (same == weights.end())
      weights.push_back({group.settings, group.work});
    else
      same->second += group.work;
  }
  if (weights.empty())
    return plan.settings;
  // max_element keeps the first of equals: the earliest group's settings.
  return std::max_element(weights.begin(), weights.end(),
                          [](auto &a, auto &b) { return a.second < b.second; })
      ->first;
}

bool isMixedPrecision(const ModelPlan &plan) {
  for (const PlannedGroup &group : plan.groups)
    if (group.settings.bits != plan.settings.bits ||
        group.settings.groupSize != plan.settings.groupSize)
      return true;
  return false;
}

void writeQuantizedDescription(
    const ModelPlan &plan,
    const std::map<std::string, std::string> &activationScales,
    const std::string &path) {
  ModelDescription description = plan.model->description;
  description.checkpoint = {".", "awq"};
  // The checkpoint holds fp16 scales, bias and activation scales, as
  // AutoAWQ writes them (.half()) even for bf16 models: the model it
  // describes is fp16 whatever the input's dtype.
  description.activation = ActivationType::F16;
  std::map<std::string, const UniformQuantSettings *> settingsOf;
  for (const PlannedGroup &group : plan.groups)
    for (const PlannedLayer &planned : group.layers)
      settingsOf[planned.name] = &group.settings;
  for (LayerDescription &layer : description.layers) {
    auto it = settingsOf.find(layer.name);
    if (it != settingsOf.end()) {
      layer.bits = it->second->bits;
      layer.groupSize = it->second->groupSize;
    }
  }
  for (InputGroup &group : description.inputGroups) {
    auto it = activationScales.find(group.name);
    group.activationScale = it == activationScales.end() ? "" : it->second;
  }
  writeModelDescription(description, path);
}

} // namespace awq
