//===- ArgParser.cpp - Command-line parsing for the awqc subcommands ------===//

#include "compiler/driver/ArgParser.h"

#include <cerrno>
#include <cstdlib>
#include <limits>
#include <sstream>

namespace awq {

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

void ArgParser::addFlag(std::vector<std::string> names, std::string help) {
  specs_.push_back({std::move(names), "", std::move(help)});
}

void ArgParser::addOption(std::vector<std::string> names, std::string metavar,
                          std::string help) {
  specs_.push_back({std::move(names), std::move(metavar), std::move(help)});
}

void ArgParser::addPositional(std::string metavar, std::string help) {
  positionalSpecs_.emplace_back(std::move(metavar), std::move(help));
}

const ArgParser::Spec *ArgParser::findSpec(const std::string &spelling) const {
  for (const Spec &spec : specs_)
    for (const std::string &name : spec.names)
      if (name == spelling)
        return &spec;
  return nullptr;
}

void ArgParser::fail(const std::string &message) const {
  throw UsageError(message + "\nRun '" + command_ + " --help' for usage.");
}

void ArgParser::parse(const std::vector<std::string> &args) {
  bool optionsEnded = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &arg = args[i];
    if (optionsEnded || arg.size() < 2 || arg[0] != '-') {
      positionals_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      optionsEnded = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      help_ = true;
      return;
    }
    std::string spelling = arg;
    std::optional<std::string> inlineValue;
    const size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      spelling = arg.substr(0, eq);
      inlineValue = arg.substr(eq + 1);
    }
    const Spec *spec = findSpec(spelling);
    if (!spec)
      fail("unknown option '" + spelling + "'");
    const std::string &canonical = spec->names.front();
    if (values_.count(canonical))
      fail("option '" + spelling + "' given more than once");
    if (spec->metavar.empty()) {
      if (inlineValue)
        fail("option '" + spelling + "' takes no value");
      values_[canonical] = "";
      continue;
    }
    if (inlineValue) {
      values_[canonical] = *inlineValue;
    } else {
      if (i + 1 >= args.size())
        fail("option '" + spelling + "' expects a value (" + spec->metavar +
             ")");
      values_[canonical] = args[++i];
    }
  }
  if (positionals_.size() != positionalSpecs_.size()) {
    std::string expected;
    for (const auto &[metavar, help] : positionalSpecs_)
      expected += (expected.empty() ? "" : " ") + metavar;
    if (positionals_.size() < positionalSpecs_.size())
      fail("missing argument " + positionalSpecs_[positionals_.size()].first +
           " (expected: " + expected + ")");
    fail("unexpected argument '" + positionals_[positionalSpecs_.size()] +
         "' (expected: " + (expected.empty() ? "no arguments" : expected) +
         ")");
  }
}

bool ArgParser::flag(const std::string &name) const {
  return values_.count(name) != 0;
}

bool ArgParser::has(const std::string &name) const {
  return values_.count(name) != 0;
}

std::optional<std::string> ArgParser::value(const std::string &name) const {
  auto it = values_.find(name);
  if (it == values_.end())
    return std::nullopt;
  return it->second;
}

std::string ArgParser::required(const std::string &name) const {
  std::optional<std::string> text = value(name);
  if (!text || text->empty())
    fail("missing required option " + name);
  return *text;
}

std::optional<int64_t> ArgParser::intValue(const std::string &name, int64_t min,
                                           int64_t max) const {
  std::optional<std::string> text = value(name);
  if (!text)
    return std::nullopt;
  std::optional<int64_t> parsed = parseInteger(*text, min, max);
  if (!parsed)
    fail("option '" + name + "' expects an integer in [" + std::to_string(min) +
         ", " + std::to_string(max) + "], got '" + *text + "'");
  return parsed;
}

std::optional<uint64_t>
ArgParser::byteSizeValue(const std::string &name) const {
  std::optional<std::string> text = value(name);
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
    fail("option '" + name +
         "' expects a byte count such as 500MB, 2GiB or 1000000, got '" +
         *text + "'");
  return static_cast<uint64_t>(*count) * unit;
}

std::optional<std::string>
ArgParser::choiceValue(const std::string &name,
                       const std::vector<std::string> &choices) const {
  std::optional<std::string> text = value(name);
  if (!text)
    return std::nullopt;
  std::string list;
  for (const std::string &choice : choices) {
    if (*text == choice)
      return text;
    list += (list.empty() ? "" : ", ") + choice;
  }
  fail("option '" + name + "' expects one of " + list + ", got '" + *text +
       "'");
}

std::string ArgParser::usage(const std::string &summary) const {
  std::ostringstream out;
  out << "Usage: " << command_;
  for (const auto &[metavar, help] : positionalSpecs_)
    out << " " << metavar;
  out << " [options]\n\n" << summary << "\n";
  auto line = [&](const std::string &left, const std::string &help) {
    out << "  " << left;
    if (left.size() < 28)
      out << std::string(28 - left.size(), ' ');
    else
      out << "\n" << std::string(30, ' ');
    out << help << "\n";
  };
  if (!positionalSpecs_.empty()) {
    out << "\nArguments:\n";
    for (const auto &[metavar, help] : positionalSpecs_)
      line(metavar, help);
  }
  out << "\nOptions:\n";
  for (const Spec &spec : specs_) {
    std::string left;
    for (const std::string &name : spec.names)
      left += (left.empty() ? "" : ", ") + name;
    if (!spec.metavar.empty())
      left += " " + spec.metavar;
    line(left, spec.help);
  }
  line("-h, --help", "Show this help and exit.");
  return out.str();
}

} // namespace awq
