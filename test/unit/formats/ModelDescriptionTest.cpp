//===- ModelDescriptionTest.cpp - Schema parsing, writing, every error ----===//

#include "TestUtil.h"

#include "compiler/formats/JsonFields.h"
#include "compiler/formats/ModelDescription.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace awq::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

/// A small valid description: gate/up pair -> down (+ residual) -> head.
/// layers: [0] gate, [1] up, [2] down, [3] head;
/// input_groups: [0] g_in, [1] g_hidden, [2] g_out.
json baseDocument() {
  return json::parse(R"({
    "awqc_model_description": 1,
    "name": "mini",
    "checkpoint": {"path": "ckpt", "format": "awq"},
    "input_groups": [
      {"name": "g_in",
       "producer": {"kind": "rms_norm", "name": "norm",
                    "weight": "norm.weight", "epsilon": 1e-5}},
      {"name": "g_hidden",
       "producer": {"kind": "activation", "name": "silu_mul",
                    "inputs": ["gate", "up"]},
       "activation_scale": "down.input_scale"},
      {"name": "g_out", "producer": {"kind": "linear", "name": "down"}}
    ],
    "layers": [
      {"name": "gate", "k": 256, "n": 512, "bits": 4, "group_size": 128,
       "zero_point": true, "bias": false, "input_group": "g_in",
       "weights": "model.gate",
       "epilogue": {"kind": "silu_mul", "role": "gate", "partner": "up"}},
      {"name": "up", "k": 256, "n": 512, "bits": 4, "group_size": 128,
       "zero_point": true, "input_group": "g_in",
       "epilogue": {"kind": "silu_mul", "role": "up", "partner": "gate"}},
      {"name": "down", "k": 512, "n": 256, "bits": 3, "group_size": 64,
       "zero_point": true, "bias": true, "input_group": "g_hidden",
       "skip_clip": true,
       "quantize": {"method": "gptq", "bits": 8, "group_size": 128},
       "epilogue": {"kind": "residual_add", "residual": "stream"}},
      {"name": "head", "k": 256, "n": 64, "bits": 8, "group_size": -1,
       "zero_point": false, "input_group": "g_out",
       "quantize": {"bits": 4}}
    ]
  })");
}

TEST(ModelDescription, ParsesEveryField) {
  TempDir dir;
  const std::string path = dir.file("model.json");
  writeBytes(path, baseDocument().dump(2));
  ModelDescription d = parseModelDescription(path);
  EXPECT_EQ(d.version, 1);
  EXPECT_EQ(d.name, "mini");
  EXPECT_EQ(d.checkpoint.path, "ckpt");
  EXPECT_EQ(d.checkpoint.format, "awq");
  EXPECT_EQ(resolveCheckpointPath(d, path), dir.file("ckpt"));
  ASSERT_EQ(d.inputGroups.size(), 3u);
  const InputGroup &in = d.inputGroups[0];
  EXPECT_EQ(in.producer.kind, ProducerKind::RmsNorm);
  EXPECT_EQ(in.producer.name, "norm");
  EXPECT_EQ(in.producer.weight, "norm.weight");
  EXPECT_DOUBLE_EQ(in.producer.epsilon, 1e-5);
  const InputGroup &hidden = d.inputGroups[1];
  EXPECT_EQ(hidden.producer.kind, ProducerKind::Activation);
  EXPECT_EQ(hidden.producer.inputs, (std::vector<std::string>{"gate", "up"}));
  EXPECT_EQ(hidden.activationScale, "down.input_scale");
  EXPECT_EQ(d.inputGroups[2].producer.kind, ProducerKind::Linear);

  ASSERT_EQ(d.layers.size(), 4u);
  const LayerDescription &gate = d.layers[0];
  EXPECT_EQ(gate.weights, "model.gate");
  EXPECT_EQ(gate.epilogue.kind, EpilogueKind::SiluMul);
  EXPECT_EQ(gate.epilogue.role, SiluMulRole::Gate);
  EXPECT_EQ(gate.epilogue.partner, "up");
  EXPECT_EQ(d.layers[1].weights, "up"); // Defaults to the name.
  EXPECT_FALSE(d.layers[1].bias);
  const LayerDescription &down = d.layers[2];
  EXPECT_EQ(down.bits, 3);
  EXPECT_TRUE(down.bias);
  EXPECT_EQ(down.epilogue.kind, EpilogueKind::ResidualAdd);
  EXPECT_EQ(down.epilogue.residual, "stream");
  EXPECT_TRUE(down.skipClip);
  EXPECT_FALSE(gate.skipClip); // Defaults to false.
  EXPECT_EQ(down.quantize.method, "gptq");
  EXPECT_EQ(down.quantize.bits, 8);
  EXPECT_EQ(down.quantize.groupSize, 128);
  EXPECT_EQ(down.bits, 3); // The override does not change the layer's own.
  EXPECT_TRUE(gate.quantize.empty());
  EXPECT_EQ(d.layers[3].quantize.bits, 4);
  EXPECT_EQ(d.layers[3].quantize.method, "");
  EXPECT_EQ(d.layers[3].quantize.groupSize, 0);
  const LayerDescription &head = d.layers[3];
  EXPECT_EQ(head.groupSize, -1);
  EXPECT_EQ(head.params().groupSize, 256);
  EXPECT_FALSE(head.params().zeroPoint);
  EXPECT_EQ(head.epilogue.kind, EpilogueKind::None);

  EXPECT_EQ(d.findLayer("down"), &d.layers[2]);
  EXPECT_EQ(d.findLayer("nope"), nullptr);
  EXPECT_EQ(d.findInputGroup("g_out"), &d.inputGroups[2]);
  EXPECT_EQ(d.layersOfGroup("g_in").size(), 2u);
}

