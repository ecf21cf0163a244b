//===- QuantizeRecordJsonTest.cpp - Layer records in journal and report ---===//
//
// The resume journal and --report write the same per-layer record: the
// journal's text must stay byte-identical (an interrupted run's journal is
// read by the resumed one) and the report keeps its field names for scripts.
//
//===----------------------------------------------------------------------===//

#include "compiler/quantize/QuantizeRecordJson.h"
#include "compiler/quantize/QuantizeJournal.h"
#include "compiler/quantize/QuantizeReport.h"
#include "runtime/support/Error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace awq {
namespace {

using nlohmann::json;

LayerQuantReport sampleLayer() {
  LayerQuantReport layer;
  layer.name = "model.layers.0.self_attn.o_proj";
  layer.group = "model.layers.0.attn_output";
  layer.n = 256;
  layer.k = 128;
  layer.bits = 3;
  layer.groupSize = 64;
  layer.method = QuantizeMethod::AwqGptq;
  layer.outputMeanSquare = 0.5;
  layer.rtnError = std::numeric_limits<double>::infinity();
  layer.awqError = 0.125;
  layer.ratio = 0.35;
  layer.clip.searched = true;
  layer.clip.groups = 1024;
  layer.clip.clippedGroups = 512;
  layer.clip.meanShrink = 0.75;
  layer.clip.minShrink = std::numeric_limits<double>::quiet_NaN();
  layer.clip.lossBefore = 2.5;
  layer.clip.lossAfter = 1.5;
  layer.rowsScaledBy = "model.layers.0.mlp_input";
  return layer;
}

TEST(QuantizeRecordJson, JournalTextIsUnchanged) {
  FinishedGroup group;
  group.layers = {sampleLayer()};
  EXPECT_EQ(
      finishedGroupToJson(group)["layer_reports"][0].dump(),
      R"({"awq_error":"000000000000c03f","bits":3,"clip":{"clipped_groups":512,)"
      R"("groups":1024,"loss_after":"000000000000f83f","loss_before":)"
      R"("0000000000000440","mean_shrink":"000000000000e83f","min_shrink":)"
      R"("000000000000f87f","searched":true},"group":)"
      R"("model.layers.0.attn_output","group_size":64,"k":128,"method":)"
      R"("awq-gptq","n":256,"name":"model.layers.0.self_attn.o_proj",)"
      R"("output_mean_square":"000000000000e03f","ratio":"666666666666d63f",)"
      R"("rows_scaled_by":"model.layers.0.mlp_input","rtn_error":)"
      R"("000000000000f07f"})");
}

TEST(QuantizeRecordJson, ReportKeepsItsFieldNames) {
  ModelQuantizeResult result;
  result.layers = {sampleLayer(), sampleLayer()};
  result.layers[1].rowsScaledBy.clear(); // Left out when empty.
  const json layers = reportToJson(result)["layers"];
  EXPECT_EQ(
      layers[0].dump(),
      R"({"awq_error":0.125,"bits":3,"clip":{"clipped_groups":512,"groups":)"
      R"(1024,"loss_after":1.5,"loss_before":2.5,"mean_shrink":0.75,)"
      R"("min_shrink":null,"searched":true},"group":)"
      R"("model.layers.0.attn_output","group_size":64,"k":128,"method":)"
      R"("awq-gptq","n":256,"name":"model.layers.0.self_attn.o_proj",)"
      R"("output_mean_square":0.5,"ratio":0.35,"relative_awq_error":0.25,)"
      R"("relative_rtn_error":null,"rows_scaled_by":)"
      R"("model.layers.0.mlp_input","rtn_error":null})");
  EXPECT_FALSE(layers[1].contains("rows_scaled_by"));
}

TEST(QuantizeRecordJson, ExactLayerRecordsReadBackBitForBit) {
  const LayerQuantReport layer = sampleLayer();
  const json text =
      json::parse(layerReportToJson(layer, RecordStyle::Exact).dump());
  const LayerQuantReport back = layerReportFromJson(text, "record");
  EXPECT_EQ(back.name, layer.name);
  EXPECT_EQ(back.group, layer.group);
  EXPECT_EQ(back.n, layer.n);
  EXPECT_EQ(back.k, layer.k);
  EXPECT_EQ(back.bits, layer.bits);
  EXPECT_EQ(back.groupSize, layer.groupSize);
  EXPECT_EQ(back.method, layer.method);
  EXPECT_EQ(back.outputMeanSquare, layer.outputMeanSquare);
  EXPECT_EQ(back.rtnError, layer.rtnError);
  EXPECT_EQ(back.awqError, layer.awqError);
  EXPECT_EQ(back.ratio, layer.ratio);
  EXPECT_EQ(back.clip.searched, layer.clip.searched);
  EXPECT_EQ(back.clip.groups, layer.clip.groups);
  EXPECT_EQ(back.clip.clippedGroups, layer.clip.clippedGroups);
  EXPECT_EQ(back.clip.meanShrink, layer.clip.meanShrink);
  EXPECT_TRUE(std::isnan(back.clip.minShrink));
  EXPECT_EQ(back.clip.lossBefore, layer.clip.lossBefore);
  EXPECT_EQ(back.clip.lossAfter, layer.clip.lossAfter);
  EXPECT_EQ(back.rowsScaledBy, layer.rowsScaledBy);

  json broken = text;
  broken["clip"].erase("loss_after");
  try {
    layerReportFromJson(broken, "journal: layer 2");
    ADD_FAILURE() << "a record without clip.loss_after was read";
  } catch (const Error &e) {
    EXPECT_STREQ(e.what(),
                 "journal: layer 2: clip: field 'loss_after': is missing");
  }
}

} // namespace
} // namespace awq
