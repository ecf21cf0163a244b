//===- SafeTensorsReaderTest.cpp - Reader checks on valid and broken files ===//

#include "TestUtil.h"

#include "runtime/formats/SafeTensors.h"
#include "runtime/formats/SafeTensorsWriter.h"

#include <gtest/gtest.h>

#include <cstring>

namespace awq::test {
namespace {

/// Writes a hand-made file and returns its path.
std::string craft(const TempDir &dir, const std::string &header,
                  const std::string &data,
                  std::optional<uint64_t> lengthOverride = {}) {
  const std::string path = dir.file("model.safetensors");
  writeBytes(path, rawSafeTensors(header, data, lengthOverride));
  return path;
}

/// Opening `header` + `data` must fail with every fragment in the message,
/// and the message must name the file.
void expectBad(const std::string &header, const std::string &data,
               std::initializer_list<std::string> fragments,
               std::optional<uint64_t> lengthOverride = {}) {
  TempDir dir;
  const std::string path = craft(dir, header, data, lengthOverride);
  std::string message =
      expectError([&] { SafeTensorsFile file(path); }, fragments);
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

TEST(SafeTensorsReader, ReadsTensorsMetadataAndBytes) {
  TempDir dir;
  // Random contents, so a view pointing at the wrong bytes cannot pass.
  std::vector<uint16_t> a = randomHalves(6);
  std::vector<int32_t> b(3);
  for (int32_t &v : b)
    v = static_cast<int32_t>(rng()());
  std::string data(reinterpret_cast<const char *>(a.data()), 12);
  data.append(reinterpret_cast<const char *>(b.data()), 12);
  const std::string header =
      R"({"__metadata__":{"format":"pt","note":"x"},)"
      R"("b":{"dtype":"I32","shape":[3],"data_offsets":[12,24]},)"
      R"("a":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]},)"
      R"("e":{"dtype":"F32","shape":[0,4],"data_offsets":[24,24]}}   )";
  const std::string path = craft(dir, header, data);

  SafeTensorsFile file(path);
  EXPECT_EQ(file.path(), path);
  EXPECT_EQ(file.headerSize(), header.size());
  ASSERT_EQ(file.tensors().size(), 3u);
  // Data order, not header order.
  EXPECT_EQ(file.tensors()[0].name, "a");
  EXPECT_EQ(file.tensors()[1].name, "b");
  EXPECT_EQ(file.tensors()[2].name, "e");
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.metadata().at("note"), "x");

  const TensorView &va = file.get("a");
  EXPECT_EQ(va.dtype, DType::F16);
  EXPECT_EQ(va.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(va.numel(), 6u);
  EXPECT_EQ(va.size, 12u);
  EXPECT_EQ(va.file, path);
  std::vector<uint16_t> readA(6, 0xffff);
  va.copyTo(readA.data());
  EXPECT_EQ(readA, a);

  const TensorView &vb = file.get("b");
  EXPECT_EQ(vb.dtype, DType::I32);
  EXPECT_EQ(0, std::memcmp(vb.data, b.data(), 12));

  const TensorView &ve = file.get("e");
  EXPECT_EQ(ve.size, 0u);
  EXPECT_EQ(ve.numel(), 0u);

  EXPECT_EQ(file.find("missing"), nullptr);
  expectError([&] { file.get("missing"); },
              {path, "no tensor named 'missing'"});
}

TEST(SafeTensorsReader, AcceptsEmptyHeaderObject) {
  TempDir dir;
  SafeTensorsFile file(craft(dir, "{}      ", ""));
  EXPECT_TRUE(file.tensors().empty());
  EXPECT_TRUE(file.metadata().empty());
}

TEST(SafeTensorsReader, RejectsTruncatedFile) {
  TempDir dir;
  const std::string path = dir.file("short.safetensors");
  writeBytes(path, std::string("\x05\x00\x00", 3));
  expectError([&] { SafeTensorsFile file(path); },
              {path, "truncated", "8-byte header length", "3 bytes"});
  writeBytes(path, "");
  expectError([&] { SafeTensorsFile file(path); }, {path, "truncated"});
}

TEST(SafeTensorsReader, RejectsHeaderLengthBeyondFile) {
  expectBad("{}", "", {"header length 1000", "runs past the end"}, 1000);
}

TEST(SafeTensorsReader, RejectsHeaderLengthAboveLimit) {
  expectBad("{}", "", {"header length 200000000", "exceeds the limit"},
            200000000);
}

TEST(SafeTensorsReader, RejectsBadJson) {
  expectBad(R"({"a": {"dtype": "F16",)", "", {"header is not valid JSON"});
  expectBad("{\"a\": \"\xff\xfe\"}", "", {"header is not valid JSON"});
}

TEST(SafeTensorsReader, RejectsNonObjectHeader) {
  expectBad("[1, 2, 3]", "", {"header must be a JSON object", "array"});
}

TEST(SafeTensorsReader, RejectsNonObjectTensorEntry) {
  expectBad(R"({"w": [1, 2]})", "",
            {"tensor 'w'", "expected an object with dtype, shape and "
                           "data_offsets"});
}

TEST(SafeTensorsReader, RejectsMissingFields) {
  expectBad(R"({"w":{"shape":[1],"data_offsets":[0,2]}})", "xx",
            {"tensor 'w'", "missing field 'dtype'"});
  expectBad(R"({"w":{"dtype":"F16","data_offsets":[0,2]}})", "xx",
            {"tensor 'w'", "missing field 'shape'"});
  expectBad(R"({"w":{"dtype":"F16","shape":[1]}})", "xx",
            {"tensor 'w'", "missing field 'data_offsets'"});
}

TEST(SafeTensorsReader, RejectsWrongFieldTypes) {
  expectBad(R"({"w":{"dtype":16,"shape":[1],"data_offsets":[0,2]}})", "xx",
            {"tensor 'w'", "field 'dtype' must be a string"});
  expectBad(R"({"w":{"dtype":"F16","shape":"1","data_offsets":[0,2]}})", "xx",
            {"tensor 'w'", "field 'shape' must be an array"});
  expectBad(R"({"w":{"dtype":"F16","shape":[1,-1],"data_offsets":[0,2]}})",
            "xx", {"tensor 'w'", "shape[1]", "non-negative integer", "-1"});
  expectBad(R"({"w":{"dtype":"F16","shape":[1.0],"data_offsets":[0,2]}})", "xx",
            {"tensor 'w'", "shape[0]", "non-negative integer"});
  expectBad(R"({"w":{"dtype":"F16","shape":[1],"data_offsets":"0,2"}})", "xx",
            {"tensor 'w'", "'data_offsets' must be an array of two"});
  expectBad(R"({"w":{"dtype":"F16","shape":[1],"data_offsets":[0,2,4]}})", "xx",
            {"tensor 'w'", "'data_offsets' must be an array of two"});
  expectBad(R"({"w":{"dtype":"F16","shape":[1],"data_offsets":[0,"2"]}})", "xx",
            {"tensor 'w'", "data_offsets[1]", "non-negative integer"});
  expectBad(R"({"w":{"dtype":"F16","shape":[1],"data_offsets":[-2,2]}})", "xx",
            {"tensor 'w'", "data_offsets[0]", "non-negative integer"});
}

TEST(SafeTensorsReader, RejectsUnknownDType) {
  expectBad(R"({"w":{"dtype":"F17","shape":[1],"data_offsets":[0,2]}})", "xx",
            {"tensor 'w'", "unknown dtype 'F17'", "expected one of", "BF16"});
}

TEST(SafeTensorsReader, RejectsShapeDTypeMismatch) {
  expectBad(R"({"w":{"dtype":"F16","shape":[2,3],"data_offsets":[0,10]}})",
            std::string(10, 'x'),
            {"tensor 'w'", "F16 x shape [2, 3] needs 12 bytes",
             "data_offsets [0, 10] span 10"});
}

TEST(SafeTensorsReader, RejectsOverflowingShape) {
  // 2^62 * 2^62 elements overflow; so does 2^62 * 4 bytes of F32.
  expectBad(R"({"w":{"dtype":"U8","shape":[4611686018427387904,)"
            R"(4611686018427387904],"data_offsets":[0,0]}})",
            "", {"tensor 'w'", "overflows a 64-bit byte count"});
  expectBad(R"({"w":{"dtype":"F32","shape":[4611686018427387904],)"
            R"("data_offsets":[0,0]}})",
            "", {"tensor 'w'", "overflows a 64-bit byte count"});
  // An extent beyond int64 is rejected as a field.
  expectBad(R"({"w":{"dtype":"U8","shape":[18446744073709551615],)"
            R"("data_offsets":[0,0]}})",
            "", {"tensor 'w'", "shape[0]", "at most 9223372036854775807"});
}

TEST(SafeTensorsReader, RejectsOffsetsOutOfRange) {
  expectBad(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
            std::string(8, 'x'),
            {"tensor 'w'", "data_offsets [0, 16] run past the data buffer",
             "8 bytes"});
}

TEST(SafeTensorsReader, RejectsBeginAfterEnd) {
  expectBad(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})",
            std::string(8, 'x'),
            {"tensor 'w'", "data_offsets [8, 4]", "begin is after end"});
}

TEST(SafeTensorsReader, RejectsOverlap) {
  expectBad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
            R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
            std::string(12, 'x'),
            {"tensor 'b'", "overlap tensor 'a'", "ends at 8"});
}