TEST(ModelDescription, DtypeIsFloat16OrBfloat16) {
  EXPECT_EQ(parseModelDescriptionJson(baseDocument(), "mem").activation,
            ActivationType::F16);
  json doc = baseDocument();
  doc["dtype"] = "bfloat16";
  ModelDescription bf16 = parseModelDescriptionJson(doc, "mem");
  EXPECT_EQ(bf16.activation, ActivationType::BF16);
  // Written only for bf16, and read back the same.
  EXPECT_EQ(modelDescriptionToJson(bf16)["dtype"], "bfloat16");
  EXPECT_FALSE(
      modelDescriptionToJson(parseModelDescriptionJson(baseDocument(), "mem"))
          .contains("dtype"));
  EXPECT_EQ(
      parseModelDescriptionJson(modelDescriptionToJson(bf16), "mem").activation,
      ActivationType::BF16);
  doc["dtype"] = "float16";
  EXPECT_EQ(parseModelDescriptionJson(doc, "mem").activation,
            ActivationType::F16);
  for (json bad : {json("bf16"), json("float32")}) {
    doc["dtype"] = bad;
    expectError([&] { parseModelDescriptionJson(doc, "model.json"); },
                {"model.json: dtype: expected \"float16\" or \"bfloat16\"",
                 bad.get<std::string>()});
  }
  doc["dtype"] = 16;
  expectError([&] { parseModelDescriptionJson(doc, "model.json"); },
              {"model.json: dtype: expected a string"});
}

TEST(ModelDescription, AcceptsEveryProducerKind) {
  json doc = baseDocument();
  doc["input_groups"][0]["producer"] = {{"kind", "layer_norm"},
                                        {"name", "ln"},
                                        {"weight", "ln.weight"},
                                        {"bias", "ln.bias"},
                                        {"epsilon", 1e-6}};
  ModelDescription d = parseModelDescriptionJson(doc, "mem");
  EXPECT_EQ(d.inputGroups[0].producer.kind, ProducerKind::LayerNorm);
  EXPECT_EQ(d.inputGroups[0].producer.bias, "ln.bias");
  doc["input_groups"][0]["producer"] = {
      {"kind", "embedding"}, {"name", "embed"}, {"weight", "embed.weight"}};
  EXPECT_EQ(parseModelDescriptionJson(doc, "mem").inputGroups[0].producer.kind,
            ProducerKind::Embedding);
  doc["input_groups"][0]["producer"] = {{"kind", "input"}, {"name", "x"}};
  EXPECT_EQ(parseModelDescriptionJson(doc, "mem").inputGroups[0].producer.kind,
            ProducerKind::Input);
}

