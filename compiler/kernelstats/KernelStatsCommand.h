//===- KernelStatsCommand.h - awq-kernel-stats: the static kernel report --===//
//
// awq-kernel-stats [INPUT] [--target sm_90,...] [--rows M,...] [--json]
// INPUT as for `awqc compile` (IR, model description or checkpoint); without
// it, the LLaMA-2-7B block of examples/llama-2-7b-block.json (the 7B
// benchmark shapes). Every kernel the compiler emits for each target is
// compiled with NVRTC, disassembled and reported (KernelStats.h).
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_KERNELSTATS_KERNELSTATSCOMMAND_H
#define AWQ_COMPILER_KERNELSTATS_KERNELSTATSCOMMAND_H

#include "compiler/bundle/BundleBuilder.h"
#include "runtime/kernels/KernelInstance.h"

#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace awq {

/// examples/llama-2-7b-block.json in the source tree (written by
/// `scripts/llama-description --preset 7b --layers 1`).
std::string defaultKernelStatsInput();

/// What `awqc compile` makes of `input` planned for `target` with
/// `families` ("both", "gemv" or "gemm"): the distinct kernels (name,
/// instance) and every layer with the kernels it runs up to M = maxM.
/// Throws awq::Error with the compiler's diagnostics.
struct CompiledKernels {
  std::vector<std::pair<std::string, KernelInstance>> kernels;
  std::vector<LayerKernels> layers;
};
CompiledKernels compileKernels(const std::string &input,
                               const std::string &target,
                               const std::string &families, int64_t maxM = 1);

/// compileKernels(...).kernels.
std::vector<std::pair<std::string, KernelInstance>>
compileKernelInstances(const std::string &input, const std::string &target,
                       const std::string &families);

/// `args` excludes the program name; returns the exit code (0, 1 on bad
/// input or a missing disassembler, 2 on a command-line mistake).
int runKernelStatsCommand(const std::vector<std::string> &args,
                          std::ostream &out, std::ostream &err);

} // namespace awq

#endif // AWQ_COMPILER_KERNELSTATS_KERNELSTATSCOMMAND_H
