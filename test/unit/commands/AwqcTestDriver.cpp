//===- AwqcTestDriver.cpp - Stand-in awqc main for the driver's tests -----===//
//
// Dispatches `quantize`, `inspect` and `synth` to compiler/commands exactly as
// the awqc tool does, so the lit tests in test/lit/awqc can run before (and
// independently of) the real tool.
//
//===----------------------------------------------------------------------===//

#include "compiler/commands/Commands.h"

#include <iostream>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " quantize|inspect|synth [args...]\n";
    return 2;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "quantize")
    return awq::runQuantizeCommand(args, std::cout, std::cerr);
  if (command == "inspect")
    return awq::runInspectCommand(args, std::cout, std::cerr);
  if (command == "synth")
    return awq::runSynthCommand(args, std::cout, std::cerr);
  std::cerr << argv[0] << ": unknown command '" << command
            << "' (expected quantize, inspect or synth)\n";
  return 2;
}
