//===- KernelStatsOptions.cpp - The option table of awq-kernel-stats ------===//
#include "compiler/kernelstats/KernelStatsOptions.h"

#include "llvm/Option/Option.h"

namespace awq::kernel_stats_options {
namespace {
using namespace llvm::opt;

#define OPTTABLE_STR_TABLE_CODE
#include "compiler/kernelstats/KernelStatsOptions.inc"
#undef OPTTABLE_STR_TABLE_CODE

#define OPTTABLE_PREFIXES_TABLE_CODE
#include "compiler/kernelstats/KernelStatsOptions.inc"
#undef OPTTABLE_PREFIXES_TABLE_CODE

constexpr OptTable::Info kInfos[] = {
#define OPTION(...) LLVM_CONSTRUCT_OPT_INFO(__VA_ARGS__),
#include "compiler/kernelstats/KernelStatsOptions.inc"
#undef OPTION
};

class KernelStatsOptTable : public GenericOptTable {
public:
  KernelStatsOptTable()
      : GenericOptTable(OptionStrTable, OptionPrefixesTable, kInfos) {
    setDashDashParsing(true);
  }
};

} // namespace

const llvm::opt::OptTable &table() {
  static const KernelStatsOptTable instance;
  return instance;
}

} // namespace awq::kernel_stats_options
