//===- ArgParserTest.cpp - Tests of the subcommands' argument parser ------===//

#include "compiler/driver/ArgParser.h"

#include <gtest/gtest.h>

namespace awq {
namespace {

ArgParser makeParser() {
  ArgParser parser("awqc test");
  parser.addPositional("MODEL", "the model");
  parser.addOption({"--output", "-o"}, "DIR", "where");
  parser.addOption({"--bits"}, "N", "bits");
  parser.addOption({"--group"}, "G", "group");
  parser.addOption({"--method"}, "M", "method");
  parser.addOption({"--shard-size"}, "SIZE", "shard");
  parser.addFlag({"--quiet", "-q"}, "quiet");
  return parser;
}

std::string usageMessage(const std::vector<std::string> &args) {
  ArgParser parser = makeParser();
  try {
    parser.parse(args);
  } catch (const UsageError &e) {
    return e.what();
  }
  return "";
}

TEST(ArgParser, ParsesOptionsFlagsAndPositionals) {
  ArgParser parser = makeParser();
  parser.parse({"-o", "out", "model", "--bits=3", "--group", "-1", "-q"});
  EXPECT_EQ(parser.positionals(), std::vector<std::string>{"model"});
  EXPECT_EQ(parser.value("--output"), "out");
  EXPECT_EQ(parser.intValue("--bits", 1, 8), 3);
  // A value may start with '-' (group -1).
  EXPECT_EQ(parser.intValue("--group", -1, 1024), -1);
  EXPECT_TRUE(parser.flag("--quiet"));
  EXPECT_FALSE(parser.has("--method"));
  EXPECT_EQ(parser.intValue("--method", 0, 1), std::nullopt);
}

TEST(ArgParser, DoubleDashEndsOptions) {
  ArgParser parser = makeParser();
  parser.parse({"--", "--weird-name"});
  EXPECT_EQ(parser.positionals(), std::vector<std::string>{"--weird-name"});
}

TEST(ArgParser, ReportsMistakes) {
  EXPECT_NE(usageMessage({"m", "--bitz", "4"}).find("unknown option '--bitz'"),
            std::string::npos);
  EXPECT_NE(usageMessage({"m", "--bits"}).find("'--bits' expects a value"),
            std::string::npos);
  EXPECT_NE(usageMessage({"m", "--bits", "4", "--bits", "3"})
                .find("given more than once"),
            std::string::npos);
  EXPECT_NE(usageMessage({}).find("missing argument MODEL"), std::string::npos);
  EXPECT_NE(usageMessage({"a", "b"}).find("unexpected argument 'b'"),
            std::string::npos);
  EXPECT_NE(usageMessage({"m", "--quiet=1"}).find("takes no value"),
            std::string::npos);
  EXPECT_NE(usageMessage({"m", "--bitz"}).find("Run 'awqc test --help'"),
            std::string::npos);
  EXPECT_EQ(usageMessage({"m", "--bits", "4"}), "")
      << "a valid command line must not fail";
}

TEST(ArgParser, ConvertsValuesWithChecks) {
  ArgParser parser = makeParser();
  parser.parse({"m", "--bits", "4x", "--method", "gptq", "--shard-size", "5GB",
                "--group", "99999999999999999999"});
  EXPECT_THROW(parser.intValue("--bits", 1, 8), UsageError);
  EXPECT_THROW(parser.intValue("--group", -1, 1 << 20), UsageError);
  try {
    parser.choiceValue("--method", {"awq", "rtn"});
    FAIL() << "expected a UsageError";
  } catch (const UsageError &e) {
    EXPECT_NE(std::string(e.what()).find("one of awq, rtn, got 'gptq'"),
              std::string::npos);
  }
  EXPECT_EQ(parser.byteSizeValue("--shard-size"), 5000000000ull);
}

TEST(ArgParser, ByteSizesAcceptUnits) {
  const std::pair<std::string, uint64_t> cases[] = {{"123", 123},
                                                    {"2KiB", 2048},
                                                    {"3MiB", 3ull << 20},
                                                    {"1GiB", 1ull << 30},
                                                    {"7KB", 7000},
                                                    {"500MB", 500000000ull},
                                                    {"9B", 9}};
  for (const auto &[text, bytes] : cases) {
    ArgParser parser = makeParser();
    parser.parse({"m", "--shard-size", text});
    EXPECT_EQ(parser.byteSizeValue("--shard-size"), bytes) << text;
  }
  for (const char *bad : {"", "MB", "-5", "1.5GB", "12XB"}) {
    ArgParser parser = makeParser();
    parser.parse({"m", "--shard-size", bad});
    EXPECT_THROW(parser.byteSizeValue("--shard-size"), UsageError) << bad;
  }
}

TEST(ArgParser, HelpStopsParsingAndListsOptions) {
  ArgParser parser = makeParser();
  parser.parse({"--help", "--not-an-option"});
  EXPECT_TRUE(parser.helpRequested());
  const std::string usage = parser.usage("Does things.");
  EXPECT_NE(usage.find("Usage: awqc test MODEL [options]"), std::string::npos);
  EXPECT_NE(usage.find("--output, -o DIR"), std::string::npos);
  EXPECT_NE(usage.find("Does things."), std::string::npos);
}

TEST(ArgParser, ParseIntegerIsStrict) {
  EXPECT_EQ(parseInteger("42", 0, 100), 42);
  EXPECT_EQ(parseInteger("-1", -1, 1), -1);
  EXPECT_EQ(parseInteger("+7", 0, 10), 7);
  EXPECT_EQ(parseInteger("101", 0, 100), std::nullopt);
  EXPECT_EQ(parseInteger(" 4", 0, 100), std::nullopt);
  EXPECT_EQ(parseInteger("4.0", 0, 100), std::nullopt);
  EXPECT_EQ(parseInteger("", 0, 100), std::nullopt);
  EXPECT_EQ(parseInteger("-", -10, 100), std::nullopt);
}

} // namespace
} // namespace awq