TEST(ModelDescription, WriteThenParseIsIdentity) {
  TempDir dir;
  ModelDescription original = parseModelDescriptionJson(baseDocument(), "mem");
  const std::string path = dir.file("out.json");
  writeModelDescription(original, path);
  ModelDescription reread = parseModelDescription(path);
  EXPECT_EQ(modelDescriptionToJson(reread), modelDescriptionToJson(original));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out.json"});
  // The version leads the file.
  EXPECT_EQ(readBytes(path).find("\"awqc_model_description\": 1"), 4u);
}

TEST(ModelDescription, WriterRejectsInvalidDescriptionsAndLeavesNothing) {
  TempDir dir;
  ModelDescription d = parseModelDescriptionJson(baseDocument(), "mem");
  d.layers[0].groupSize = 100;
  expectError([&] { writeModelDescription(d, dir.file("out.json")); },
              {"out.json", "layers[0].group_size",
               "multiple of 32 that divides k = 256"});
  EXPECT_TRUE(dir.entries().empty());

  ModelDescription good = parseModelDescriptionJson(baseDocument(), "mem");
  expectError([&] { writeModelDescription(good, dir.file("absent/out.json")); },
              {"absent/out.json", "cannot create a temporary file"});
  EXPECT_TRUE(dir.entries().empty());
}

struct BadCase {
  std::string label;
  std::function<void(json &)> edit;
  std::vector<std::string> fragments;
};

