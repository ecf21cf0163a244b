//===- QuantizeJournal.cpp - Resumable state of an awqc quantize run
//-------===//

#include "compiler/quantize/QuantizeJournal.h"

#include "compiler/frontend/CommandLine.h"
#include "compiler/frontend/OutputStaging.h"
#include "compiler/quantize/Fp16Model.h"
#include "compiler/quantize/QuantizeRecordJson.h"
#include "runtime/formats/AtomicFile.h"
#include "runtime/formats/SafeTensors.h"
#include "runtime/support/Error.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/xxhash.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace awq {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char *kFormat = "awqc-quantize-journal 2";

std::string errnoText() { return std::strerror(errno); }

std::string absolutePath(const std::string &path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  return (ec ? fs::path(path) : absolute).lexically_normal().string();
}

ScaleDestination parseDestination(const RecordReader &reader,
                                  const char *field) {
  const std::string name = reader.string(field);
  for (ScaleDestination destination :
       {ScaleDestination::None, ScaleDestination::NormWeight,
        ScaleDestination::LinearRows, ScaleDestination::ActivationScale})
    if (name == scaleDestinationName(destination))
      return destination;
  reader.fail(field, "unknown scale destination '" + name + "'");
}

json encodeDoubles(const std::vector<double> &values) {
  json out = json::array();
  for (double value : values)
    out.push_back(doubleToJson(value, RecordStyle::Exact));
  return out;
}

/// Writes all of `text` to `fd` at its end.
void writeAll(int fd, const std::string &text, const std::string &what) {
  const char *bytes = text.data();
  size_t size = text.size();
  while (size > 0) {
    const ssize_t written = ::write(fd, bytes, size);
    if (written < 0) {
      if (errno == EINTR)
        continue;
      throw Error(what + ": write failed: " + errnoText());
    }
    bytes += written;
    size -= static_cast<size_t>(written);
  }
}

/// Opens and exclusively locks `dir`/lock; -1 with errno EWOULDBLOCK when
/// another process holds it.
int lockDirectory(const std::string &dir) {
  const std::string path = (fs::path(dir) / "lock").string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0)
    throw Error(dir + ": cannot open its lock file: " + errnoText());
  int locked;
  do
    locked = ::flock(fd, LOCK_EX | LOCK_NB);
  while (locked != 0 && errno == EINTR);
  if (locked != 0) {
    const int saved = errno;
    ::close(fd);
    if (saved == EWOULDBLOCK)
      throw Error(dir + ": another awqc quantize is writing this output now "
                        "(its state directory is locked); wait for it or "
                        "stop it first");
    throw Error(dir + ": cannot lock it: " + std::strerror(saved));
  }
  return fd;
}

} // namespace

std::string sha256Hex(const std::array<uint8_t, 32> &digest) {
  return hexBytes(digest.data(), digest.size());
}

std::string fileIdentity(const std::string &path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0)
    throw Error(path + ": cannot read it: " + errnoText());
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(path + ": cannot open it: " + errnoText());
  std::string head(64 * 1024, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  char text[160];
  std::snprintf(text, sizeof(text), "size %" PRIu64 ", mtime %" PRId64 ".%09ld",
                static_cast<uint64_t>(info.st_size),
                static_cast<int64_t>(info.st_mtim.tv_sec),
                static_cast<long>(info.st_mtim.tv_nsec));
  return std::string(text) + ", head sha256 " +
         sha256Hex(
             llvm::SHA256::hash(llvm::ArrayRef<uint8_t>(
                 reinterpret_cast<const uint8_t *>(head.data()), head.size())))
             .substr(0, 16);
}

