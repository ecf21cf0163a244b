//===- ArgParser.h - Command-line parsing for the awqc subcommands --------===//
//
// Each subcommand declares its options (flags and options with a value) and
// positional arguments; parse() checks the command line against them and
// reports every mistake as a UsageError naming the option and what was
// expected. Values are converted with checked parsers (no silent atoi).
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_DRIVER_ARGPARSER_H
#define AWQ_COMPILER_DRIVER_ARGPARSER_H

#include "runtime/support/Error.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace awq {

/// A mistake on the command line (exit code 2), as opposed to bad input
/// files (awq::Error, exit code 1).
class UsageError : public Error {
public:
  explicit UsageError(const std::string &message) : Error(message) {}
};

/// The declared options of one subcommand and, after parse(), their values.
class ArgParser {
public:
  /// `command` is used in messages, e.g. "awqc quantize".
  explicit ArgParser(std::string command) : command_(std::move(command)) {}

  /// Declares a flag (no value). `names` holds the spellings, e.g.
  /// {"--quiet", "-q"}; the first is the canonical one used for look-ups.
  void addFlag(std::vector<std::string> names, std::string help);
  /// Declares an option with a value (`--bits 4` or `--bits=4`).
  void addOption(std::vector<std::string> names, std::string metavar,
                 std::string help);
  /// Declares the positional arguments, in order; all are required.
  void addPositional(std::string metavar, std::string help);

  /// Parses `args`. `-h`/`--help` anywhere sets helpRequested() and stops
  /// checking. Throws UsageError on an unknown option, a missing value, a
  /// repeated option, or a wrong number of positional arguments. `--` ends
  /// the options.
  void parse(const std::vector<std::string> &args);

  bool helpRequested() const { return help_; }
  bool flag(const std::string &name) const;
  bool has(const std::string &name) const;
  std::optional<std::string> value(const std::string &name) const;
  const std::vector<std::string> &positionals() const { return positionals_; }

  /// The value of an option the command cannot do without; throws
  /// UsageError when it is absent or empty.
  std::string required(const std::string &name) const;
  /// The option's value as an integer in [min, max]; std::nullopt when the
  /// option was not given. Throws UsageError naming the option otherwise.
  std::optional<int64_t> intValue(const std::string &name, int64_t min,
                                  int64_t max) const;
  /// A byte count: a non-negative integer with an optional suffix KB, MB, GB
  /// (powers of 1000, as Hugging Face's max_shard_size) or KiB, MiB, GiB.
  std::optional<uint64_t> byteSizeValue(const std::string &name) const;
  /// One of `choices`; throws UsageError listing them otherwise.
  std::optional<std::string>
  choiceValue(const std::string &name,
              const std::vector<std::string> &choices) const;

  /// "Usage: ..." followed by the positional arguments and options, one per
  /// line with their help.
  std::string usage(const std::string &summary) const;

private:
  struct Spec {
    std::vector<std::string> names;
    std::string metavar; ///< Empty for flags.
    std::string help;
  };
  const Spec *findSpec(const std::string &spelling) const;
  [[noreturn]] void fail(const std::string &message) const;

  std::string command_;
  std::vector<Spec> specs_;
  std::vector<std::pair<std::string, std::string>> positionalSpecs_;
  std::map<std::string, std::string> values_; ///< Canonical name -> value.
  std::vector<std::string> positionals_;
  bool help_ = false;
};

/// Parses a whole decimal integer in [min, max]; std::nullopt otherwise.
std::optional<int64_t> parseInteger(const std::string &text, int64_t min,
                                    int64_t max);

} // namespace awq

#endif // AWQ_COMPILER_DRIVER_ARGPARSER_H