TEST(SafeTensorsReader, RejectsGap) {
  expectBad(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
            R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
            std::string(12, 'x'),
            {"data bytes [4, 8)", "belong to no tensor", "before tensor 'b'"});
  expectBad(R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
            std::string(8, 'x'), {"data bytes [0, 4)", "before tensor 'b'"});
}

TEST(SafeTensorsReader, RejectsTrailingBytes) {
  expectBad(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
            std::string(8, 'x'),
            {"data bytes [4, 8)", "at the end of the file"});
}

TEST(SafeTensorsReader, RejectsBadMetadata) {
  expectBad(R"({"__metadata__":["pt"]})", "",
            {"__metadata__ must be an object of strings"});
  expectBad(R"({"__metadata__":{"format":1}})", "",
            {"__metadata__ value of 'format' must be a string"});
}

TEST(SafeTensorsReader, RejectsDuplicateTensorNames) {
  // nlohmann_json would keep only the last entry and hide the first tensor.
  expectBad(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
            R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
            "xx", {"key 'a' appears more than once"});
}

TEST(SafeTensorsReader, RejectsNonRegularAndMissingFiles) {
  TempDir dir;
  expectError([&] { SafeTensorsFile file(dir.path()); },
              {dir.path(), "expected a regular file"});
  expectError([&] { SafeTensorsFile file(dir.file("absent.safetensors")); },
              {"absent.safetensors", "cannot open"});
}