RunFingerprint runFingerprint(const ModelQuantizeOptions &options,
                              const ModelPlan &plan) {
  RunFingerprint fingerprint;
  fingerprint.push_back({"journal format", kFormat});
  fingerprint.push_back({"awqc", versionString("awqc")});
  fingerprint.push_back({"model", absolutePath(options.model)});
  fingerprint.push_back({"--calibration", absolutePath(options.calibration)});
  // Every file the plan reads, by identity: content changes are caught
  // without hashing gigabytes.
  std::set<std::string> files = {absolutePath(options.calibration)};
  std::error_code ec;
  if (fs::is_regular_file(options.model, ec))
    files.insert(absolutePath(options.model));
  if (plan.model && !plan.model->configFile.empty())
    files.insert(absolutePath(plan.model->configFile));
  if (plan.weights) {
    for (const auto &shard : plan.weights->shards())
      files.insert(absolutePath(shard->path()));
    if (fs::is_regular_file(plan.weights->source(), ec))
      files.insert(absolutePath(plan.weights->source()));
  }
  for (const std::string &file : files)
    fingerprint.push_back({"file " + file, fileIdentity(file)});

  auto optional = [](const auto &value, const char *unset) {
    return value ? std::to_string(*value) : std::string(unset);
  };
  fingerprint.push_back({"--bits", optional(options.settings.bits, "model's")});
  fingerprint.push_back(
      {"--group", optional(options.settings.groupSize, "model's")});
  fingerprint.push_back(
      {"--symmetric", options.settings.zeroPoint
                          ? (*options.settings.zeroPoint ? "no" : "yes")
                          : "model's"});
  char target[64] = "none";
  if (options.targetBits)
    std::snprintf(target, sizeof(target), "%.17g", *options.targetBits);
  fingerprint.push_back({"--target-bits", target});
  fingerprint.push_back({"--method", methodName(options.method)});
  fingerprint.push_back({"--scale-formula", options.formula == ScaleFormula::Duo
                                                ? "duo"
                                                : "activation"});
  fingerprint.push_back({"--no-clip", options.clip ? "no" : "yes"});
  fingerprint.push_back(
      {"--clip-search",
       clipSearchName(resolvedClipSearch(options.method, options.clipSearch))});
  fingerprint.push_back(
      {"--scale-screen-rows", std::to_string(options.scaleScreenRows)});
  fingerprint.push_back(
      {"--scale-search", options.gptqAwareScales ? "gptq" : "rtn"});
  fingerprint.push_back({"--fold-only", options.foldOnly ? "yes" : "no"});
  fingerprint.push_back({"--act-order", options.actOrder ? "yes" : "no"});
  fingerprint.push_back(
      {"--copy-unlisted", options.copyUnlisted ? "yes" : "no"});
  fingerprint.push_back(
      {"--shard-size", std::to_string(options.maxShardBytes)});
  return fingerprint;
}

std::vector<std::string> fingerprintDifferences(const RunFingerprint &recorded,
                                                const RunFingerprint &current) {
  std::map<std::string, std::string> before(recorded.begin(), recorded.end());
  std::map<std::string, std::string> now(current.begin(), current.end());
  std::vector<std::string> out;
  for (const auto &[name, value] : recorded) {
    auto it = now.find(name);
    if (it == now.end())
      out.push_back(name + ": was " + value + ", now not read");
    else if (it->second != value)
      out.push_back(name + ": was " + value + ", now " + it->second);
  }
  for (const auto &[name, value] : current)
    if (!before.count(name))
      out.push_back(name + ": not read before, now " + value);
  return out;
}

json finishedGroupToJson(const FinishedGroup &group) {
  const GroupQuantReport &r = group.report;
  json layers = json::array();
  for (const LayerQuantReport &layer : group.layers)
    layers.push_back(layerReportToJson(layer, RecordStyle::Exact));
  return {
      {"kind", "group"},
      {"step", group.step},
      {"name", r.name},
      {"layers", r.layers},
      {"bits", r.settings.bits},
      {"group_size", r.settings.groupSize},
      {"zero_point", r.settings.zeroPoint},
      {"method", methodName(r.method)},
      {"k", r.k},
      {"tokens", r.tokens},
      {"scale_searched", r.scaleSearched},
      {"ratio", doubleToJson(r.ratio, RecordStyle::Exact)},
      {"ratio_losses", encodeDoubles(r.ratioLosses)},
      {"scale_screen_rows", r.scaleScreenRows},
      {"finalist_ratios", encodeDoubles(r.finalistRatios)},
      {"finalist_losses", encodeDoubles(r.finalistLosses)},
      {"gptq_ratios", encodeDoubles(r.gptqRatios)},
      {"gptq_ratio_losses", encodeDoubles(r.gptqRatioLosses)},
      {"destination", scaleDestinationName(r.destination)},
      {"target", r.target},
      {"scales", hexBytes(r.scales.data(), r.scales.size() * sizeof(float))},
      {"seconds", doubleToJson(r.seconds, RecordStyle::Exact)},
      {"layer_reports", std::move(layers)},
      {"tensors", group.tensors},
      {"sha256", group.sha256}};
}

