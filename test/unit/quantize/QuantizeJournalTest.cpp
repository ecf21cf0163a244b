//===- QuantizeJournalTest.cpp - The resumable state of awqc quantize
//------===//

#include "test/unit/quantize/QuantizeRunTestSupport.h"

#include "compiler/quantize/QuantizeJournal.h"
#include "runtime/support/Error.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

namespace awq {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::errorOf;
using test::TempDir;
using testing::HasSubstr;

const RunFingerprint kFingerprint = {{"--method", "awq"}, {"--bits", "4"}};

TEST(QuantizeJournal, StateDirectoryIsAHiddenSiblingOfTheOutput) {
  EXPECT_EQ(QuantizeJournal::directoryFor("models/out"),
            "models/.out.awqc-partial");
  EXPECT_EQ(QuantizeJournal::directoryFor("models/out/"),
            "models/.out.awqc-partial");
  EXPECT_EQ(QuantizeJournal::directoryFor("out"), ".out.awqc-partial");
}

TEST(QuantizeJournal, RecordsSurviveAndComeBackInOrder) {
  TempDir dir;
  const std::string state = dir / "state";
  {
    auto journal = QuantizeJournal::create(state, kFingerprint);
    EXPECT_TRUE(fs::is_directory(journal->checkpointDirectory()));
    journal->append({{"kind", "group"}, {"step", 0}});
    journal->append({{"kind", "group"}, {"step", 1}});
    EXPECT_EQ(journal->recordCount(), 2u);
  }
  auto journal = QuantizeJournal::open(state);
  EXPECT_EQ(journal->fingerprint(), kFingerprint);
  ASSERT_EQ(journal->records().size(), 2u);
  EXPECT_EQ(journal->records()[1]["step"], 1);
  // Creating over an existing state is refused.
  EXPECT_THAT(errorOf([&] { QuantizeJournal::create(state, kFingerprint); }),
              HasSubstr("cannot create the state directory"));
}

TEST(QuantizeJournal, ATornLastLineIsDroppedAndOverwritten) {
  TempDir dir;
  const std::string state = dir / "state";
  QuantizeJournal::create(state, kFingerprint)
      ->append({{"kind", "group"}, {"step", 0}});
  const fs::path path = fs::path(state) / "journal";
  const std::string intact = test::readText(path);
  // A crash in the middle of an append, then zeros a filesystem may add.
  std::ofstream(path, std::ios::binary | std::ios::app)
      << intact.substr(0, intact.size() / 2) << std::string(7, '\0');
  {
    auto journal = QuantizeJournal::open(state);
    EXPECT_EQ(journal->records().size(), 1u);
    journal->append({{"kind", "group"}, {"step", 1}});
  }
  auto journal = QuantizeJournal::open(state);
  ASSERT_EQ(journal->records().size(), 2u);
  EXPECT_EQ(journal->records()[1]["step"], 1);
}

TEST(QuantizeJournal, ADamagedLineBeforeTheLastIsAnError) {
  TempDir dir;
  const std::string state = dir / "state";
  {
    auto journal = QuantizeJournal::create(state, kFingerprint);
    journal->append({{"kind", "group"}, {"step", 0}});
    journal->append({{"kind", "group"}, {"step", 1}});
  }
  const fs::path path = fs::path(state) / "journal";
  std::string text = test::readText(path);
  text[text.find("\"step\":0") + 7] = '7'; // The checksum no longer matches.
  std::ofstream(path, std::ios::binary) << text;
  EXPECT_THAT(errorOf([&] { QuantizeJournal::open(state); }),
              HasSubstr("journal: line 1 is damaged"));
}

TEST(QuantizeJournal, AMissingFingerprintMeansAnIncompleteState) {
  TempDir dir;
  const std::string state = dir / "state";
  QuantizeJournal::create(state, kFingerprint);
  fs::remove(fs::path(state) / "fingerprint.json");
  EXPECT_THAT(errorOf([&] { QuantizeJournal::open(state); }),
              HasSubstr("fingerprint.json: missing or unreadable"));
}

TEST(QuantizeJournal, TheLockKeepsASecondRunOut) {
  TempDir dir;
  const std::string state = dir / "state";
  auto owner = QuantizeJournal::create(state, kFingerprint);
  EXPECT_THAT(errorOf([&] { QuantizeJournal::open(state); }),
              HasSubstr("another awqc quantize is writing this output now"));
  EXPECT_THAT(errorOf([&] { QuantizeJournal::discard(state); }),
              HasSubstr("another awqc quantize is writing"));
  EXPECT_TRUE(fs::exists(state));
  owner.reset();
  QuantizeJournal::discard(state);
  EXPECT_FALSE(fs::exists(state));
}

TEST(QuantizeJournal, FingerprintDifferencesNameEachField) {
  const RunFingerprint now = {{"--method", "rtn"}, {"--group", "64"}};
  EXPECT_THAT(fingerprintDifferences(kFingerprint, now),
              testing::ElementsAre("--method: was awq, now rtn",
                                   "--bits: was 4, now not read",
                                   "--group: not read before, now 64"));
  EXPECT_TRUE(fingerprintDifferences(kFingerprint, kFingerprint).empty());
}

TEST(QuantizeJournal, FileIdentityFollowsSizeTimeAndHead) {
  TempDir dir;
  const fs::path file = dir / "x.bin";
  std::ofstream(file) << "abc";
  const std::string first = fileIdentity(file);
  EXPECT_EQ(fileIdentity(file), first);
  const auto time = fs::last_write_time(file);
  std::ofstream(file) << "abd"; // Same size, other head.
  fs::last_write_time(file, time);
  EXPECT_NE(fileIdentity(file), first);
  EXPECT_THAT(errorOf([&] { fileIdentity(dir / "missing"); }),
              HasSubstr("missing: cannot read it"));
}

TEST(QuantizeJournal, FinishedGroupsRoundTripExactly) {
  FinishedGroup group;
  group.step = 3;
  group.report.name = "model.layers.0.attn_input";
  group.report.layers = {"q", "k"};
  group.report.settings = {3, 64, false};
  group.report.method = QuantizeMethod::AwqGptq;
  group.report.k = 256;
  group.report.tokens = 32;
  group.report.scaleSearched = true;
  group.report.ratio = 0.1 + 0.2; // Not a short decimal.
  group.report.ratioLosses = {std::numeric_limits<double>::infinity(), 1e-300,
                              -0.0};
  group.report.scaleScreenRows = 1024;
  group.report.finalistRatios = {0.35, 0.4};
  group.report.finalistLosses = {1.0 / 9.0, 2.0};
  group.report.gptqRatios = {0.25};
  group.report.gptqRatioLosses = {3.5};
  group.report.destination = ScaleDestination::LinearRows;
  group.report.target = "model.layers.0.self_attn.v_proj";
  group.report.scales = {1.0f / 3.0f, 7.5f, 1e-30f};
  group.report.seconds = 1.25;
  LayerQuantReport layer;
  layer.name = "q";
  layer.group = group.report.name;
  layer.n = 256;
  layer.k = 256;
  layer.bits = 3;
  layer.groupSize = 64;
  layer.method = QuantizeMethod::AwqGptq;
  layer.outputMeanSquare = 1.0 / 7.0;
  layer.rtnError = std::numeric_limits<double>::infinity();
  layer.awqError = std::nextafter(1.0, 2.0);
  layer.clip.searched = true;
  layer.clip.groups = 1024;
  layer.clip.clippedGroups = 512;
  layer.clip.meanShrink = 0.9;
  layer.rowsScaledBy = "model.layers.0.attn_output";
  group.layers = {layer};
  group.tensors = {"a.qweight", "a.scales"};
  group.sha256 = "00ff";

  const json text = json::parse(finishedGroupToJson(group).dump());
  const FinishedGroup back = finishedGroupFromJson(text, "journal: record 1");
  EXPECT_EQ(back.step, 3u);
  EXPECT_EQ(back.report.name, group.report.name);
  EXPECT_EQ(back.report.layers, group.report.layers);
  EXPECT_EQ(back.report.settings.bits, 3);
  EXPECT_EQ(back.report.settings.groupSize, 64);
  EXPECT_FALSE(back.report.settings.zeroPoint);
  EXPECT_EQ(back.report.method, QuantizeMethod::AwqGptq);
  EXPECT_EQ(back.report.ratio, group.report.ratio);
  EXPECT_EQ(back.report.ratioLosses, group.report.ratioLosses);
  EXPECT_TRUE(std::signbit(back.report.ratioLosses[2]));
  EXPECT_EQ(back.report.scaleScreenRows, 1024);
  EXPECT_EQ(back.report.finalistRatios, group.report.finalistRatios);
  EXPECT_EQ(back.report.finalistLosses, group.report.finalistLosses);
  EXPECT_EQ(back.report.gptqRatios, group.report.gptqRatios);
  EXPECT_EQ(back.report.gptqRatioLosses, group.report.gptqRatioLosses);
  EXPECT_EQ(back.report.destination, ScaleDestination::LinearRows);
  EXPECT_EQ(back.report.target, group.report.target);
  EXPECT_EQ(back.report.scales, group.report.scales);
  ASSERT_EQ(back.layers.size(), 1u);
  EXPECT_EQ(back.layers[0].outputMeanSquare, layer.outputMeanSquare);
  EXPECT_EQ(back.layers[0].rtnError, layer.rtnError);
  EXPECT_EQ(back.layers[0].awqError, layer.awqError);
  EXPECT_EQ(back.layers[0].clip.clippedGroups, 512);
  EXPECT_EQ(back.layers[0].clip.meanShrink, 0.9);
  EXPECT_EQ(back.layers[0].rowsScaledBy, layer.rowsScaledBy);
  EXPECT_EQ(back.tensors, group.tensors);
  EXPECT_EQ(back.sha256, "00ff");

  json broken = text;
  broken.erase("scales");
  EXPECT_THAT(
      errorOf([&] { finishedGroupFromJson(broken, "journal: record 1"); }),
      HasSubstr("journal: record 1: field 'scales': is missing"));
  broken = text;
  broken["method"] = "magic";
  EXPECT_THAT(
      errorOf([&] { finishedGroupFromJson(broken, "journal: record 1"); }),
      HasSubstr("field 'method': unknown method"));
}

TEST(QuantizeJournal, MeasuredWidthsRoundTripExactly) {
  const std::vector<std::pair<int, double>> errors = {
      {3, 0.1 + 0.2}, {4, 1.0 / 3.0}, {8, 0.0}};
  const auto back = measuredWidthsFromJson(
      json::parse(measuredWidthsToJson(5, errors).dump()), "record");
  EXPECT_EQ(back.first, 5u);
  EXPECT_EQ(back.second, errors);
}

} // namespace
} // namespace awq