//===----------------------------------------------------------------------===//
// Checkpoints: directories, indexes, shards
//===----------------------------------------------------------------------===//

/// Writes a shard holding U8 tensors named `names`, each [2] with random
/// bytes.
void writeShard(const std::string &path, const std::vector<std::string> &names,
                std::map<std::string, std::string> metadata = {}) {
  static std::vector<std::vector<uint8_t>> keepAlive;
  std::vector<TensorRef> refs;
  for (const std::string &name : names) {
    keepAlive.push_back(
        {static_cast<uint8_t>(rng()()), static_cast<uint8_t>(rng()())});
    refs.push_back({name, DType::U8, {2}, keepAlive.back().data(), 2});
  }
  writeSafeTensors(path, refs, metadata);
}

void writeIndex(const TempDir &dir, const std::string &weightMap) {
  writeBytes(dir.file("model.safetensors.index.json"),
             R"({"metadata":{"total_size":8},"weight_map":)" + weightMap + "}");
}

TEST(SafeTensorsCheckpoint, OpensShardsThroughIndex) {
  TempDir dir;
  writeShard(dir.file("s1.safetensors"), {"x", "y"}, {{"format", "pt"}});
  writeShard(dir.file("s2.safetensors"), {"z"}, {{"format", "pt"}});
  writeIndex(dir, R"({"x":"s1.safetensors","y":"s1.safetensors",)"
                  R"("z":"s2.safetensors"})");
  for (const std::string &source :
       {dir.path(), dir.file("model.safetensors.index.json")}) {
    SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint::open(source);
    EXPECT_EQ(checkpoint.shards().size(), 2u);
    EXPECT_EQ(checkpoint.names(), (std::vector<std::string>{"x", "y", "z"}));
    EXPECT_EQ(checkpoint.get("z").file, dir.file("s2.safetensors"));
    EXPECT_EQ(checkpoint.metadata().at("format"), "pt");
    expectError([&] { checkpoint.get("w"); }, {source, "no tensor named 'w'"});
  }
}

