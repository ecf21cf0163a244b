//===- QuantizeJournal.h - Resumable state of an awqc quantize run
//---------===//
//
// `awqc quantize --resume` continues an interrupted run from its last
// finished input group. The state lives next to the output, in
// `.<OUT>.awqc-partial/`:
//
//   lock              flock()ed by the run that owns the state
//   fingerprint.json  everything that determines the result (written first)
//   journal           one line per finished step, appended and fsynced only
//                     after the step's tensors are fsynced
//   checkpoint/       the output being built (shards as *.partial files),
//                     renamed to OUT when complete
//
// A journal line is `<xxh3-64 of the JSON, 16 hex digits> <JSON>\n`; a torn
// last line (a crash while appending) is dropped, any other bad line is an
// error naming the journal and the line.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_QUANTIZE_QUANTIZEJOURNAL_H
#define AWQ_COMPILER_QUANTIZE_QUANTIZEJOURNAL_H

#include "compiler/quantize/QuantizeModel.h"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace awq {

/// What determines a run's output, field by field (e.g. {"--method",
/// "awq"}), so a refused resume can say what differs.
using RunFingerprint = std::vector<std::pair<std::string, std::string>>;

/// The fingerprint of quantizing `plan` with `options`: the awqc version and
/// the journal format, every input file's identity (fileIdentity) and every
/// option that changes the checkpoint (not --threads, --quiet, --report or
/// --force, which do not).
RunFingerprint runFingerprint(const ModelQuantizeOptions &options,
                              const ModelPlan &plan);

/// A file's identity without reading it all: its size, modification time
/// (ns) and the SHA-256 of its first 64 KiB (a safetensors header and more).
/// Throws awq::Error naming the file when it cannot be read.
std::string fileIdentity(const std::string &path);

/// One line per field that differs, e.g. "--method: was awq, now rtn";
/// empty when the fingerprints are equal.
std::vector<std::string> fingerprintDifferences(const RunFingerprint &recorded,
                                                const RunFingerprint &current);

/// What the journal keeps of a finished input group: enough to redo its
/// effects on later groups and on the checkpoint (its scales and where they
/// went) and to report it, without quantizing it again.
struct FinishedGroup {
  size_t step = 0; ///< Position in the processing order.
  GroupQuantReport report;
  std::vector<LayerQuantReport> layers;
  /// The tensors it wrote to the checkpoint, in order, and the SHA-256 (hex)
  /// of their bytes, checked against the partial shards on resume.
  std::vector<std::string> tensors;
  std::string sha256;
};

/// Exact round trips (doubles and floats by their bits, infinities too).
nlohmann::json finishedGroupToJson(const FinishedGroup &group);
/// Throws awq::Error naming `where` on a malformed record.
FinishedGroup finishedGroupFromJson(const nlohmann::json &record,
                                    const std::string &where);

/// --target-bits: a group's measured error at each candidate width.
nlohmann::json
measuredWidthsToJson(size_t group,
                     const std::vector<std::pair<int, double>> &errors);
std::pair<size_t, std::vector<std::pair<int, double>>>
measuredWidthsFromJson(const nlohmann::json &record, const std::string &where);

/// The lowercase hex of a SHA-256 digest.
std::string sha256Hex(const std::array<uint8_t, 32> &digest);

class QuantizeJournal {
public:
  /// `.<name>.awqc-partial` next to `output`.
  static std::string directoryFor(const std::string &output);

  /// Creates the state directory `dir` (which must not exist), locks it and
  /// writes the fingerprint durably. Throws awq::Error naming `dir`.
  static std::unique_ptr<QuantizeJournal>
  create(const std::string &dir, const RunFingerprint &fingerprint);

  /// Locks the existing state directory `dir` and reads its fingerprint and
  /// records. Throws awq::Error naming `dir` when another process holds the
  /// lock, and naming the file and line when the state is damaged (a state
  /// whose fingerprint was never written is damaged too).
  static std::unique_ptr<QuantizeJournal> open(const std::string &dir);

  /// Removes the state directory `dir` after taking its lock (so a live
  /// run's state is never removed). Throws awq::Error naming `dir` when it
  /// is locked or cannot be removed.
  static void discard(const std::string &dir);

  ~QuantizeJournal();
  QuantizeJournal(const QuantizeJournal &) = delete;
  QuantizeJournal &operator=(const QuantizeJournal &) = delete;

  const std::string &path() const { return dir_; }
  /// The directory that becomes the output.
  std::string checkpointDirectory() const;
  const RunFingerprint &fingerprint() const { return fingerprint_; }
  /// The intact records found by open(), in the order appended.
  const std::vector<nlohmann::json> &records() const { return records_; }
  /// Records found by open() plus those appended since.
  size_t recordCount() const { return records_.size() + appended_; }

  /// Appends `record` and fsyncs the journal before returning.
  void append(const nlohmann::json &record);

  /// Removes the state directory (the lock goes with it).
  void remove();

private:
  QuantizeJournal(std::string dir, int lockFd);

  std::string dir_;
  int lockFd_ = -1;
  int journalFd_ = -1;
  RunFingerprint fingerprint_;
  std::vector<nlohmann::json> records_;
  size_t appended_ = 0;
};

} // namespace awq

#endif // AWQ_COMPILER_QUANTIZE_QUANTIZEJOURNAL_H
