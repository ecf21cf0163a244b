//===- SafeTensorsWriterTest.cpp - Layout, atomicity and sharding ---------===//

#include "TestUtil.h"

#include "runtime/formats/AtomicFile.h"
#include "runtime/formats/SafeTensors.h"
#include "runtime/formats/SafeTensorsWriter.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace awq::test {
namespace {

namespace fs = std::filesystem;

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<uint8_t> randomBytes(size_t count) {
  std::vector<uint8_t> bytes(count);
  for (uint8_t &b : bytes)
    b = static_cast<uint8_t>(rng()());
  return bytes;
}

TEST(SafeTensorsWriter, WritesTheStandardLayoutByteForByte) {
  TempDir dir;
  const uint16_t a[2] = {0x3c00, 0xc000}; // 1.0, -2.0
  const uint8_t b[3] = {7, 8, 9};
  writeSafeTensors(dir.file("x.safetensors"),
                   {{"a", DType::F16, {2}, a, 4}, {"b", DType::U8, {3}, b, 3}},
                   {{"format", "pt"}});

  // Built by hand: header in the given order, padded with spaces to a
  // multiple of 8, then the data in the given order.
  std::string header =
      R"({"__metadata__":{"format":"pt"},)"
      R"("a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
      R"("b":{"dtype":"U8","shape":[3],"data_offsets":[4,7]}})";
  while (header.size() % 8 != 0)
    header += ' ';
  const std::string expected =
      rawSafeTensors(header, std::string("\x00\x3c\x00\xc0\x07\x08\x09", 7));
  EXPECT_EQ(readBytes(dir.file("x.safetensors")), expected);
}

TEST(SafeTensorsWriter, RoundTripsRandomTensorsOfEveryWidth) {
  TempDir dir;
  struct Source {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
  };
  const std::vector<Source> sources = {
      {"f16", DType::F16, {3, 5}},    {"bf16", DType::BF16, {7}},
      {"i32", DType::I32, {2, 2, 3}}, {"f64", DType::F64, {3}},
      {"u8", DType::U8, {13}},        {"empty", DType::F32, {0}},
      {"scalar", DType::I64, {}},     {"fp8", DType::F8E4M3, {9}},
  };
  std::vector<std::vector<uint8_t>> data;
  std::vector<TensorRef> refs;
  for (const Source &s : sources) {
    data.push_back(randomBytes(*checkedNumel(s.shape) * dtypeSize(s.dtype)));
    refs.push_back(
        {s.name, s.dtype, s.shape, data.back().data(), data.back().size()});
  }
  const std::string path = dir.file("all.safetensors");
  writeSafeTensors(path, refs, {{"k", "v"}});

  const std::string bytes = readBytes(path);
  uint64_t headerLength;
  std::memcpy(&headerLength, bytes.data(), 8);
  EXPECT_EQ(headerLength % 8, 0u);
  EXPECT_EQ(bytes[8], '{');

  SafeTensorsFile file(path);
  EXPECT_EQ(file.metadata().at("k"), "v");
  ASSERT_EQ(file.tensors().size(), sources.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    // Data order is the given order.
    const TensorView &view = file.tensors()[i];
    EXPECT_EQ(view.name, sources[i].name);
    EXPECT_EQ(view.dtype, sources[i].dtype);
    EXPECT_EQ(view.shape, sources[i].shape);
    std::vector<uint8_t> read(view.size + 1, 0xAB);
    view.copyTo(read.data());
    read.pop_back();
    EXPECT_EQ(read, data[i]) << view.name;
  }
}

TEST(SafeTensorsWriter, RejectsInconsistentTensors) {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  const uint8_t bytes[8] = {};
  expectError(
      [&] {
        writeSafeTensors(path, {{"a", DType::F32, {3}, bytes, 8}});
      },
      {path, "tensor 'a'", "needs 12 bytes", "8 were given"});
  expectError(
      [&] {
        writeSafeTensors(path, {{"a", DType::U8, {1}, bytes, 1},
                                {"a", DType::U8, {1}, bytes, 1}});
      },
      {"tensor 'a' is given twice"});
  expectError(
      [&] {
        writeSafeTensors(path, {{"__metadata__", DType::U8, {1}, bytes, 1}});
      },
      {"'__metadata__' is reserved"});
  expectError(
      [&] {
        writeSafeTensors(path, {{"", DType::U8, {1}, bytes, 1}});
      },
      {"empty name"});
  expectError(
      [&] {
        writeSafeTensors(path, {{"a", DType::U8, {-1}, bytes, 1}});
      },
      {"tensor 'a'", "negative extent"});
  expectError(
      [&] {
        writeSafeTensors(path, {{"a", DType::U8, {1}, nullptr, 1}});
      },
      {"tensor 'a' has no data"});
  EXPECT_TRUE(dir.entries().empty());
}

TEST(SafeTensorsWriter, MissingDirectoryThrowsAndLeavesNothing) {
  TempDir dir;
  const uint8_t bytes[1] = {1};
  const std::string path = dir.file("absent/model.safetensors");
  expectError(
      [&] {
        writeSafeTensors(path, {{"a", DType::U8, {1}, bytes, 1}});
      },
      {path, "cannot create a temporary file"});
  EXPECT_TRUE(dir.entries().empty());
  EXPECT_FALSE(fs::exists(dir.file("absent")));
}

TEST(SafeTensorsWriter, ReplacesAnExistingFileAtomically) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  writeBytes(path, "old contents");
  std::vector<uint8_t> bytes = randomBytes(16);
  writeSafeTensors(path, {{"a", DType::U8, {16}, bytes.data(), 16}});
  SafeTensorsFile file(path);
  EXPECT_EQ(0, std::memcmp(file.get("a").data, bytes.data(), 16));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.safetensors"});
}

