//===- JsonTest.cpp - The one JSON parser: duplicates, depth, size --------===//
#include "runtime/formats/Json.h"
#include "compiler/formats/ModelDescription.h"
#include "runtime/formats/SafeTensors.h"

#include "TestUtil.h"

#include <gtest/gtest.h>

#include <cstring>

namespace awq {
namespace {

using test::expectError;

std::string nested(int depth, const char *open, const char *close,
                   const std::string &inner = "1") {
  std::string text;
  for (int i = 0; i < depth; ++i)
    text += open;
  text += inner;
  for (int i = 0; i < depth; ++i)
    text += close;
  return text;
}

TEST(Json, RejectsDuplicateKeysAtEveryLevel) {
  expectError(
      [] { parseJsonRejectingDuplicateKeys(R"({"a": 1, "a": 2})", "f.json"); },
      {"f.json", "key 'a' appears more than once at the top level"});
  expectError(
      [] {
        parseJsonRejectingDuplicateKeys(R"({"x": {"b": 1, "c": 2, "b": 3}})",
                                        "f.json");
      },
      {"f.json", "key 'b' appears more than once in one object"});
  // The same key in sibling objects and after a nested object is fine.
  nlohmann::json ok = parseJsonRejectingDuplicateKeys(
      R"({"x": {"k": 1}, "y": {"k": 2}, "z": [{"k": 3}, {"k": 4}], "k": 5})",
      "f.json");
  EXPECT_EQ(ok["y"]["k"], 2);
  EXPECT_EQ(ok["z"][1]["k"], 4);
  EXPECT_EQ(ok["k"], 5);
}

TEST(Json, BoundsTheNestingDepth) {
  // kMaxJsonDepth levels parse; one more is refused, for objects and arrays.
  const std::string deepest = nested(kMaxJsonDepth, "[", "]");
  EXPECT_EQ(parseJsonRejectingDuplicateKeys(deepest, "f.json").dump(), deepest);
  expectError(
      [] {
        parseJsonRejectingDuplicateKeys(nested(kMaxJsonDepth + 1, "[", "]"),
                                        "f.json");
      },
      {"f.json", "nested more than 64 levels deep"});
  expectError(
      [] {
        parseJsonRejectingDuplicateKeys(
            nested(kMaxJsonDepth + 1, "{\"a\":", "}"), "f.json");
      },
      {"f.json", "nested more than 64 levels deep"});
  // A million levels: refused at level 65, no stack overflow.
  expectError(
      [] {
        parseJsonRejectingDuplicateKeys(nested(1000000, "[", "]"), "f.json");
      },
      {"nested more than 64 levels deep"});
}

TEST(Json, SyntaxErrorsNameTheSource) {
  expectError([] { parseJsonRejectingDuplicateKeys("{\"a\": ", "cfg.json"); },
              {"cfg.json is not valid JSON"});
}

TEST(Json, DeepInputFilesAreRefusedWithTheirName) {
  test::TempDir dir;
  // A model description nested far too deep.
  const std::string model = dir.file("model.json");
  test::writeBytes(model, "{\"awqc_model_description\": 1, \"name\": " +
                              nested(100000, "[", "]") + "}");
  expectError([&] { parseModelDescription(model); },
              {"model.json", "nested more than 64 levels deep"});
  // A safetensors header whose metadata nests too deep.
  const std::string header =
      "{\"__metadata__\": " + nested(100, "{\"a\":", "}", "\"x\"") + "}";
  std::string bytes(8, '\0');
  const uint64_t size = header.size();
  std::memcpy(bytes.data(), &size, 8);
  test::writeBytes(dir.file("deep.safetensors"), bytes + header);
  expectError([&] { SafeTensorsFile file(dir.file("deep.safetensors")); },
              {"deep.safetensors", "nested more than 64 levels deep"});
}

} // namespace
} // namespace awq
