//===- QuantizeResumeTest.cpp - awqc quantize --resume, end to end
//---------===//
//
// A run interrupted after k input groups, then resumed, must write exactly
// the bytes an uninterrupted run writes, without quantizing (or measuring)
// the finished groups again; a resume with other inputs or options, or
// with nothing to resume, is refused and leaves the state alone.
//
//===----------------------------------------------------------------------===//

#include "test/unit/quantize/QuantizeRunTestSupport.h"

#include "compiler/quantize/QuantizeJournal.h"
#include "compiler/quantize/QuantizeModel.h"
#include "runtime/support/Error.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

namespace awq {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using testing::HasSubstr;

/// Every file of two directories is byte-identical (and no more files).
void expectSameFiles(const fs::path &expected, const fs::path &actual) {
  std::set<std::string> names, actualNames;
  for (const auto &entry : fs::directory_iterator(expected))
    names.insert(entry.path().filename().string());
  for (const auto &entry : fs::directory_iterator(actual))
    actualNames.insert(entry.path().filename().string());
  EXPECT_EQ(names, actualNames);
  for (const std::string &name : names)
    EXPECT_TRUE(test::readText(expected / name) ==
                test::readText(actual / name))
        << name << " differs";
}

struct ResumeCase {
  const char *name;
  QuantizeMethod method;
  double targetBits; ///< 0: none.
  uint64_t shardBytes;
  size_t interruptAfter; ///< Finished groups when interrupted.
};

void PrintTo(const ResumeCase &c, std::ostream *os) { *os << c.name; }

class QuantizeResumeTest : public testing::TestWithParam<ResumeCase> {
protected:
  void SetUp() override {
    test::synthesize(dir_ / "fp16", test::testSeed(),
                     {"--tokens", "32", "--layers", "2"});
  }
  ModelQuantizeOptions options(const std::string &output) const {
    const ResumeCase &c = GetParam();
    ModelQuantizeOptions o = test::syntheticModelOptions(dir_, output);
    o.method = c.method;
    if (c.targetBits > 0)
      o.targetBits = c.targetBits;
    o.maxShardBytes = c.shardBytes;
    return o;
  }
  TempDir dir_;
};

TEST_P(QuantizeResumeTest, GivesTheSameBytesWithoutRedoingFinishedGroups) {
  const ResumeCase &c = GetParam();
  const ModelQuantizeResult full = quantizeModel(options("full"));
  const size_t groups = full.groups.size();
  ASSERT_GT(groups, c.interruptAfter);

  test::interruptAfterGroups(options("part"), c.interruptAfter);
  EXPECT_FALSE(fs::exists(dir_ / "part"));
  const std::string state = QuantizeJournal::directoryFor(dir_ / "part");
  ASSERT_TRUE(fs::is_directory(state));

  // Count what the resumed run computes: only the unfinished groups, and no
  // width measurement at all (every one was journaled).
  ModelQuantizeOptions second = options("part");
  second.resume = true;
  std::set<std::string> quantized;
  size_t measured = 0, resumedReported = 0;
  second.onProgress = [&](const ModelProgress &p) {
    if (p.phase == ModelProgress::Phase::Quantizing ||
        p.phase == ModelProgress::Phase::GroupDone)
      quantized.insert(p.groupName);
    if (p.phase == ModelProgress::Phase::Measuring)
      ++measured;
    if (p.phase == ModelProgress::Phase::Planned)
      resumedReported = p.resumedGroups;
  };
  const ModelQuantizeResult resumed = quantizeModel(second);
  EXPECT_EQ(resumed.resumedGroups, c.interruptAfter);
  EXPECT_EQ(resumedReported, c.interruptAfter);
  EXPECT_EQ(quantized.size(), groups - c.interruptAfter);
  EXPECT_EQ(measured, 0u);

  expectSameFiles(dir_ / "full", dir_ / "part");
  EXPECT_FALSE(fs::exists(state));
  EXPECT_TRUE(dir_.leftovers().empty());

  // The report is whole: the finished groups' figures come from the journal.
  ASSERT_EQ(resumed.layers.size(), full.layers.size());
  for (size_t i = 0; i < full.layers.size(); ++i) {
    EXPECT_EQ(resumed.layers[i].name, full.layers[i].name);
    EXPECT_EQ(resumed.layers[i].awqError, full.layers[i].awqError);
    EXPECT_EQ(resumed.layers[i].rtnError, full.layers[i].rtnError);
    EXPECT_EQ(resumed.layers[i].rowsScaledBy, full.layers[i].rowsScaledBy);
    EXPECT_EQ(resumed.layers[i].bits, full.layers[i].bits);
  }
  for (size_t g = 0; g < groups; ++g) {
    EXPECT_EQ(resumed.groups[g].name, full.groups[g].name);
    EXPECT_EQ(resumed.groups[g].scales, full.groups[g].scales);
    EXPECT_EQ(resumed.groups[g].ratio, full.groups[g].ratio);
    EXPECT_EQ(resumed.groups[g].finalistRatios, full.groups[g].finalistRatios);
    EXPECT_EQ(resumed.groups[g].widthErrors, full.groups[g].widthErrors);
  }
  EXPECT_EQ(resumed.mixed, full.mixed);
}

INSTANTIATE_TEST_SUITE_P(
    Methods, QuantizeResumeTest,
    testing::Values(ResumeCase{"awq", QuantizeMethod::Awq, 0, 0, 3},
                    ResumeCase{"rtn", QuantizeMethod::Rtn, 0, 0, 1},
                    ResumeCase{"gptq", QuantizeMethod::Gptq, 0, 0, 5},
                    ResumeCase{"awq_gptq", QuantizeMethod::AwqGptq, 0, 0, 4},
                    ResumeCase{"target_bits", QuantizeMethod::Awq, 3.5, 0, 2},
                    ResumeCase{"sharded", QuantizeMethod::Awq, 0, 300000, 6}),
    [](const testing::TestParamInfo<ResumeCase> &info) {
      return std::string(info.param.name);
    });

class QuantizeResume : public testing::Test {
protected:
  void SetUp() override {
    test::synthesize(dir_ / "fp16", test::testSeed(),
                     {"--tokens", "32", "--layers", "1"});
  }
  ModelQuantizeOptions options() const {
    return test::syntheticModelOptions(dir_, "awq");
  }
  void interrupt(const ModelQuantizeOptions &o, size_t finished = 2) {
    test::interruptAfterGroups(o, finished);
    ASSERT_TRUE(fs::is_directory(state()));
  }
  std::string state() const {
    return QuantizeJournal::directoryFor(dir_ / "awq");
  }
  std::string errorOf(const ModelQuantizeOptions &o) const {
    return test::errorOf([&] { quantizeModel(o); });
  }
  TempDir dir_;
};

TEST_F(QuantizeResume, NothingToResumeIsRefused) {
  ModelQuantizeOptions o = options();
  o.resume = true;
  EXPECT_THAT(errorOf(o), HasSubstr("awq: nothing to resume: no interrupted "
                                    "awqc quantize left its state in"));
  EXPECT_FALSE(fs::exists(dir_ / "awq"));
  EXPECT_TRUE(dir_.leftovers().empty());
}

TEST_F(QuantizeResume, OtherOptionsOrInputsAreRefusedNamingWhatDiffers) {
  interrupt(options());
  const std::string journal = test::readText(fs::path(state()) / "journal");

  ModelQuantizeOptions o = options();
  o.resume = true;
  o.method = QuantizeMethod::Rtn;
  EXPECT_THAT(errorOf(o), HasSubstr("cannot resume: the interrupted run"));
  EXPECT_THAT(errorOf(o), HasSubstr("--method: was awq, now rtn"));
  o = options();
  o.resume = true;
  o.settings.groupSize = 64;
  EXPECT_THAT(errorOf(o), HasSubstr("--group: was model's, now 64"));
  o = options();
  o.resume = true;
  o.maxShardBytes = 1 << 20;
  EXPECT_THAT(errorOf(o), HasSubstr("--shard-size: was 0, now 1048576"));
  o = options();
  o.resume = true;
  o.foldOnly = true;
  EXPECT_THAT(errorOf(o), HasSubstr("--fold-only: was no, now yes"));
  o = options();
  o.resume = true;
  o.scaleScreenRows = 0;
  EXPECT_THAT(errorOf(o), HasSubstr("--scale-screen-rows: was 1024, now 0"));
  o = options();
  o.resume = true;
  o.clipSearch = ClipSearchKind::Exhaustive;
  EXPECT_THAT(errorOf(o),
              HasSubstr("--clip-search: was asymmetric, now exhaustive"));

  // An input rewritten since (here only its time) is another input.
  const fs::path calibration = dir_ / "fp16/calibration.safetensors";
  const auto time = fs::last_write_time(calibration);
  fs::last_write_time(calibration, time + std::chrono::seconds(5));
  o = options();
  o.resume = true;
  EXPECT_THAT(
      errorOf(o),
      HasSubstr("file " + fs::absolute(calibration).string() + ": was size"));
  fs::last_write_time(calibration, time);

  // Every refusal left the state as it was; the plain run refuses too.
  EXPECT_EQ(test::readText(fs::path(state()) / "journal"), journal);
  EXPECT_THAT(errorOf(options()),
              HasSubstr("an interrupted awqc quantize left its state in"));
  EXPECT_THAT(errorOf(options()),
              HasSubstr("(2 of 4 input groups finished); pass --resume to "
                        "continue it, or --force to discard it"));
  EXPECT_FALSE(fs::exists(dir_ / "awq"));

  o = options();
  o.resume = true;
  EXPECT_EQ(quantizeModel(o).resumedGroups, 2u);
  EXPECT_TRUE(fs::exists(dir_ / "awq/model.json"));
  EXPECT_TRUE(dir_.leftovers().empty());
}

TEST_F(QuantizeResume, ForceDiscardsTheStateAndStartsOver) {
  interrupt(options());
  ModelQuantizeOptions o = options();
  o.overwrite = true;
  size_t quantized = 0;
  o.onProgress = [&](const ModelProgress &p) {
    quantized += p.phase == ModelProgress::Phase::GroupDone ? 1 : 0;
  };
  const ModelQuantizeResult result = quantizeModel(o);
  EXPECT_EQ(result.resumedGroups, 0u);
  EXPECT_EQ(quantized, result.groups.size());
  EXPECT_TRUE(dir_.leftovers().empty());
}

TEST_F(QuantizeResume, AnotherLiveRunsStateIsNeverTouched) {
  interrupt(options());
  // Held by "another run" (flock is per open file, so this works in one
  // process).
  std::unique_ptr<QuantizeJournal> holder = QuantizeJournal::open(state());
  ModelQuantizeOptions o = options();
  o.overwrite = true;
  EXPECT_THAT(errorOf(o), HasSubstr("another awqc quantize is writing this "
                                    "output now"));
  o.overwrite = false;
  o.resume = true;
  EXPECT_THAT(errorOf(o), HasSubstr("another awqc quantize is writing"));
  EXPECT_TRUE(fs::exists(fs::path(state()) / "journal"));
}

TEST_F(QuantizeResume, DamagedPartialShardIsReportedAndKept) {
  interrupt(options());
  // Zero the data of the partial shard (keep its header): the finished
  // groups' tensors no longer match the journal.
  const fs::path shard =
      fs::path(state()) / "checkpoint/model.safetensors.partial";
  std::string bytes = test::readText(shard);
  ASSERT_GT(bytes.size(), 8u);
  uint64_t header = 0;
  for (int i = 0; i < 8; ++i)
    header |= uint64_t(uint8_t(bytes[i])) << (8 * i);
  std::fill(bytes.begin() + 8 + header, bytes.end(), '\0');
  std::ofstream(shard, std::ios::binary) << bytes;

  ModelQuantizeOptions o = options();
  o.resume = true;
  EXPECT_THAT(errorOf(o), HasSubstr("differ from what was journaled; the "
                                    "state is damaged"));
  EXPECT_TRUE(fs::exists(shard));
  EXPECT_FALSE(fs::exists(dir_ / "awq"));
}

TEST_F(QuantizeResume, ACrashDuringCommitIsRedone) {
  // Killed after the shards were renamed into place in the state directory
  // (commit() had started): the resume renames them back and commits again.
  interrupt(options(), 4);
  const fs::path checkpoint = fs::path(state()) / "checkpoint";
  fs::rename(checkpoint / "model.safetensors.partial",
             checkpoint / "model.safetensors");
  std::ofstream(checkpoint / "config.json") << "{}";
  ModelQuantizeOptions o = options();
  o.resume = true;
  EXPECT_EQ(quantizeModel(o).resumedGroups, 4u);
  o = options();
  o.output = dir_ / "again";
  quantizeModel(o);
  expectSameFiles(dir_ / "again", dir_ / "awq");
}

TEST_F(QuantizeResume, TargetBitsMeasurementsAreKeptToo) {
  // Interrupted while measuring the widths: the measured groups are not
  // measured again, and the allocation comes out the same.
  ModelQuantizeOptions o = options();
  o.targetBits = 3.5;
  o.output = dir_ / "full";
  size_t measured = 0;
  o.onProgress = [&](const ModelProgress &p) {
    measured += p.phase == ModelProgress::Phase::Measuring ? 1 : 0;
  };
  quantizeModel(o);
  const size_t free = measured;
  ASSERT_GT(free, 3u);

  std::atomic<bool> cancel{false};
  o.output = dir_ / "awq";
  o.cancel = &cancel;
  measured = 0;
  o.onProgress = [&](const ModelProgress &p) {
    // Three groups are measured and journaled; the fourth's measurement
    // sees the flag and stops.
    if (p.phase == ModelProgress::Phase::Measuring && ++measured == 4)
      cancel = true;
  };
  EXPECT_THROW(quantizeModel(o), Cancelled);
  ASSERT_TRUE(fs::is_directory(state()));

  cancel = false;
  o.resume = true;
  measured = 0;
  o.onProgress = [&](const ModelProgress &p) {
    measured += p.phase == ModelProgress::Phase::Measuring ? 1 : 0;
  };
  EXPECT_EQ(quantizeModel(o).resumedGroups, 0u);
  EXPECT_EQ(measured, free - 3);
  expectSameFiles(dir_ / "full", dir_ / "awq");
  EXPECT_TRUE(dir_.leftovers().empty());
}

} // namespace
} // namespace awq
