//===- CommandLine.cpp - Parse a tool's arguments with an OptTable --------===//

#include "compiler/frontend/CommandLine.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/Option/Arg.h"
#include "llvm/Option/Option.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <map>

#ifndef AWQC_VERSION
#error "AWQC_VERSION must be defined by the build"
#endif

namespace awq {

using llvm::opt::Arg;
using llvm::opt::Option;

std::optional<int64_t> parseInteger(const std::string &text, int64_t min,
                                    int64_t max) {
  if (text.empty() || text.size() > 20)
    return std::nullopt;
  size_t i = text[0] == '-' || text[0] == '+' ? 1 : 0;
  if (i == text.size())
    return std::nullopt;
  for (size_t j = i; j < text.size(); ++j)
    if (text[j] < '0' || text[j] > '9')
      return std::nullopt;
  errno = 0;
  char *end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (errno == ERANGE || *end != '\0' || value < min || value > max)
    return std::nullopt;
  return static_cast<int64_t>(value);
}

CommandArguments::CommandArguments(const llvm::opt::OptTable &table,
                                   CommandSpec spec,
                                   const std::vector<std::string> &args)
    : table_(table), spec_(std::move(spec)), storage_(args) {
  std::vector<const char *> pointers;
  for (const std::string &arg : storage_)
    pointers.push_back(arg.c_str());
  unsigned missingIndex = 0, missingCount = 0;
  args_ = table_.ParseArgs(pointers, missingIndex, missingCount);
  if (spec_.helpOption && args_.hasArg(spec_.helpOption)) {
    help_ = true;
    return;
  }
  std::map<unsigned, int> occurrences;
  for (const Arg *arg : args_) {
    const Option option = arg->getOption();
    if (option.getKind() == Option::InputClass) {
      positionals_.push_back(arg->getValue());
      continue;
    }
    const std::string text = arg->getAsString(args_);
    if (option.getKind() == Option::UnknownClass) {
      // `--quiet=1`: a known flag given a value.
      const size_t eq = text.find('=');
      std::string exact;
      if (eq != std::string::npos &&
          table_.findExact(text.substr(0, eq), exact))
        fail("option '" + text.substr(0, eq) + "' takes no value");
      fail("unknown option '" + text + "'");
    }
    if (!spec_.subcommand.empty() && !option.isRegisteredSC(spec_.subcommand))
      fail("unknown option '" + std::string(arg->getSpelling()) + "'");
    const unsigned id = option.getID();
    if (++occurrences[id] > 1 &&
        std::find(spec_.repeatable.begin(), spec_.repeatable.end(), id) ==
            spec_.repeatable.end())
      fail("option '" + spelling(id) + "' given more than once");
  }
  if (missingCount > 0) {
    const std::string given = args_.getArgString(missingIndex);
    std::string metavar;
    for (unsigned id = 1; id <= table_.getNumOptions(); ++id)
      if (table_.getOption(id).getPrefixedName() == llvm::StringRef(given))
        metavar = table_.getOptionMetaVar(id);
    fail("option '" + given + "' expects a value" +
         (metavar.empty() ? std::string() : " (" + metavar + ")"));
  }
  const std::vector<std::string> &expected = spec_.positionals;
  const size_t most = expected.size() + spec_.optionalPositionals.size();
  if (positionals_.size() < expected.size() || positionals_.size() > most) {
    std::string list;
    for (const std::string &name : expected)
      list += (list.empty() ? "" : " ") + name;
    for (const std::string &name : spec_.optionalPositionals)
      list += (list.empty() ? "[" : " [") + name + "]";
    if (positionals_.size() < expected.size())
      fail("missing argument " + expected[positionals_.size()] +
           " (expected: " + list + ")");
    fail("unexpected argument '" + positionals_[most] +
         "' (expected: " + (list.empty() ? "no arguments" : list) + ")");
  }
}

std::string CommandArguments::spelling(unsigned option) const {
  return table_.getOption(option).getPrefixedName().str();
}

void CommandArguments::fail(const std::string &message) const {
  throw UsageError(message + "\nRun '" + spec_.command + " --help' for usage.");
}

bool CommandArguments::flag(unsigned option) const {
  return args_.hasArg(option);
}

std::optional<std::string> CommandArguments::value(unsigned option) const {
  const Arg *arg = args_.getLastArg(option);
  if (!arg)
    return std::nullopt;
  return std::string(arg->getValue());
}

std::vector<std::string> CommandArguments::values(unsigned option) const {
  std::vector<std::string> result;
  for (const std::string &value : args_.getAllArgValues(option))
    result.push_back(value);
  return result;
}

std::string CommandArguments::required(unsigned option) const {
  std::optional<std::string> text = value(option);
  if (!text || text->empty())
    fail("missing required option " + spelling(option));
  return *text;
}

int64_t CommandArguments::intValue(unsigned option, const std::string &text,
                                   int64_t min, int64_t max) const {
  std::optional<int64_t> parsed = parseInteger(text, min, max);
  if (!parsed)
    fail("option '" + spelling(option) + "' expects an integer in [" +
         std::to_string(min) + ", " + std::to_string(max) + "], got '" + text +
         "'");
  return *parsed;
}

std::optional<int64_t> CommandArguments::intValue(unsigned option, int64_t min,
                                                  int64_t max) const {
  std::optional<std::string> text = value(option);
  if (!text)
    return std::nullopt;
  return intValue(option, *text, min, max);
}

std::optional<uint64_t> CommandArguments::byteSizeValue(unsigned option) const {
  std::optional<std::string> text = value(option);
  if (!text)
    return std::nullopt;
  static const std::pair<const char *, uint64_t> kSuffixes[] = {
      {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30},
      {"KB", 1000ull},     {"MB", 1000000ull},  {"GB", 1000000000ull},
      {"B", 1ull}};
  std::string digits = *text;
  uint64_t unit = 1;
  for (const auto &[suffix, multiplier] : kSuffixes) {
    const std::string s = suffix;
    if (digits.size() > s.size() &&
        digits.compare(digits.size() - s.size(), s.size(), s) == 0) {
      digits.resize(digits.size() - s.size());
      unit = multiplier;
      break;
    }
  }
  const int64_t maxCount =
      static_cast<int64_t>(std::numeric_limits<int64_t>::max() / unit);
  std::optional<int64_t> count = parseInteger(digits, 0, maxCount);
  if (!count)
    fail("option '" + spelling(option) +
         "' expects a byte count such as 500MB, 2GiB or 1000000, got '" +
         *text + "'");
  return static_cast<uint64_t>(*count) * unit;
}

std::optional<std::string>
CommandArguments::choiceValue(unsigned option,
                              const std::vector<std::string> &choices) const {
  std::optional<std::string> text = value(option);
  if (!text)
    return std::nullopt;
  std::string list;
  for (const std::string &choice : choices) {
    if (*text == choice)
      return text;
    list += (list.empty() ? "" : ", ") + choice;
  }
  fail("option '" + spelling(option) + "' expects one of " + list + ", got '" +
       *text + "'");
}

void CommandArguments::printHelp(std::ostream &out, const std::string &usage,
                                 const std::string &overview) const {
  std::string text;
  llvm::raw_string_ostream stream(text);
  table_.printHelp(stream, usage.c_str(), overview.c_str(),
                   /*ShowHidden=*/false, /*ShowAllAliases=*/false,
                   llvm::opt::Visibility(), spec_.subcommand);
  // The help option belongs to the top level of a table with subcommands.
  if (!spec_.subcommand.empty())
    text += "  -h, --help     Show this help and exit\n";
  out << text;
}

void printTopLevelHelp(const llvm::opt::OptTable &table, std::ostream &out,
                       const std::string &usage, const std::string &overview) {
  std::string text;
  llvm::raw_string_ostream stream(text);
  table.printHelp(stream, usage.c_str(), overview.c_str());
  out << text;
}

std::string versionString(const std::string &tool) {
  return tool + " " AWQC_VERSION " (LLVM " LLVM_VERSION_STRING ")";
}

} // namespace awq