FinishedGroup finishedGroupFromJson(const json &record,
                                    const std::string &where) {
  const RecordReader reader(record, where);
  FinishedGroup group;
  const int64_t step = reader.integer("step");
  if (step < 0)
    reader.fail("step", "is negative");
  group.step = static_cast<size_t>(step);
  GroupQuantReport &r = group.report;
  r.name = reader.string("name");
  r.layers = reader.strings("layers");
  r.settings.bits = static_cast<int>(reader.integer("bits"));
  r.settings.groupSize = reader.integer("group_size");
  r.settings.zeroPoint = reader.boolean("zero_point");
  r.method = reader.method("method");
  r.k = reader.integer("k");
  r.tokens = reader.integer("tokens");
  r.scaleSearched = reader.boolean("scale_searched");
  r.ratio = reader.real("ratio");
  r.ratioLosses = reader.reals("ratio_losses");
  r.scaleScreenRows = reader.integer("scale_screen_rows");
  r.finalistRatios = reader.reals("finalist_ratios");
  r.finalistLosses = reader.reals("finalist_losses");
  r.gptqRatios = reader.reals("gptq_ratios");
  r.gptqRatioLosses = reader.reals("gptq_ratio_losses");
  r.destination = parseDestination(reader, "destination");
  r.target = reader.string("target");
  r.scales = reader.floats("scales");
  r.seconds = reader.real("seconds");
  const json &layers = reader.at("layer_reports");
  if (!layers.is_array())
    reader.fail("layer_reports", "expected an array");
  for (const json &layer : layers)
    group.layers.push_back(layerReportFromJson(
        layer, where + ": layer " + std::to_string(group.layers.size())));
  group.tensors = reader.strings("tensors");
  group.sha256 = reader.string("sha256");
  return group;
}

json measuredWidthsToJson(size_t group,
                          const std::vector<std::pair<int, double>> &errors) {
  json list = json::array();
  for (const auto &[bits, error] : errors)
    list.push_back({bits, doubleToJson(error, RecordStyle::Exact)});
  return {{"kind", "widths"}, {"group", group}, {"errors", std::move(list)}};
}

std::pair<size_t, std::vector<std::pair<int, double>>>
measuredWidthsFromJson(const json &record, const std::string &where) {
  const RecordReader reader(record, where);
  const int64_t group = reader.integer("group");
  if (group < 0)
    reader.fail("group", "is negative");
  const json &list = reader.at("errors");
  if (!list.is_array())
    reader.fail("errors", "expected an array");
  std::vector<std::pair<int, double>> errors;
  for (const json &entry : list) {
    if (!entry.is_array() || entry.size() != 2 || !entry[0].is_number_integer())
      reader.fail("errors", "expected [bits, error] pairs");
    errors.push_back({entry[0].get<int>(), reader.decode(entry[1], "errors")});
  }
  return {static_cast<size_t>(group), std::move(errors)};
}

std::string QuantizeJournal::directoryFor(const std::string &output) {
  return fixedSiblingPath(output, "partial");
}

QuantizeJournal::QuantizeJournal(std::string dir, int lockFd)
    : dir_(std::move(dir)), lockFd_(lockFd) {}

QuantizeJournal::~QuantizeJournal() {
  if (journalFd_ >= 0)
    ::close(journalFd_);
  if (lockFd_ >= 0)
    ::close(lockFd_);
}

std::string QuantizeJournal::checkpointDirectory() const {
  return (fs::path(dir_) / "checkpoint").string();
}

std::unique_ptr<QuantizeJournal>
QuantizeJournal::create(const std::string &dir,
                        const RunFingerprint &fingerprint) {
  if (::mkdir(dir.c_str(), 0777) != 0)
    throw Error(
        dir + ": cannot create the state directory of the run: " + errnoText());
  std::unique_ptr<QuantizeJournal> journal(
      new QuantizeJournal(dir, lockDirectory(dir)));
  journal->fingerprint_ = fingerprint;
  json fields = json::array();
  for (const auto &[name, value] : fingerprint)
    fields.push_back({name, value});
  // The fingerprint is complete on disk before any work is journaled.
  writeFileAtomically((fs::path(dir) / "fingerprint.json").string(),
                      fields.dump(2) + "\n");
  const std::string journalPath = (fs::path(dir) / "journal").string();
  journal->journalFd_ =
      ::open(journalPath.c_str(),
             O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0666);
  if (journal->journalFd_ < 0)
    throw Error(journalPath + ": cannot create it: " + errnoText());
  const std::string checkpoint = journal->checkpointDirectory();
  if (::mkdir(checkpoint.c_str(), 0777) != 0)
    throw Error(checkpoint + ": cannot create it: " + errnoText());
  syncDirectory(dir);
  syncDirectory(fs::path(dir).parent_path().empty()
                    ? "."
                    : fs::path(dir).parent_path().string());
  return journal;
}

