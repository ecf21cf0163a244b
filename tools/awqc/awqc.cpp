//===- awqc.cpp - The awqc command: quantize, compile, inspect ------------===//
#include "compiler/compile/CompileCommand.h"
#include "compiler/driver/Commands.h"
#include "runtime/support/Error.h"

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

const char *kUsage =
    "usage: awqc <command> [options]\n"
    "commands:\n"
    "  quantize  FP16 model + calibration activations -> AWQ checkpoint\n"
    "  compile   model (IR, description or checkpoint) -> CUDA kernels + "
    "manifest\n"
    "  inspect   summarise a safetensors file, checkpoint or description\n"
    "  synth     write a synthetic LLaMA-shaped FP16 model and calibration "
    "set\n"
    "Run `awqc <command> --help` for a command's options.\n";

} // namespace

int main(int argc, char **argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") ||
      !std::strcmp(argv[1], "-h")) {
    (argc < 2 ? std::cerr : std::cout) << kUsage;
    return argc < 2 ? 2 : 0;
  }
  std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (command == "quantize")
      return awq::runQuantizeCommand(args, std::cout, std::cerr);
    if (command == "inspect")
      return awq::runInspectCommand(args, std::cout, std::cerr);
    if (command == "synth")
      return awq::runSynthCommand(args, std::cout, std::cerr);
    if (command == "compile")
      return awq::runCompileCommand(args, std::cout, std::cerr);
  } catch (const std::exception &error) {
    std::cerr << "awqc " << command << ": error: " << error.what() << "\n";
    return 1;
  }
  std::cerr << "awqc: unknown command '" << command << "'\n" << kUsage;
  return 2;
}