/// Each case breaks the base document in one way; the error must name the
/// file, the JSON path and what was expected.
std::vector<BadCase> badCases() {
  return {
      // Top level.
      {"root",
       [](json &d) { d = json::array(); },
       {"top level", "expected an object"}},
      {"version missing",
       [](json &d) { d.erase("awqc_model_description"); },
       {"awqc_model_description: missing required field"}},
      {"version 2",
       [](json &d) { d["awqc_model_description"] = 2; },
       {"awqc_model_description", "expected version 1", "number 2"}},
      {"version string",
       [](json &d) { d["awqc_model_description"] = "1"; },
       {"awqc_model_description", "expected an integer"}},
      {"unknown top field",
       [](json &d) { d["layer"] = 1; },
       {"layer: unknown field", "expected one of"}},
      {"name type",
       [](json &d) { d["name"] = 3; },
       {"name: expected a string"}},
      // Checkpoint.
      {"checkpoint missing",
       [](json &d) { d.erase("checkpoint"); },
       {"checkpoint: missing required field"}},
      {"checkpoint type",
       [](json &d) { d["checkpoint"] = "ckpt"; },
       {"checkpoint: expected an object"}},
      {"checkpoint path",
       [](json &d) { d["checkpoint"]["path"] = ""; },
       {"checkpoint.path: expected a non-empty string"}},
      {"checkpoint format",
       [](json &d) { d["checkpoint"]["format"] = "gguf"; },
       {"checkpoint.format", "\"awq\" or \"gptq\""}},
      {"checkpoint field",
       [](json &d) { d["checkpoint"]["dir"] = "x"; },
       {"checkpoint.dir: unknown field"}},
      // Input groups.
      {"groups missing",
       [](json &d) { d.erase("input_groups"); },
       {"input_groups: missing required field"}},
      {"groups type",
       [](json &d) { d["input_groups"] = json::object(); },
       {"input_groups: expected an array"}},
      {"groups empty",
       [](json &d) { d["input_groups"] = json::array(); },
       {"input_groups: expected a non-empty array"}},
      {"group type",
       [](json &d) { d["input_groups"][1] = 5; },
       {"input_groups[1]: expected an object"}},
      {"group name",
       [](json &d) { d["input_groups"][1].erase("name"); },
       {"input_groups[1].name: missing required field"}},
      {"group duplicate",
       [](json &d) { d["input_groups"][2]["name"] = "g_in"; },
       {"input_groups[2].name", "duplicate input group name 'g_in'",
        "input_groups[0]"}},
      {"group field",
       [](json &d) { d["input_groups"][0]["scale"] = "s"; },
       {"input_groups[0].scale: unknown field"}},
      {"group scale",
       [](json &d) { d["input_groups"][1]["activation_scale"] = 1; },
       {"input_groups[1].activation_scale", "non-empty string"}},
      {"group unused",
       [](json &d) {
         d["input_groups"].push_back(
             {{"name", "lonely"},
              {"producer", {{"kind", "input"}, {"name", "x"}}}});
       },
       {"input_groups[3].name", "input group 'lonely' has no layers"}},
      // Producers.
      {"producer missing",
       [](json &d) { d["input_groups"][0].erase("producer"); },
       {"input_groups[0].producer: missing required field"}},
      {"producer type",
       [](json &d) { d["input_groups"][0]["producer"] = 1; },
       {"input_groups[0].producer: expected an object"}},
      {"kind missing",
       [](json &d) { d["input_groups"][0]["producer"].erase("kind"); },
       {"input_groups[0].producer.kind: missing required field"}},
      {"kind unknown",
       [](json &d) { d["input_groups"][0]["producer"]["kind"] = "conv"; },
       {"input_groups[0].producer.kind", "\"rms_norm\"", "string \"conv\""}},
      {"producer name",
       [](json &d) { d["input_groups"][0]["producer"]["name"] = ""; },
       {"input_groups[0].producer.name: expected a non-empty string"}},
      {"norm weight",
       [](json &d) { d["input_groups"][0]["producer"].erase("weight"); },
       {"input_groups[0].producer.weight: missing required field"}},
      {"norm epsilon",
       [](json &d) { d["input_groups"][0]["producer"].erase("epsilon"); },
       {"input_groups[0].producer.epsilon: missing required field"}},
      {"epsilon zero",
       [](json &d) { d["input_groups"][0]["producer"]["epsilon"] = 0; },
       {"input_groups[0].producer.epsilon", "a positive number"}},
      {"epsilon negative",
       [](json &d) { d["input_groups"][0]["producer"]["epsilon"] = -1e-5; },
       {"input_groups[0].producer.epsilon", "a positive number"}},
      {"epsilon type",
       [](json &d) { d["input_groups"][0]["producer"]["epsilon"] = "1e-5"; },
       {"input_groups[0].producer.epsilon", "a finite number"}},
      {"norm bias",
       [](json &d) { d["input_groups"][0]["producer"]["bias"] = "b"; },
       {"input_groups[0].producer.bias",
        "not allowed for producer kind 'rms_norm'"}},
      {"norm inputs",
       [](json &d) { d["input_groups"][0]["producer"]["inputs"] = {"gate"}; },
       {"input_groups[0].producer.inputs", "not allowed"}},
      {"linear weight",
       [](json &d) { d["input_groups"][2]["producer"]["weight"] = "w"; },
       {"input_groups[2].producer.weight",
        "not allowed for producer kind 'linear'"}},
      {"activation epsilon",
       [](json &d) { d["input_groups"][1]["producer"]["epsilon"] = 1e-5; },
       {"input_groups[1].producer.epsilon",
        "not allowed for producer kind 'activation'"}},
      {"producer field",
       [](json &d) { d["input_groups"][1]["producer"]["op"] = "x"; },
       {"input_groups[1].producer.op: unknown field"}},
      {"inputs type",
       [](json &d) { d["input_groups"][1]["producer"]["inputs"] = "gate"; },
       {"input_groups[1].producer.inputs: expected an array"}},
      {"inputs duplicate",
       [](json &d) {
         d["input_groups"][1]["producer"]["inputs"] = {"gate", "gate"};
       },
       {"input_groups[1].producer.inputs[1]", "listed twice"}},
      {"inputs unknown",
       [](json &d) {
         d["input_groups"][1]["producer"]["inputs"] = {"gate", "upp"};
       },
       {"input_groups[1].producer.inputs[1]", "unknown layer 'upp'"}},
      {"linear unknown",
       [](json &d) { d["input_groups"][2]["producer"]["name"] = "dwn"; },
       {"input_groups[2].producer.name", "unknown layer 'dwn'"}},
      {"linear width",
       [](json &d) { d["input_groups"][2]["producer"]["name"] = "gate"; },
       {"input_groups[2].producer.name", "outputs n = 512",
        "group's layers have k = 256"}},
      // Layers.
      {"layers missing",
       [](json &d) { d.erase("layers"); },
       {"layers: missing required field"}},
      {"layers empty",
       [](json &d) { d["layers"] = json::array(); },
       {"layers: expected a non-empty array"}},
      {"layers too many",
       [](json &d) {
         d["layers"] = json::array();
         for (size_t i = 0; i <= kMaxDescriptionEntries; ++i)
           d["layers"].push_back(json::object());
       },
       {"layers: expected a non-empty array of at most 65536 layers"}},
      {"layer type",
       [](json &d) { d["layers"][3] = "head"; },
       {"layers[3]: expected an object"}},
      {"layer name",
       [](json &d) { d["layers"][3].erase("name"); },
       {"layers[3].name: missing required field"}},
      {"layer duplicate",
       [](json &d) { d["layers"][3]["name"] = "gate"; },
       {"layers[3].name", "duplicate layer name 'gate'", "layers[0]"}},
      {"k zero",
       [](json &d) { d["layers"][3]["k"] = 0; },
       {"layers[3].k", "an integer in [1, 1073741824]", "number 0"}},
      {"k float",
       [](json &d) { d["layers"][3]["k"] = 256.0; },
       {"layers[3].k", "an integer"}},
      {"k huge",
       [](json &d) { d["layers"][3]["k"] = 1ull << 40; },
       {"layers[3].k", "1073741824"}},
      {"n missing",
       [](json &d) { d["layers"][3].erase("n"); },
       {"layers[3].n: missing required field"}},
      {"n negative",
       [](json &d) { d["layers"][3]["n"] = -64; },
       {"layers[3].n", "an integer in [1"}},
      {"bits",
       [](json &d) { d["layers"][3]["bits"] = 5; },
       {"layers[3].bits", "expected 3, 4 or 8", "number 5"}},
      {"group zero",
       [](json &d) { d["layers"][3]["group_size"] = 0; },
       {"layers[3].group_size", "-1 or k (one group per column) or a "
                                "multiple of 32 that divides k = 256"}},
      {"group divisibility",
       [](json &d) { d["layers"][3]["group_size"] = 96; },
       {"layers[3].group_size", "multiple of 32 that divides k = 256",
        "number 96"}},
      {"group below -1",
       [](json &d) { d["layers"][3]["group_size"] = -2; },
       {"layers[3].group_size", "an integer in [-1"}},
      {"zero_point type",
       [](json &d) { d["layers"][3]["zero_point"] = "false"; },
       {"layers[3].zero_point", "expected true or false"}},
      {"skip_clip type",
       [](json &d) { d["layers"][0]["skip_clip"] = 1; },
       {"layers[0].skip_clip", "expected true or false"}},
      // awqc quantize's per-layer settings.
      {"quantize type",
       [](json &d) { d["layers"][3]["quantize"] = 4; },
       {"layers[3].quantize: expected an object"}},
      {"quantize empty",
       [](json &d) { d["layers"][3]["quantize"] = json::object(); },
       {"layers[3].quantize", "at least one of \"method\", \"bits\", "
                              "\"group_size\""}},
      {"quantize field",
       [](json &d) { d["layers"][3]["quantize"]["zero_point"] = true; },
       {"layers[3].quantize.zero_point: unknown field"}},
      {"quantize method",
       [](json &d) { d["layers"][3]["quantize"]["method"] = "smoothquant"; },
       {"layers[3].quantize.method",
        "\"rtn\", \"awq\", \"gptq\" or \"awq-gptq\"", "smoothquant"}},
      {"quantize method type",
       [](json &d) { d["layers"][3]["quantize"]["method"] = 1; },
       {"layers[3].quantize.method", "a string"}},
      {"quantize bits",
       [](json &d) { d["layers"][3]["quantize"]["bits"] = 2; },
       {"layers[3].quantize.bits", "expected 3, 4 or 8", "number 2"}},
      {"quantize bits type",
       [](json &d) { d["layers"][3]["quantize"]["bits"] = "4"; },
       {"layers[3].quantize.bits", "an integer"}},
      {"quantize group divisibility",
       [](json &d) { d["layers"][3]["quantize"]["group_size"] = 96; },
       {"layers[3].quantize.group_size", "multiple of 32 that divides k = 256",
        "number 96"}},
      {"quantize group zero",
       [](json &d) { d["layers"][3]["quantize"]["group_size"] = 0; },
       {"layers[3].quantize.group_size", "-1 or k"}},
      {"quantize bits differ in group",
       [](json &d) {
         d["layers"][0]["quantize"] = {{"bits", 8}};
         d["layers"][1]["quantize"] = {{"bits", 3}};
       },
       {"layers[1]", "quantize.bits is 3 but layer 'gate'",
        "same input group 'g_in' has 8", "give each of them the same"}},
      {"quantize given on one layer of a group",
       [](json &d) {
         d["layers"][0]["quantize"] = {{"bits", 8}};
       },
       {"layers[1]", "quantize.bits is none but layer 'gate'", "has 8"}},
      {"quantize method differs in group",
       [](json &d) {
         d["layers"][0]["quantize"] = {{"method", "awq"}};
         d["layers"][1]["quantize"] = {{"method", "rtn"}};
       },
       {"layers[1]", "quantize.method is \"rtn\"", "has \"awq\""}},
      {"quantize group differs in group",
       [](json &d) {
         d["layers"][0]["quantize"] = {{"group_size", 64}};
         d["layers"][1]["quantize"] = {{"group_size", -1}};
       },
       {"layers[1]", "quantize.group_size is -1", "has 64"}},
      {"bias type",
       [](json &d) { d["layers"][3]["bias"] = 1; },
       {"layers[3].bias", "expected true or false"}},
      {"input_group missing",
       [](json &d) { d["layers"][3].erase("input_group"); },
       {"layers[3].input_group: missing required field"}},
      {"input_group unknown",
       [](json &d) { d["layers"][3]["input_group"] = "g_nope"; },
       {"layers[3].input_group", "unknown input group 'g_nope'"}},
      {"weights empty",
       [](json &d) { d["layers"][3]["weights"] = ""; },
       {"layers[3].weights", "non-empty string"}},
      {"layer field",
       [](json &d) { d["layers"][3]["groupsize"] = 128; },
       {"layers[3].groupsize: unknown field"}},
      {"k differs in group",
       [](json &d) { d["layers"][1]["k"] = 512; },
       {"layers[1].k", "512 differs from k = 256 of layer 'gate'",
        "input group 'g_in'"}},
      // Epilogues.
      {"epilogue type",
       [](json &d) { d["layers"][2]["epilogue"] = "add"; },
       {"layers[2].epilogue: expected an object"}},
      {"epilogue kind",
       [](json &d) { d["layers"][2]["epilogue"]["kind"] = "gelu"; },
       {"layers[2].epilogue.kind", "\"silu_mul\" or \"residual_add\""}},
      {"epilogue field",
       [](json &d) { d["layers"][2]["epilogue"]["alpha"] = 1; },
       {"layers[2].epilogue.alpha: unknown field"}},
      {"residual missing",
       [](json &d) { d["layers"][2]["epilogue"].erase("residual"); },
       {"layers[2].epilogue.residual: missing required field"}},
      {"residual with partner",
       [](json &d) { d["layers"][2]["epilogue"]["partner"] = "gate"; },
       {"layers[2].epilogue.partner",
        "not allowed for epilogue kind 'residual_add'"}},
      {"role missing",
       [](json &d) { d["layers"][0]["epilogue"].erase("role"); },
       {"layers[0].epilogue.role: missing required field"}},
      {"role value",
       [](json &d) { d["layers"][0]["epilogue"]["role"] = "down"; },
       {"layers[0].epilogue.role", "\"gate\" or \"up\""}},
      {"partner missing",
       [](json &d) { d["layers"][0]["epilogue"].erase("partner"); },
       {"layers[0].epilogue.partner: missing required field"}},
      {"partner unknown",
       [](json &d) { d["layers"][0]["epilogue"]["partner"] = "upp"; },
       {"layers[0].epilogue.partner", "unknown layer 'upp'"}},
      {"partner self",
       [](json &d) { d["layers"][0]["epilogue"]["partner"] = "gate"; },
       {"layers[0].epilogue.partner", "cannot be its own silu_mul partner"}},
      {"partner same role",
       [](json &d) { d["layers"][1]["epilogue"]["role"] = "gate"; },
       {"layers[0].epilogue.partner", "layer 'up' must have a silu_mul",
        "opposite role"}},
      {"partner not reciprocal",
       [](json &d) { d["layers"][1].erase("epilogue"); },
       {"layers[0].epilogue.partner", "layer 'up' must have a silu_mul"}},
      {"partner width",
       [](json &d) { d["layers"][1]["n"] = 256; },
       {"layers[0].epilogue.partner", "partner 'up' has n = 256",
        "equal widths"}},
      {"silu with residual",
       [](json &d) { d["layers"][0]["epilogue"]["residual"] = "s"; },
       {"layers[0].epilogue.residual",
        "not allowed for epilogue kind 'silu_mul'"}},
      // Graph.
      {"cycle",
       [](json &d) {
         // head reads the output of a linear in its own group: head.
         d["input_groups"][2]["producer"]["name"] = "head";
         d["layers"][3]["n"] = 256;
       },
       {"layers[3].input_group", "cycle", "head -> head"}},
  };
}

