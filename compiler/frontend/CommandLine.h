//===- CommandLine.h - Parse a tool's arguments with an OptTable ----------===//
//
// Every awq tool declares its options in TableGen (llvm/Option) and parses
// them here: unknown options, missing values, repeated options and a wrong
// number of positional arguments are UsageErrors naming the option and what
// was expected; values are converted with checked parsers (no silent atoi).
// Nothing is global, so a command can be run many times in one process.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_FRONTEND_COMMANDLINE_H
#define AWQ_COMPILER_FRONTEND_COMMANDLINE_H

#include "runtime/support/Error.h"

#include "llvm/Option/ArgList.h"
#include "llvm/Option/OptTable.h"

#include <cstdint>
#include <exception>
#include <iostream>
#include <new>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace awq {

/// A mistake on the command line (exit code 2), as opposed to bad input
/// files (awq::Error, exit code 1).
class UsageError : public Error {
public:
  explicit UsageError(const std::string &message) : Error(message) {}
};

/// How a command's command line looks, beyond its option table.
struct CommandSpec {
  /// Used in messages, e.g. "awqc quantize".
  std::string command;
  /// The subcommand of `table` whose options apply; empty for a table
  /// without subcommands.
  std::string subcommand;
  /// The option that asks for help (`--help`, `-h`).
  unsigned helpOption = 0;
  /// Names of the required positional arguments, in order.
  std::vector<std::string> positionals;
  /// Options that may be given more than once (list options).
  std::vector<unsigned> repeatable;
  /// Names of optional positional arguments after the required ones.
  std::vector<std::string> optionalPositionals;
};

/// One command line parsed against an option table.
class CommandArguments {
public:
  /// Parses `args` (without the program and subcommand names). Help
  /// anywhere sets helpRequested() and skips every other check. Throws
  /// UsageError on an unknown option (or one of another subcommand), a
  /// missing value, a value given to a flag, an option given twice, or a
  /// wrong number of positional arguments. `--` ends the options.
  CommandArguments(const llvm::opt::OptTable &table, CommandSpec spec,
                   const std::vector<std::string> &args);
  CommandArguments(const CommandArguments &) = delete;
  CommandArguments &operator=(const CommandArguments &) = delete;

  bool helpRequested() const { return help_; }
  const std::vector<std::string> &positionals() const { return positionals_; }

  bool flag(unsigned option) const;
  /// The option's (last) value; std::nullopt when absent.
  std::optional<std::string> value(unsigned option) const;
  /// Every value of a repeatable option, in order.
  std::vector<std::string> values(unsigned option) const;
  /// The value of an option the command cannot do without; throws
  /// UsageError when it is absent or empty.
  std::string required(unsigned option) const;
  /// The option's value as an integer in [min, max]; std::nullopt when the
  /// option was not given. Throws UsageError naming the option otherwise.
  std::optional<int64_t> intValue(unsigned option, int64_t min,
                                  int64_t max) const;
  /// An integer in [min, max] from `text`, a value of `option`.
  int64_t intValue(unsigned option, const std::string &text, int64_t min,
                   int64_t max) const;
  /// A byte count: a non-negative integer with an optional suffix KB, MB, GB
  /// (powers of 1000, as Hugging Face's max_shard_size) or KiB, MiB, GiB.
  std::optional<uint64_t> byteSizeValue(unsigned option) const;
  /// One of `choices`; throws UsageError listing them otherwise.
  std::optional<std::string>
  choiceValue(unsigned option, const std::vector<std::string> &choices) const;

  /// The option's canonical spelling, e.g. "--bits".
  std::string spelling(unsigned option) const;
  /// Throws UsageError: `message` and where to find the usage.
  [[noreturn]] void fail(const std::string &message) const;

  /// Writes the help of this command (its subcommand's options) to `out`.
  void printHelp(std::ostream &out, const std::string &usage,
                 const std::string &overview) const;

private:
  const llvm::opt::OptTable &table_;
  CommandSpec spec_;
  std::vector<std::string> storage_; ///< The strings `args_` points into.
  llvm::opt::InputArgList args_;
  std::vector<std::string> positionals_;
  bool help_ = false;
};

/// Parses a whole decimal integer in [min, max]; std::nullopt otherwise.
std::optional<int64_t> parseInteger(const std::string &text, int64_t min,
                                    int64_t max);

/// Writes a table's top-level help (its options and subcommands) to `out`.
void printTopLevelHelp(const llvm::opt::OptTable &table, std::ostream &out,
                       const std::string &usage, const std::string &overview);

/// "<tool> <version> (LLVM <version>)".
std::string versionString(const std::string &tool);

/// Runs `body`, turning exceptions into messages on `err` and exit codes:
/// UsageError 2, other errors 1.
template <typename Body>
int runGuarded(const std::string &command, std::ostream &err, Body &&body) {
  try {
    return body();
  } catch (const UsageError &e) {
    err << command << ": error: " << e.what() << "\n";
    return 2;
  } catch (const Error &e) {
    err << command << ": error: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc &) {
    err << command << ": error: out of memory\n";
    return 1;
  } catch (const std::exception &e) {
    err << command << ": internal error: " << e.what() << "\n";
    return 1;
  }
}

} // namespace awq

#endif // AWQ_COMPILER_FRONTEND_COMMANDLINE_H
