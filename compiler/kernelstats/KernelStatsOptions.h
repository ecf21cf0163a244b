//===- KernelStatsOptions.h - The option table of awq-kernel-stats --------===//
#ifndef AWQ_COMPILER_KERNELSTATS_KERNELSTATSOPTIONS_H
#define AWQ_COMPILER_KERNELSTATS_KERNELSTATSOPTIONS_H

#include "llvm/Option/OptTable.h"

namespace awq::kernel_stats_options {

enum ID : unsigned {
  OPT_INVALID = 0,
#define OPTION(...) LLVM_MAKE_OPT_ID(__VA_ARGS__),
#include "compiler/kernelstats/KernelStatsOptions.inc"
#undef OPTION
};

/// The awq-kernel-stats option table.
const llvm::opt::OptTable &table();

} // namespace awq::kernel_stats_options

#endif // AWQ_COMPILER_KERNELSTATS_KERNELSTATSOPTIONS_H