/// Lowers the file size limit so that a write fails part-way with EFBIG.
class FileSizeLimit {
public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    previousHandler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, previousHandler_);
  }

private:
  rlimit saved_;
  void (*previousHandler_)(int);
};

TEST(SafeTensorsWriter, FailureMidWriteKeepsOldFileAndRemovesTemporary) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  writeBytes(path, "previous version");
  std::vector<uint8_t> big = randomBytes(1 << 20);
  {
    FileSizeLimit limit(64 * 1024);
    expectError(
        [&] {
          writeSafeTensors(
              path, {{"big", DType::U8, {1 << 20}, big.data(), big.size()}});
        },
        {path, "write failed"});
  }
  EXPECT_EQ(readBytes(path), "previous version");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.safetensors"});
}

TEST(AtomicFileWriter, UncommittedWriterLeavesNothing) {
  TempDir dir;
  {
    AtomicFileWriter writer(dir.file("out.json"));
    writer.write("partial");
    EXPECT_TRUE(fs::exists(writer.tempPath()));
  }
  EXPECT_TRUE(dir.entries().empty());
  writeFileAtomically(dir.file("out.json"), "complete");
  EXPECT_EQ(readBytes(dir.file("out.json")), "complete");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out.json"});
}

/// The pid of a process that has exited (and been reaped).
pid_t deadPid() {
  const pid_t child = ::fork();
  if (child == 0)
    ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

void makeOld(const std::string &path) {
  fs::last_write_time(path, fs::file_time_type::clock::now() -
                                std::chrono::minutes(5));
}

TEST(AtomicFileWriter, RemovesWhatKilledWritersLeft) {
  TempDir dir;
  const std::string dead = std::to_string(deadPid());
  const std::string live = std::to_string(::getppid());
  // A killed writer's temporary and staging directory: removed.
  writeFileAtomically(dir.file("stale-probe"), "x");
  const std::string staleFile = dir.file("model.awqb.tmp." + dead + ".0.0.ab");
  const std::string staleDir = dir.file(".model.awqb.awqc-tmp-" + dead + "-3");
  std::ofstream(staleFile) << "partial";
  fs::create_directory(staleDir);
  std::ofstream(staleDir + "/kernels.mlir") << "partial";
  makeOld(staleFile);
  makeOld(staleDir);
  // Kept: a live process's, a recent one, another file's, other names.
  const std::string liveFile = dir.file("model.awqb.tmp." + live + ".0.0.ab");
  const std::string recent = dir.file("model.awqb.tmp." + dead + ".1.0.ab");
  const std::string other = dir.file("other.awqb.tmp." + dead + ".0.0.ab");
  const std::string unrelated = dir.file("model.awqb.tmp.notapid");
  for (const std::string &path : {liveFile, recent, other, unrelated})
    std::ofstream(path) << "keep";
  for (const std::string &path : {liveFile, other, unrelated})
    makeOld(path);
  EXPECT_EQ(removeStaleTemporaries(dir.file("model.awqb")), 2u);
  EXPECT_FALSE(fs::exists(staleFile));
  EXPECT_FALSE(fs::exists(staleDir));
  for (const std::string &path : {liveFile, recent, other, unrelated})
    EXPECT_TRUE(fs::exists(path)) << path;
  // Every atomic write cleans up before it starts.
  std::ofstream(staleFile) << "partial";
  makeOld(staleFile);
  writeFileAtomically(dir.file("model.awqb"), "bundle");
  EXPECT_FALSE(fs::exists(staleFile));
}

TEST(SafeTensorsCheckpointWriter, ShardsGreedilyAndWritesIndex) {
  TempDir dir;
  // Sizes 40, 40, 100 (alone: larger than the limit), 30, 30 with a
  // 64-byte limit: shards {a}, {b}, {c}, {d, e}.
  const std::vector<std::pair<std::string, size_t>> sizes = {
      {"a", 40}, {"b", 40}, {"c", 100}, {"d", 30}, {"e", 30}};
  std::vector<std::vector<uint8_t>> data;
  std::vector<TensorRef> refs;
  for (const auto &[name, size] : sizes) {
    data.push_back(randomBytes(size));
    refs.push_back({name,
                    DType::U8,
                    {static_cast<int64_t>(size)},
                    data.back().data(),
                    size});
  }
  writeBytes(dir.file("model.safetensors"), "stale single file");
  WrittenCheckpoint written =
      writeSafeTensorsCheckpoint(dir.path(), refs, {{"format", "pt"}}, 64);
  EXPECT_EQ(written.files,
            (std::vector<std::string>{"model-00001-of-00004.safetensors",
                                      "model-00002-of-00004.safetensors",
                                      "model-00003-of-00004.safetensors",
                                      "model-00004-of-00004.safetensors"}));
  EXPECT_EQ(written.index, "model.safetensors.index.json");
  EXPECT_FALSE(fs::exists(dir.file("model.safetensors")));

  nlohmann::json index = nlohmann::json::parse(
      readBytes(dir.file("model.safetensors.index.json")));
  EXPECT_EQ(index["metadata"]["total_size"], 240);
  EXPECT_EQ(index["weight_map"]["a"], "model-00001-of-00004.safetensors");
  EXPECT_EQ(index["weight_map"]["c"], "model-00003-of-00004.safetensors");
  EXPECT_EQ(index["weight_map"]["d"], "model-00004-of-00004.safetensors");
  EXPECT_EQ(index["weight_map"]["e"], "model-00004-of-00004.safetensors");

  SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint::open(dir.path());
  EXPECT_EQ(checkpoint.shards().size(), 4u);
  EXPECT_EQ(checkpoint.metadata().at("format"), "pt");
  for (size_t i = 0; i < sizes.size(); ++i) {
    const TensorView &view = checkpoint.get(sizes[i].first);
    ASSERT_EQ(view.size, data[i].size());
    EXPECT_EQ(0, std::memcmp(view.data, data[i].data(), view.size));
  }

  // Everything fits under a large limit: one file, and the index goes.
  written = writeSafeTensorsCheckpoint(dir.path(), refs, {}, 1 << 20);
  EXPECT_EQ(written.files, std::vector<std::string>{"model.safetensors"});
  EXPECT_TRUE(written.index.empty());
  EXPECT_FALSE(fs::exists(dir.file("model.safetensors.index.json")));
  EXPECT_EQ(SafeTensorsCheckpoint::open(dir.path()).size(), 5u);
}

TEST(SafeTensorsCheckpointWriter, TensorsArriveInAnyOrder) {
  // The layout is fixed up front; data written in reverse order, each
  // buffer freed (overwritten) right after, reads back as given, sharded
  // and not.
  for (uint64_t limit : {uint64_t(0), uint64_t(100)}) {
    SCOPED_TRACE(limit);
    TempDir dir;
    std::vector<TensorRef> layout;
    std::vector<std::vector<uint8_t>> data;
    for (int i = 0; i < 7; ++i) {
      const int64_t count = 3 + 11 * i;
      layout.push_back({"t" + std::to_string(i), DType::F16, {count}});
      data.push_back(randomBytes(static_cast<size_t>(count) * 2));
    }
    {
      SafeTensorsCheckpointWriter writer(dir.path(), layout, {{"k", "v"}},
                                         limit);
      EXPECT_EQ(writer.totalBytes(), 2u * (7 * 3 + 11 * 21));
      for (int i = 6; i >= 0; --i) {
        std::vector<uint8_t> buffer = data[i];
        writer.write(layout[i].name, buffer.data(), buffer.size());
        std::fill(buffer.begin(), buffer.end(), uint8_t(0xAB));
      }
      // Nothing but temporaries before the commit.
      for (const std::string &entry : dir.entries())
        EXPECT_NE(entry.find(".tmp."), std::string::npos) << entry;
      const WrittenCheckpoint written = writer.commit();
      EXPECT_EQ(written.files.size() > 1, limit != 0);
    }
    SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint::open(dir.path());
    ASSERT_EQ(checkpoint.size(), layout.size());
    for (size_t i = 0; i < layout.size(); ++i) {
      const TensorView &view = checkpoint.get(layout[i].name);
      EXPECT_EQ(view.dtype, DType::F16);
      EXPECT_EQ(view.shape, layout[i].shape);
      ASSERT_EQ(view.size, data[i].size());
      EXPECT_EQ(0, std::memcmp(view.data, data[i].data(), view.size));
    }
    EXPECT_EQ(checkpoint.metadata().at("k"), "v");
  }
}

TEST(SafeTensorsCheckpointWriter, RefusesWrongWritesAndIncompleteCommits) {
  TempDir dir;
  const std::vector<TensorRef> layout = {{"a", DType::I32, {2, 3}},
                                         {"b", DType::F16, {4}}};
  std::vector<uint8_t> bytes = randomBytes(24);
  {
    SafeTensorsCheckpointWriter writer(dir.path(), layout, {});
    expectError([&] { writer.write("c", bytes.data(), 8); },
                {"tensor 'c'", "not part of the checkpoint"});
    expectError([&] { writer.write("a", bytes.data(), 20); },
                {"tensor 'a'", "needs 24 bytes, but 20 were given"});
    writer.write("a", bytes.data(), 24);
    expectError([&] { writer.write("a", bytes.data(), 24); },
                {"tensor 'a'", "written twice"});
    expectError([&] { writer.commit(); },
                {"tensor 'b'", "never written", "incomplete"});
  }
  // The writer is gone without a commit: no checkpoint, no temporaries.
  EXPECT_TRUE(dir.entries().empty());
  expectError(
      [&] {
        SafeTensorsCheckpointWriter(
            dir.path(), {{"a", DType::F16, {2}}, {"a", DType::F16, {2}}}, {});
      },
      {"tensor 'a'", "given twice"});
  EXPECT_TRUE(dir.entries().empty());
}

TEST(SafeTensorsCheckpointWriter, ResumableShardsSurviveAndAreReopened) {
  // A resumable writer that is dropped keeps its partial shards; a second
  // one over the same layout takes over the tensors the first wrote (read
  // back as written) and commits the same bytes as an uninterrupted writer.
  for (uint64_t limit : {uint64_t(0), uint64_t(100)}) {
    SCOPED_TRACE(limit);
    TempDir reference, dir;
    std::vector<TensorRef> layout;
    std::vector<std::vector<uint8_t>> data;
    for (int i = 0; i < 6; ++i) {
      const int64_t count = 5 + 9 * i;
      layout.push_back({"t" + std::to_string(i), DType::F16, {count}});
      data.push_back(randomBytes(static_cast<size_t>(count) * 2));
    }
    {
      SafeTensorsCheckpointWriter writer(reference.path(), layout, {}, limit);
      for (int i = 0; i < 6; ++i)
        writer.write(layout[i].name, data[i].data(), data[i].size());
      writer.commit();
    }
    {
      SafeTensorsCheckpointWriter first(dir.path(), layout, {}, limit,
                                        ShardFiles::Resumable);
      for (int i : {4, 0, 2})
        first.write(layout[i].name, data[i].data(), data[i].size());
      first.sync();
      // A tensor of a shard that was created only now cannot be marked.
      for (const std::string &entry : dir.entries())
        EXPECT_NE(entry.find(".safetensors.partial"), std::string::npos)
            << entry;
    }
    EXPECT_FALSE(dir.entries().empty());
    {
      SafeTensorsCheckpointWriter second(dir.path(), layout, {}, limit,
                                         ShardFiles::Resumable);
      for (int i : {0, 2, 4}) {
        second.markWritten(layout[i].name);
        EXPECT_EQ(second.read(layout[i].name), data[i]);
      }
      expectError([&] { second.markWritten("t0"); },
                  {"tensor 't0'", "written twice"});
      expectError([&] { second.read("t1"); },
                  {"tensor 't1'", "not written yet"});
      for (int i : {5, 3, 1})
        second.write(layout[i].name, data[i].data(), data[i].size());
      const WrittenCheckpoint written = second.commit();
      EXPECT_EQ(written.files.size() > 1, limit != 0);
    }
    std::vector<std::string> expected = reference.entries();
    EXPECT_EQ(dir.entries(), expected);
    for (const std::string &name : expected)
      EXPECT_EQ(readFile(dir.file(name)), readFile(reference.file(name)))
          << name;
  }
}

TEST(SafeTensorsCheckpointWriter, MarkingNeedsTheShardFromBefore) {
  TempDir dir;
  const std::vector<TensorRef> layout = {{"a", DType::U8, {4}}};
  SafeTensorsCheckpointWriter writer(dir.path(), layout, {}, 0,
                                     ShardFiles::Resumable);
  expectError([&] { writer.markWritten("a"); },
              {"tensor 'a'", "model.safetensors.partial", "did not exist"});
  expectError([&] { writer.markWritten("b"); },
              {"tensor 'b'", "not part of the checkpoint"});
}

TEST(SafeTensorsCheckpointWriter, MissingDirectoryThrows) {
  TempDir dir;
  const uint8_t bytes[1] = {1};
  expectError(
      [&] {
        writeSafeTensorsCheckpoint(dir.file("absent"),
                                   {{"a", DType::U8, {1}, bytes, 1}}, {});
      },
      {"absent", "not an existing directory"});
  EXPECT_TRUE(dir.entries().empty());
}

TEST(SafeTensorsCheckpointWriter, SingleFileIsWhatWriteSafeTensorsWrites) {
  // Streamed in reverse order under a name of its own, beside a sharded
  // checkpoint's index that it must leave alone.
  TempDir dir;
  std::vector<TensorRef> tensors;
  std::vector<std::vector<uint8_t>> data;
  for (int i = 0; i < 5; ++i) {
    const int64_t count = 1 + 7 * i;
    data.push_back(randomBytes(static_cast<size_t>(count) * 4));
    tensors.push_back({"t" + std::to_string(i),
                       DType::F32,
                       {count},
                       data.back().data(),
                       data.back().size()});
  }
  const std::map<std::string, std::string> metadata = {{"k", "v"}};
  writeSafeTensors(dir.file("reference.safetensors"), tensors, metadata);
  std::ofstream(dir.file("model.safetensors.index.json")) << "{}";
  {
    auto writer = SafeTensorsCheckpointWriter::singleFile(
        dir.file("calibration.safetensors"), tensors, metadata);
    for (int i = 4; i >= 0; --i)
      writer->write(tensors[i].name, data[i].data(), data[i].size());
    EXPECT_FALSE(fs::exists(dir.file("calibration.safetensors")));
    EXPECT_EQ(writer->commit().files,
              std::vector<std::string>{"calibration.safetensors"});
  }
  EXPECT_EQ(readFile(dir.file("calibration.safetensors")),
            readFile(dir.file("reference.safetensors")));
  EXPECT_EQ(readFile(dir.file("model.safetensors.index.json")), "{}");
  expectError(
      [&] {
        SafeTensorsCheckpointWriter::singleFile(
            dir.file("absent/x.safetensors"), tensors, metadata);
      },
      {"absent", "not an existing directory"});
}

} // namespace
} // namespace awq::test