TEST(ModelDescription, EveryErrorNamesFilePathAndExpectation) {
  TempDir dir;
  const std::string path = dir.file("model.json");
  for (const BadCase &c : badCases()) {
    SCOPED_TRACE(c.label);
    json doc = baseDocument();
    c.edit(doc);
    writeBytes(path, doc.dump(2));
    std::string message =
        expectError([&] { parseModelDescription(path); }, {path + ": "});
    for (const std::string &fragment : c.fragments)
      EXPECT_NE(message.find(fragment), std::string::npos)
          << c.label << ": " << message;
  }
}

TEST(ModelDescription, RejectsSyntaxErrorsAndDuplicateKeys) {
  TempDir dir;
  const std::string path = dir.file("model.json");
  writeBytes(path, "{\"awqc_model_description\": 1,");
  expectError([&] { parseModelDescription(path); }, {path, "not valid JSON"});
  writeBytes(path,
             R"({"awqc_model_description": 1, "awqc_model_description": 1})");
  expectError([&] { parseModelDescription(path); },
              {path, "key 'awqc_model_description' appears more than once"});
  expectError([&] { parseModelDescription(dir.file("absent.json")); },
              {"absent.json", "cannot open"});
}

TEST(ModelDescription, LongerCycleIsNamed) {
  json doc = baseDocument();
  // g_in is now produced by head, which reads down, which reads gate/up.
  doc["input_groups"][0]["producer"] = {{"kind", "linear"}, {"name", "head"}};
  doc["layers"][3]["n"] = 256;
  std::string message =
      expectError([&] { parseModelDescriptionJson(doc, "mem"); },
                  {"mem: layers[", "cycle"});
  for (const char *name : {"gate", "down", "head"})
    EXPECT_NE(message.find(name), std::string::npos) << message;
}

TEST(ModelDescription, ResolvesAbsoluteCheckpointPaths) {
  ModelDescription d = parseModelDescriptionJson(baseDocument(), "mem");
  d.checkpoint.path = "/data/ckpt/";
  EXPECT_EQ(resolveCheckpointPath(d, "/x/y/model.json"), "/data/ckpt/");
  d.checkpoint.path = "../ckpt";
  EXPECT_EQ(resolveCheckpointPath(d, "/x/y/model.json"), "/x/ckpt");
}

} // namespace
} // namespace awq::test
