//===- CommandLineTest.cpp - Tests of the tools' argument parsing ---------===//

#include "compiler/frontend/CommandLine.h"
#include "compiler/frontend/AwqcOptions.h"

#include <gtest/gtest.h>

#include <sstream>

namespace awq {
namespace {

using namespace awqc_options;

/// `awqc quantize` with a MODEL positional, as the command declares it.
CommandSpec quantizeSpec() {
  return {"awqc test", "quantize", OPT_help, {"MODEL"}, {}};
}

std::string usageMessage(const std::vector<std::string> &args) {
  try {
    CommandArguments parsed(table(), quantizeSpec(), args);
  } catch (const UsageError &e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

TEST(CommandLine, ParsesOptionsFlagsAndPositionals) {
  CommandArguments args(
      table(), quantizeSpec(),
      {"-o", "out", "model", "--bits=3", "--group", "-1", "-q"});
  EXPECT_EQ(args.positionals(), std::vector<std::string>{"model"});
  EXPECT_EQ(args.value(OPT_output), "out");
  EXPECT_EQ(args.intValue(OPT_weight_bits, 1, 8), 3);
  // A value may start with '-' (group -1).
  EXPECT_EQ(args.intValue(OPT_group, -1, 1024), -1);
  EXPECT_TRUE(args.flag(OPT_quiet));
  EXPECT_FALSE(args.flag(OPT_symmetric));
  EXPECT_EQ(args.value(OPT_method), std::nullopt);
  EXPECT_EQ(args.intValue(OPT_method, 0, 1), std::nullopt);
  EXPECT_EQ(args.spelling(OPT_output), "--output");
}

TEST(CommandLine, DoubleDashEndsOptions) {
  CommandArguments args(table(), quantizeSpec(), {"--", "--weird-name"});
  EXPECT_EQ(args.positionals(), std::vector<std::string>{"--weird-name"});
}

TEST(CommandLine, ReportsMistakes) {
  EXPECT_PRED2(contains, usageMessage({"m", "--bitz", "4"}),
               "unknown option '--bitz'");
  EXPECT_PRED2(contains, usageMessage({"m", "--bits"}),
               "option '--bits' expects a value (3|4|8)");
  EXPECT_PRED2(contains, usageMessage({"m", "--bits", "4", "--bits=3"}),
               "option '--bits' given more than once");
  EXPECT_PRED2(contains, usageMessage({"m", "-o", "a", "--output", "b"}),
               "option '--output' given more than once");
  EXPECT_PRED2(contains, usageMessage({}),
               "missing argument MODEL (expected: MODEL)");
  EXPECT_PRED2(contains, usageMessage({"a", "b"}),
               "unexpected argument 'b' (expected: MODEL)");
  EXPECT_PRED2(contains, usageMessage({"m", "--quiet=1"}),
               "option '--quiet' takes no value");
  // An option of another subcommand is unknown here.
  EXPECT_PRED2(contains, usageMessage({"m", "--json"}),
               "unknown option '--json'");
  EXPECT_PRED2(contains, usageMessage({"m", "--target", "sm_90"}),
               "unknown option '--target'");
  EXPECT_PRED2(contains, usageMessage({"m", "--bitz"}),
               "Run 'awqc test --help'");
  EXPECT_EQ(usageMessage({"m", "--bits", "4"}), "")
      << "a valid command line must not fail";
}

TEST(CommandLine, ConvertsValuesWithChecks) {
  CommandArguments args(table(), quantizeSpec(),
                        {"m", "--bits", "4x", "--method", "gptq",
                         "--shard-size", "5GB", "--group",
                         "99999999999999999999"});
  EXPECT_THROW(args.intValue(OPT_weight_bits, 1, 8), UsageError);
  EXPECT_THROW(args.intValue(OPT_group, -1, 1 << 20), UsageError);
  try {
    args.choiceValue(OPT_method, {"awq", "rtn"});
    FAIL() << "expected a UsageError";
  } catch (const UsageError &e) {
    EXPECT_PRED2(contains, e.what(),
                 "option '--method' expects one of awq, rtn, got 'gptq'");
  }
  try {
    args.intValue(OPT_weight_bits, 1, 8);
  } catch (const UsageError &e) {
    EXPECT_PRED2(contains, e.what(),
                 "option '--bits' expects an integer in [1, 8], got '4x'");
  }
  EXPECT_EQ(args.byteSizeValue(OPT_shard_size), 5000000000ull);
}

TEST(CommandLine, ByteSizesAcceptUnits) {
  const std::pair<std::string, uint64_t> cases[] = {{"123", 123},
                                                    {"2KiB", 2048},
                                                    {"3MiB", 3ull << 20},
                                                    {"1GiB", 1ull << 30},
                                                    {"7KB", 7000},
                                                    {"500MB", 500000000ull},
                                                    {"9B", 9}};
  for (const auto &[text, bytes] : cases) {
    CommandArguments args(table(), quantizeSpec(), {"m", "--shard-size", text});
    EXPECT_EQ(args.byteSizeValue(OPT_shard_size), bytes) << text;
  }
  for (const char *bad : {"", "MB", "-5", "1.5GB", "12XB"}) {
    CommandArguments args(table(), quantizeSpec(), {"m", "--shard-size", bad});
    EXPECT_THROW(args.byteSizeValue(OPT_shard_size), UsageError) << bad;
  }
}

TEST(CommandLine, HelpStopsParsingAndListsOnlyTheSubcommandsOptions) {
  CommandArguments args(table(), quantizeSpec(), {"--help", "--not-an-option"});
  EXPECT_TRUE(args.helpRequested());
  std::ostringstream out;
  args.printHelp(out, "", "Does things.");
  const std::string help = out.str();
  EXPECT_PRED2(contains, help, "USAGE: awqc quantize MODEL [options]");
  EXPECT_PRED2(contains, help, "--output DIR");
  EXPECT_PRED2(contains, help, "-o DIR");
  EXPECT_PRED2(contains, help, "-h, --help");
  EXPECT_PRED2(contains, help, "Does things.");
  EXPECT_FALSE(contains(help, "--json")) << help;
  EXPECT_FALSE(contains(help, "--gemm-min-m")) << help;

  CommandArguments shortHelp(table(), quantizeSpec(), {"-h"});
  EXPECT_TRUE(shortHelp.helpRequested());
}

TEST(CommandLine, ParsingTwiceInOneProcessStartsFresh) {
  CommandArguments first(table(), quantizeSpec(), {"m", "--symmetric"});
  EXPECT_TRUE(first.flag(OPT_symmetric));
  CommandArguments second(table(), quantizeSpec(), {"m"});
  EXPECT_FALSE(second.flag(OPT_symmetric));
}

TEST(CommandLine, ParseIntegerIsStrict) {
  EXPECT_EQ(parseInteger("42", 0, 100), 42);
  EXPECT_EQ(parseInteger("-1", -1, 1), -1);
  EXPECT_EQ(parseInteger("+7", 0, 10), 7);
  EXPECT_EQ(parseInteger("101", 0, 100), std::nullopt);
  EXPECT_EQ(parseInteger(" 4", 0, 100), std::nullopt);
  EXPECT_EQ(parseInteger("4.0", 0, 100), std::nullopt);
  EXPECT_EQ(parseInteger("", 0, 100), std::nullopt);
  EXPECT_EQ(parseInteger("-", -10, 100), std::nullopt);
}

TEST(CommandLine, VersionNamesTheToolAndLlvm) {
  const std::string version = versionString("awqc");
  EXPECT_EQ(version.rfind("awqc ", 0), 0u) << version;
  EXPECT_PRED2(contains, version, "(LLVM ");
}

} // namespace
} // namespace awq