std::unique_ptr<QuantizeJournal> QuantizeJournal::open(const std::string &dir) {
  std::unique_ptr<QuantizeJournal> journal(
      new QuantizeJournal(dir, lockDirectory(dir)));
  const std::string fingerprintPath =
      (fs::path(dir) / "fingerprint.json").string();
  std::ifstream fingerprintFile(fingerprintPath);
  std::stringstream text;
  text << fingerprintFile.rdbuf();
  const json fields = json::parse(text.str(), nullptr, false);
  if (!fingerprintFile || !fields.is_array())
    throw Error(fingerprintPath +
                ": missing or unreadable; the state of the interrupted run "
                "is incomplete");
  for (const json &field : fields) {
    if (!field.is_array() || field.size() != 2 || !field[0].is_string() ||
        !field[1].is_string())
      throw Error(fingerprintPath + ": expected [name, value] pairs");
    journal->fingerprint_.push_back(
        {field[0].get<std::string>(), field[1].get<std::string>()});
  }

  const std::string journalPath = (fs::path(dir) / "journal").string();
  std::ifstream in(journalPath, std::ios::binary);
  if (!in)
    throw Error(journalPath + ": missing; the state of the interrupted run "
                              "is incomplete");
  std::stringstream content;
  content << in.rdbuf();
  const std::string all = content.str();
  size_t intact = 0; // Bytes up to the end of the last good line.
  size_t lineNumber = 0;
  for (size_t begin = 0; begin < all.size();) {
    ++lineNumber;
    const size_t end = all.find('\n', begin);
    const std::string line =
        all.substr(begin, end == std::string::npos ? end : end - begin);
    json record;
    bool good = false;
    if (line.size() > 17 && line[16] == ' ') {
      const std::string body = line.substr(17);
      char expected[17];
      std::snprintf(expected, sizeof(expected), "%016" PRIx64,
                    static_cast<uint64_t>(llvm::xxh3_64bits(body)));
      if (line.compare(0, 16, expected) == 0) {
        record = json::parse(body, nullptr, false);
        good = record.is_object() && !record.is_discarded();
      }
    }
    const bool last = end == std::string::npos ||
                      all.find_first_not_of('\0', end + 1) == std::string::npos;
    if (!good || end == std::string::npos) {
      // A crash while appending tears at most the last line.
      if (last)
        break;
      throw Error(journalPath + ": line " + std::to_string(lineNumber) +
                  " is damaged; pass --force (without --resume) to start "
                  "over");
    }
    journal->records_.push_back(std::move(record));
    begin = end + 1;
    intact = begin;
  }
  journal->journalFd_ =
      ::open(journalPath.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (journal->journalFd_ < 0)
    throw Error(journalPath + ": cannot open it: " + errnoText());
  if (intact != all.size() && ::ftruncate(journal->journalFd_, intact) != 0)
    throw Error(journalPath +
                ": cannot drop its torn last line: " + errnoText());
  return journal;
}

void QuantizeJournal::discard(const std::string &dir) {
  const int fd = lockDirectory(dir);
  std::error_code ec;
  fs::remove_all(dir, ec);
  ::close(fd);
  if (ec)
    throw Error(dir + ": cannot remove the state of the interrupted run: " +
                ec.message());
}

void QuantizeJournal::append(const json &record) {
  const std::string body = record.dump();
  char prefix[18];
  std::snprintf(prefix, sizeof(prefix), "%016" PRIx64 " ",
                static_cast<uint64_t>(llvm::xxh3_64bits(body)));
  const std::string path = (fs::path(dir_) / "journal").string();
  writeAll(journalFd_, prefix + body + "\n", path);
  if (::fsync(journalFd_) != 0)
    throw Error(path + ": fsync failed: " + errnoText());
  ++appended_;
}

void QuantizeJournal::remove() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
  if (journalFd_ >= 0)
    ::close(journalFd_);
  journalFd_ = -1;
  if (lockFd_ >= 0)
    ::close(lockFd_);
  lockFd_ = -1;
  if (ec)
    throw Error(dir_ + ": cannot remove the state of the run: " + ec.message());
}

} // namespace awq
