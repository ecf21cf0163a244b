//===- awq-kernel-stats.cpp - The static kernel report --------------------===//
//
// awq-kernel-stats [INPUT] [--target sm_90,...] [--json]: see
// compiler/kernelstats/KernelStatsCommand.h and docs/kernels.md.
//
//===----------------------------------------------------------------------===//
#include "compiler/kernelstats/KernelStatsCommand.h"

#include <iostream>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  return awq::runKernelStatsCommand(
      std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
