//===- OutputStagingTest.cpp - Outputs never replace what they should not -===//

#include "compiler/frontend/OutputStaging.h"
#include "runtime/support/Error.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <sstream>

namespace awq {
namespace {

namespace fs = std::filesystem;

class OutputStagingTest : public testing::Test {
protected:
  void SetUp() override {
    static int counter = 0;
    root_ = fs::temp_directory_path() /
            ("awqc-staging-test-" + std::to_string(::getpid()) + "-" +
             std::to_string(++counter));
    fs::remove_all(root_);
    fs::create_directories(root_ / "work");
    cwd_ = fs::current_path();
    fs::current_path(root_ / "work");
  }
  void TearDown() override {
    fs::current_path(cwd_);
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  /// Rules of a made-up command whose outputs hold a file "stamp".
  OutputRules rules(bool force, std::vector<std::string> inputs = {}) {
    OutputRules r;
    r.command = "awqc test";
    r.force = force;
    r.inputs = std::move(inputs);
    r.isEarlierOutput = [](const fs::path &dir) {
      return fs::exists(dir / "stamp") || fileContains(dir, "stamp v1");
    };
    r.earlierOutput = "a directory holding stamp";
    return r;
  }

  static void write(const fs::path &path, const std::string &text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
  }
  static std::string read(const fs::path &path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  /// Builds an output with `stamp` = `text` at `destination`; returns the
  /// error message, empty on success.
  std::string build(const std::string &destination, const OutputRules &r,
                    const std::string &text = "new") {
    try {
      StagingDirectory staging(destination, r);
      write(fs::path(staging.path()) / "stamp", text);
      staging.commit();
    } catch (const Error &e) {
      return e.what();
    }
    return "";
  }

  /// Entries a staging directory left next to its destination.
  std::vector<std::string> leftovers(const fs::path &dir) const {
    std::vector<std::string> found;
    for (const auto &entry : fs::directory_iterator(dir))
      if (entry.path().filename().string().find(".awqc-") != std::string::npos)
        found.push_back(entry.path().filename().string());
    return found;
  }

  static bool contains(const std::string &text, const std::string &part) {
    return text.find(part) != std::string::npos;
  }

  fs::path root_, cwd_;
};

TEST_F(OutputStagingTest, CreatesANewDirectory) {
  EXPECT_EQ(build((root_ / "out").string(), rules(false)), "");
  EXPECT_EQ(read(root_ / "out/stamp"), "new");
  EXPECT_TRUE(leftovers(root_).empty());
}

TEST_F(OutputStagingTest, TrailingSlashNamesTheSameDirectory) {
  EXPECT_EQ(build((root_ / "out").string() + "/", rules(false)), "");
  EXPECT_EQ(read(root_ / "out/stamp"), "new");
  // Relative, with a trailing slash, in the current directory.
  EXPECT_EQ(build("rel/", rules(false)), "");
  EXPECT_EQ(read(root_ / "work/rel/stamp"), "new");
  EXPECT_TRUE(leftovers(root_).empty());
  EXPECT_TRUE(leftovers(root_ / "work").empty());
}

TEST_F(OutputStagingTest, AnExistingDirectoryNeedsForce) {
  write(root_ / "out/keep.txt", "precious");
  write(root_ / "out/stamp", "old");
  EXPECT_PRED2(contains, build((root_ / "out").string(), rules(false)),
               "exists and is not empty; pass --force to replace it");
  EXPECT_EQ(read(root_ / "out/keep.txt"), "precious");
  EXPECT_EQ(read(root_ / "out/stamp"), "old");
  EXPECT_TRUE(leftovers(root_).empty());
}

TEST_F(OutputStagingTest, ForceReplacesOnlyAnEarlierOutput) {
  write(root_ / "foreign/keep.txt", "precious");
  EXPECT_PRED2(contains, build((root_ / "foreign").string(), rules(true)),
               "is not an earlier output of awqc test (a directory holding "
               "stamp); refusing to replace it even with --force");
  EXPECT_EQ(read(root_ / "foreign/keep.txt"), "precious");

  ASSERT_EQ(build((root_ / "out").string(), rules(false), "first"), "");
  EXPECT_EQ(build((root_ / "out").string(), rules(true), "second"), "");
  EXPECT_EQ(read(root_ / "out/stamp"), "second");
  EXPECT_TRUE(leftovers(root_).empty());
}

TEST_F(OutputStagingTest, AnEmptyDirectoryIsReplacedWithoutForce) {
  fs::create_directories(root_ / "empty");
  EXPECT_EQ(build((root_ / "empty").string(), rules(false)), "");
  EXPECT_EQ(read(root_ / "empty/stamp"), "new");
}

TEST_F(OutputStagingTest, NeverTheCurrentDirectoryOrItsParents) {
  write(root_ / "work/stamp", "old");
  write(root_ / "work/file.txt", "precious");
  for (const std::string &name :
       {std::string("."), std::string("./"), std::string(".."),
        std::string("../"), (root_ / "work").string(), root_.string(),
        std::string("/"), std::string("../work")}) {
    SCOPED_TRACE(name);
    EXPECT_NE(build(name, rules(true)), "");
  }
  EXPECT_EQ(read(root_ / "work/stamp"), "old");
  EXPECT_EQ(read(root_ / "work/file.txt"), "precious");
  EXPECT_TRUE(leftovers(root_).empty());
  EXPECT_TRUE(leftovers(root_ / "work").empty());
}

TEST_F(OutputStagingTest, NeverAnInputOrADirectoryHoldingOne) {
  write(root_ / "ckpt/stamp", "input");
  write(root_ / "models/ckpt/stamp", "nested input");
  const std::string input = (root_ / "ckpt").string();
  EXPECT_PRED2(contains, build(input, rules(true, {input})),
               "is an input of awqc test");
  EXPECT_PRED2(contains, build(input + "/", rules(true, {input})),
               "is an input of awqc test");
  // The same directory under another spelling.
  EXPECT_PRED2(contains,
               build((root_ / "work/../ckpt").string(), rules(true, {input})),
               "is an input of awqc test");
  // A file inside the input directory names the directory as well.
  EXPECT_PRED2(contains, build(input, rules(true, {input + "/stamp"})),
               "contains an input of awqc test");
  EXPECT_PRED2(contains,
               build((root_ / "models").string(),
                     rules(true, {(root_ / "models/ckpt").string()})),
               "contains an input of awqc test");
  EXPECT_EQ(read(root_ / "ckpt/stamp"), "input");
  EXPECT_EQ(read(root_ / "models/ckpt/stamp"), "nested input");
}

TEST_F(OutputStagingTest, NothingIsLeftWhenNotCommitted) {
  {
    StagingDirectory staging((root_ / "out").string(), rules(false));
    write(fs::path(staging.path()) / "stamp", "half");
  }
  EXPECT_FALSE(fs::exists(root_ / "out"));
  EXPECT_TRUE(leftovers(root_).empty());
}

TEST_F(OutputStagingTest, AFileAppearingMeanwhileIsNotReplaced) {
  StagingDirectory staging((root_ / "out").string(), rules(false));
  write(fs::path(staging.path()) / "stamp", "new");
  write(root_ / "out/keep.txt", "precious");
  EXPECT_THROW(staging.commit(), Error);
  EXPECT_EQ(read(root_ / "out/keep.txt"), "precious");
}

TEST_F(OutputStagingTest, OutputFilesFollowTheSameRules) {
  const fs::path file = root_ / "report.json";
  writeOutputFile(file.string(), "stamp v1", rules(false));
  EXPECT_EQ(read(file), "stamp v1");
  try {
    writeOutputFile(file.string(), "stamp v1 again", rules(false));
    ADD_FAILURE() << "an existing file was replaced without --force";
  } catch (const Error &e) {
    EXPECT_PRED2(contains, e.what(), "pass --force");
  }
  writeOutputFile(file.string(), "stamp v1 again", rules(true));
  EXPECT_EQ(read(file), "stamp v1 again");

  write(root_ / "model.safetensors", "weights");
  EXPECT_THROW(
      writeOutputFile((root_ / "model.safetensors").string(), "x", rules(true)),
      Error);
  EXPECT_THROW(
      writeOutputFile((root_ / "model.safetensors").string(), "x",
                      rules(true, {(root_ / "model.safetensors").string()})),
      Error);
  EXPECT_EQ(read(root_ / "model.safetensors"), "weights");
  EXPECT_THROW(writeOutputFile(root_.string(), "x", rules(true)), Error);
  EXPECT_THROW(
      writeOutputFile((root_ / "missing/r.json").string(), "x", rules(false)),
      Error);
}

} // namespace
} // namespace awq
