//===- awqc.cpp - The awqc command: quantize, compile, inspect, synth -----===//
#include "compiler/commands/Commands.h"
#include "compiler/commands/CompileCommand.h"
#include "compiler/frontend/AwqcOptions.h"
#include "compiler/frontend/CommandLine.h"

#include <iostream>
#include <string>
#include <vector>

namespace {

constexpr const char *kOverview =
    "awqc: a compiler for AWQ-quantized LLM linear layers.\n"
    "Run `awqc <command> --help` for a command's options.";

void printUsage(std::ostream &out) {
  awq::printTopLevelHelp(awq::awqc_options::table(), out,
                         "awqc <command> [options]", kOverview);
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    printUsage(std::cerr);
    return 2;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "--help" || command == "-h") {
    printUsage(std::cout);
    return 0;
  }
  if (command == "--version") {
    std::cout << awq::versionString("awqc") << "\n";
    return 0;
  }
  if (command == "quantize")
    return awq::runQuantizeCommand(args, std::cout, std::cerr);
  if (command == "inspect")
    return awq::runInspectCommand(args, std::cout, std::cerr);
  if (command == "synth")
    return awq::runSynthCommand(args, std::cout, std::cerr);
  if (command == "compile")
    return awq::runCompileCommand(args, std::cout, std::cerr);
  std::cerr << "awqc: unknown command '" << command
            << "' (expected compile, quantize, inspect or synth)\n";
  printUsage(std::cerr);
  return 2;
}