TEST(SafeTensorsCheckpoint, RejectsInconsistentIndex) {
  {
    TempDir dir;
    writeShard(dir.file("s1.safetensors"), {"x"});
    writeIndex(dir, R"({"x":"s1.safetensors","y":"s2.safetensors"})");
    expectError([&] { SafeTensorsCheckpoint::open(dir.path()); },
                {"s2.safetensors", "cannot open"});
  }
  {
    TempDir dir;
    writeShard(dir.file("s1.safetensors"), {"x"});
    writeShard(dir.file("s2.safetensors"), {"y"});
    writeIndex(dir, R"({"x":"s2.safetensors","y":"s2.safetensors"})");
    expectError([&] { SafeTensorsCheckpoint::open(dir.path()); },
                {"model.safetensors.index.json", "tensor 'x'",
                 "is in s2.safetensors", "has no such tensor"});
  }
  {
    TempDir dir;
    writeShard(dir.file("s1.safetensors"), {"x", "extra"});
    writeIndex(dir, R"({"x":"s1.safetensors"})");
    expectError(
        [&] { SafeTensorsCheckpoint::open(dir.path()); },
        {"s1.safetensors", "tensor 'extra'", "not listed in the weight_map"});
  }
}

TEST(SafeTensorsCheckpoint, RejectsMalformedIndex) {
  struct Case {
    std::string text;
    std::vector<std::string> fragments;
  };
  const std::vector<Case> cases = {
      {"{", {"index is not valid JSON"}},
      {"[]", {"expected a JSON object with a 'weight_map'"}},
      {R"({"metadata":{}})", {"missing field 'weight_map'"}},
      {R"({"weight_map":[]})", {"'weight_map' must be an object"}},
      {R"({"weight_map":{}})", {"'weight_map' is empty"}},
      {R"({"weight_map":{"x":3}})",
       {"weight_map['x'] must be a shard file name"}},
      {R"({"weight_map":{"x":"../s1.safetensors"}})",
       {"must be a plain file name"}},
      {R"({"weight_map":{"x":"/etc/passwd"}})", {"must be a plain file name"}},
      {R"({"weight_map":{"x":"s1.safetensors","x":"s1.safetensors"}})",
       {"key 'x' appears more than once"}},
  };
  for (const Case &c : cases) {
    TempDir dir;
    writeShard(dir.file("s1.safetensors"), {"x"});
    writeBytes(dir.file("model.safetensors.index.json"), c.text);
    SCOPED_TRACE(c.text);
    std::string message =
        expectError([&] { SafeTensorsCheckpoint::open(dir.path()); }, {});
    EXPECT_NE(message.find("model.safetensors.index.json"), std::string::npos)
        << message;
    for (const std::string &fragment : c.fragments)
      EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

TEST(SafeTensorsCheckpoint, RejectsDuplicateTensorsAcrossFiles) {
  TempDir dir;
  writeShard(dir.file("a.safetensors"), {"x"});
  writeShard(dir.file("b.safetensors"), {"x"});
  expectError(
      [&] {
        SafeTensorsCheckpoint::openFiles(
            {dir.file("a.safetensors"), dir.file("b.safetensors")});
      },
      {"b.safetensors", "tensor 'x' is also stored in", "a.safetensors"});
}

TEST(SafeTensorsCheckpoint, RejectsConflictingMetadata) {
  TempDir dir;
  writeShard(dir.file("a.safetensors"), {"x"}, {{"format", "pt"}});
  writeShard(dir.file("b.safetensors"), {"y"}, {{"format", "tf"}});
  expectError(
      [&] {
        SafeTensorsCheckpoint::openFiles(
            {dir.file("a.safetensors"), dir.file("b.safetensors")});
      },
      {"b.safetensors", "__metadata__ 'format' is 'tf'", "says 'pt'"});
}

TEST(SafeTensorsCheckpoint, ResolvesDirectories) {
  {
    TempDir dir;
    expectError([&] { SafeTensorsCheckpoint::open(dir.path()); },
                {dir.path(), "no model.safetensors"});
    expectError([&] { SafeTensorsCheckpoint::open(dir.file("nothing")); },
                {"nothing", "no such file or directory"});
  }
  {
    TempDir dir;
    writeShard(dir.file("gptq_model-4bit-128g.safetensors"), {"x"});
    SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint::open(dir.path());
    EXPECT_EQ(checkpoint.names(), std::vector<std::string>{"x"});
    writeShard(dir.file("other.safetensors"), {"y"});
    expectError([&] { SafeTensorsCheckpoint::open(dir.path()); },
                {"several .safetensors files", "gptq_model-4bit-128g",
                 "other.safetensors"});
  }
  {
    // model.safetensors wins over an index, as in transformers.
    TempDir dir;
    writeShard(dir.file("model.safetensors"), {"single"});
    writeIndex(dir, R"({"x":"absent.safetensors"})");
    SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint::open(dir.path());
    EXPECT_EQ(checkpoint.names(), std::vector<std::string>{"single"});
  }
}

} // namespace
} // namespace awq::test
