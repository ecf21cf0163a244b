//===- LayerReportJsonTest.cpp - A layer's record in the journal and report ===//
//
// The resume journal and --report write the same per-layer record: the
// journal's text must stay byte-identical (an interrupted run's journal is
// read by the resumed one) and the report keeps its field names for scripts.
//
//===----------------------------------------------------------------------===//

#include "compiler/quantize/QuantizeJournal.h"
#include "compiler/quantize/QuantizeReport.h"

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

TEST(LayerReportJson, JournalTextIsUnchanged) {
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

TEST(LayerReportJson, ReportKeepsItsFieldNames) {
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

} // namespace
} // namespace awq
