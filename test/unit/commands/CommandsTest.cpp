//===- CommandsTest.cpp - Tests of the awqc quantize/inspect commands -----===//

#include "test/unit/commands/CommandsTestSupport.h"

#include "compiler/formats/JsonFields.h"

#include <csignal>
#include <filesystem>
#include <streambuf>

namespace awq {
namespace {

namespace fs = std::filesystem;
using test::CommandRun;
using test::TempDir;

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

class QuantizeCommandTest : public testing::Test {
protected:
  void SetUp() override {
    seed_ = test::testSeed();
    test::synthesize(dir_ / "fp16", seed_,
                     {"--tokens", "64", "--kv-heads", "2"});
  }

  CommandRun quantize(std::vector<std::string> extra) {
    std::vector<std::string> args = {dir_ / "fp16",
                                     "--calibration",
                                     dir_ / "fp16/calibration.safetensors",
                                     "-o",
                                     dir_ / "awq",
                                     "--threads",
                                     "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return test::runCommand(&runQuantizeCommand, args);
  }

  TempDir dir_;
  uint64_t seed_ = 0;
};

TEST_F(QuantizeCommandTest, PrintsTheReportAndWritesItAsJson) {
  SCOPED_TRACE(test::seedMessage(seed_));
  const CommandRun run =
      quantize({"--bits", "3", "--group", "64", "--report", dir_ / "r.json"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_PRED2(contains, run.out,
               "awqc quantize: 3-bit, group 64, zero point, awq (duo scales, "
               "asymmetric clip)\n");
  EXPECT_PRED2(contains, run.out, "summary: 14 layers; AWQ < RTN on 14/14");
  EXPECT_PRED2(contains, run.out, "wrote " + dir_ / "awq");
  // Not a terminal: plain lines, one per group, no carriage returns.
  EXPECT_PRED2(contains, run.err, "awqc quantize: [1/8] ");
  EXPECT_PRED2(contains, run.err, "awqc quantize: [8/8] ");
  EXPECT_PRED2(contains, run.err, "writing the checkpoint");
  EXPECT_EQ(run.err.find('\r'), std::string::npos);
  // GQA: o_proj keeps an explicit activation scale, and the user is told.
  EXPECT_PRED2(contains, run.err, "note: 2 input group(s) keep an explicit");

  const nlohmann::json report = readJsonFile(dir_ / "r.json");
  EXPECT_EQ(report["awqc_quantize_report"], 1);
  EXPECT_EQ(report["settings"]["bits"], 3);
  EXPECT_EQ(report["settings"]["group_size"], 64);
  EXPECT_EQ(report["settings"]["method"], "awq");
  EXPECT_EQ(report["settings"]["scale_formula"], "duo");
  EXPECT_EQ(report["settings"]["clip_search"], "asymmetric");
  ASSERT_EQ(report["layers"].size(), 14u);
  ASSERT_EQ(report["groups"].size(), 8u);
  for (const nlohmann::json &layer : report["layers"]) {
    SCOPED_TRACE(layer["name"].get<std::string>());
    const std::string name = layer["name"];
    // Every layer appears in the table with its K x N.
    EXPECT_PRED2(contains, run.out, name + " ");
    EXPECT_PRED2(contains, run.out,
                 std::to_string(layer["k"].get<int>()) + "x" +
                     std::to_string(layer["n"].get<int>()));
    EXPECT_LT(layer["awq_error"].get<double>(),
              layer["rtn_error"].get<double>());
    EXPECT_NEAR(layer["relative_awq_error"].get<double>(),
                layer["awq_error"].get<double>() /
                    layer["output_mean_square"].get<double>(),
                1e-12);
    const bool qk = contains(name, "q_proj") || contains(name, "k_proj");
    EXPECT_EQ(layer["clip"]["searched"], !qk);
  }
  EXPECT_EQ(report["summary"]["awq_below_rtn"], 14);
  const std::map<std::string, std::string> destinations = {
      {"model.layers.0.attn_input", "norm"},
      {"model.layers.0.attn_output", "activation_scale"},
      {"model.layers.0.mlp_input", "norm"},
      {"model.layers.0.mlp_hidden", "linear_rows"}};
  for (const nlohmann::json &group : report["groups"]) {
    auto it = destinations.find(group["name"]);
    if (it != destinations.end()) {
      EXPECT_EQ(group["scale_destination"], it->second) << it->first;
    }
    EXPECT_EQ(group["ratio_losses"].size(), 20u);
    EXPECT_EQ(group["tokens"], 64);
  }
  EXPECT_EQ(report["files"],
            nlohmann::json({"model.safetensors", "config.json", "model.json"}));
}

TEST_F(QuantizeCommandTest, OptionsReachTheQuantizer) {
  SCOPED_TRACE(test::seedMessage(seed_));
  CommandRun run =
      quantize({"--method", "rtn", "--symmetric", "--bits", "8", "--group",
                "-1", "--report", dir_ / "r.json", "--quiet"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "");
  nlohmann::json report = readJsonFile(dir_ / "r.json");
  EXPECT_EQ(report["settings"]["method"], "rtn");
  EXPECT_EQ(report["settings"]["zero_point"], false);
  EXPECT_EQ(report["settings"]["group_size"], -1);
  for (const nlohmann::json &group : report["groups"])
    EXPECT_EQ(group["scale_destination"], "none");
  nlohmann::json config = readJsonFile(dir_ / "awq/config.json");
  EXPECT_EQ(config["quantization_config"]["bits"], 8);
  EXPECT_EQ(config["quantization_config"]["group_size"], -1);
  EXPECT_EQ(config["quantization_config"]["zero_point"], false);
  EXPECT_EQ(config["quantization_config"]["version"], "awqc-gemm");

  run = quantize({"--force", "--scale-formula", "activation", "--no-clip",
                  "--fold-only", "--report", dir_ / "r.json", "-q"});
  ASSERT_EQ(run.code, 0) << run.err;
  report = readJsonFile(dir_ / "r.json");
  EXPECT_EQ(report["settings"]["scale_formula"], "activation");
  EXPECT_EQ(report["settings"]["clip"], false);
  EXPECT_EQ(report["settings"]["fold_only"], true);
  for (const nlohmann::json &layer : report["layers"])
    EXPECT_EQ(layer["clip"]["searched"], false);
  for (const nlohmann::json &group : report["groups"]) {
    // With GQA the attention output has nowhere to fold 1/s.
    const bool attentionOutput = contains(group["name"], "attn_output");
    EXPECT_EQ(group["scale_searched"], !attentionOutput) << group["name"];
    EXPECT_EQ(group["scale_destination"] == "activation_scale", false);
  }
  EXPECT_TRUE(dir_.leftovers().empty());
}

TEST_F(QuantizeCommandTest, UsageAndInputErrors) {
  CommandRun run = quantize({"--bits", "5"});
  EXPECT_EQ(run.code, 2);
  EXPECT_PRED2(contains, run.err,
               "awqc quantize: error: option '--bits' expects one of 3, 4, "
               "8, got '5'");
  run = quantize({"--bitz", "4"});
  EXPECT_EQ(run.code, 2);
  EXPECT_PRED2(contains, run.err, "unknown option '--bitz'");
  run = quantize({"--group", "0"});
  EXPECT_EQ(run.code, 2);
  run = quantize({"--threads", "0"});
  EXPECT_EQ(run.code, 2);
  run = quantize({"--shard-size", "lots"});
  EXPECT_EQ(run.code, 2);
  run = test::runCommand(&runQuantizeCommand, {dir_ / "fp16", "-o", "x"});
  EXPECT_EQ(run.code, 2);
  EXPECT_PRED2(contains, run.err, "missing required option --calibration");
  run = test::runCommand(&runQuantizeCommand, {"--help"});
  EXPECT_EQ(run.code, 0);
  EXPECT_PRED2(contains, run.out, "USAGE: awqc quantize MODEL [options]");
  EXPECT_PRED2(contains, run.out, "--fold-only");

  run = quantize({"--report", dir_ / "missing/r.json"});
  EXPECT_EQ(run.code, 1);
  EXPECT_PRED2(contains, run.err,
               dir_ / "missing/r.json" + ": the parent directory");
  test::writeText(dir_ / "bad.safetensors", std::string(64, '\xff'));
  run = test::runCommand(&runQuantizeCommand,
                         {dir_ / "fp16", "--calibration",
                          dir_ / "bad.safetensors", "-o", dir_ / "awq"});
  EXPECT_EQ(run.code, 1);
  EXPECT_PRED2(contains, run.err,
               "awqc quantize: error: " + dir_ / "bad.safetensors");
  EXPECT_FALSE(fs::exists(dir_ / "awq"));
  EXPECT_TRUE(dir_.leftovers().empty());
}

/// A stream buffer that raises a signal the first time anything is written
/// (or once `trigger` was written): the quantizer's progress lines then play
/// the user's Ctrl-C.
class SignalOnWrite : public std::streambuf {
public:
  explicit SignalOnWrite(int signo, std::string trigger = "")
      : signo_(signo), trigger_(std::move(trigger)) {}
  std::string text;

protected:
  int overflow(int c) override {
    if (c != EOF)
      text.push_back(static_cast<char>(c));
    fire();
    return c;
  }
  std::streamsize xsputn(const char *s, std::streamsize n) override {
    text.append(s, static_cast<size_t>(n));
    fire();
    return n;
  }

private:
  void fire() {
    if (!fired_ &&
        (trigger_.empty() || text.find(trigger_) != std::string::npos)) {
      fired_ = true;
      std::raise(signo_);
    }
  }
  int signo_;
  std::string trigger_;
  bool fired_ = false;
};

class InterruptTest : public QuantizeCommandTest,
                      public testing::WithParamInterface<int> {};

TEST_P(InterruptTest, ASignalLeavesNoCheckpoint) {
  const int signo = GetParam();
  SignalOnWrite buffer(signo);
  std::ostream err(&buffer);
  std::ostringstream out;
  struct sigaction before = {};
  sigaction(signo, nullptr, &before);
  const int code = runQuantizeCommand({dir_ / "fp16", "--calibration",
                                       dir_ / "fp16/calibration.safetensors",
                                       "-o", dir_ / "awq", "--threads", "1"},
                                      out, err);
  EXPECT_EQ(code, 128 + signo);
  EXPECT_PRED2(contains, buffer.text,
               "interrupted; no checkpoint was written to " + dir_ / "awq");
  // It stopped after the first group, long before the eighth.
  EXPECT_FALSE(contains(buffer.text, "[8/8]"));
  EXPECT_EQ(out.str(), "");
  EXPECT_FALSE(fs::exists(dir_ / "awq"));
  EXPECT_TRUE(dir_.leftovers().empty());
  // The previous handler is back.
  struct sigaction after = {};
  sigaction(signo, nullptr, &after);
  EXPECT_EQ(after.sa_handler, before.sa_handler);
}

TEST_P(InterruptTest, ASignalAfterFinishedGroupsKeepsThemForResume) {
  const int signo = GetParam();
  SignalOnWrite buffer(signo, "[2/8]");
  std::ostream err(&buffer);
  std::ostringstream out;
  const std::vector<std::string> args = {dir_ / "fp16",
                                         "--calibration",
                                         dir_ / "fp16/calibration.safetensors",
                                         "-o",
                                         dir_ / "awq",
                                         "--threads",
                                         "1"};
  EXPECT_EQ(runQuantizeCommand(args, out, err), 128 + signo);
  EXPECT_PRED2(contains, buffer.text,
               "interrupted; no checkpoint was written to " + dir_ / "awq" +
                   "; the finished input groups are kept in " +
                   dir_ / ".awq.awqc-partial" +
                   ": rerun with --resume to continue\n");
  EXPECT_FALSE(fs::exists(dir_ / "awq"));
  EXPECT_EQ(dir_.leftovers(), std::vector<std::string>{".awq.awqc-partial"});

  std::vector<std::string> resume = args;
  resume.push_back("--resume");
  const test::CommandRun run = test::runCommand(&runQuantizeCommand, resume);
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_PRED2(contains, run.err,
               "awqc quantize: resuming: 2 of 8 input groups were finished "
               "by the interrupted run\n");
  EXPECT_FALSE(contains(run.err, "[2/8]"));
  EXPECT_PRED2(contains, run.err, "[3/8]");
  EXPECT_TRUE(fs::exists(dir_ / "awq/model.json"));
  EXPECT_TRUE(dir_.leftovers().empty());
}

INSTANTIATE_TEST_SUITE_P(Signals, InterruptTest,
                         testing::Values(SIGINT, SIGTERM));

} // namespace
} // namespace awq
