//===- AwqcOptions.cpp - The option table of awqc and its subcommands -----===//

#include "compiler/frontend/AwqcOptions.h"

#include "llvm/Option/Option.h"

namespace awq::awqc_options {
namespace {
using namespace llvm::opt;

#define OPTTABLE_STR_TABLE_CODE
#include "compiler/frontend/AwqcOptions.inc"
#undef OPTTABLE_STR_TABLE_CODE

#define OPTTABLE_PREFIXES_TABLE_CODE
#include "compiler/frontend/AwqcOptions.inc"
#undef OPTTABLE_PREFIXES_TABLE_CODE

#define OPTTABLE_SUBCOMMAND_IDS_TABLE_CODE
#include "compiler/frontend/AwqcOptions.inc"
#undef OPTTABLE_SUBCOMMAND_IDS_TABLE_CODE

#define OPTTABLE_SUBCOMMANDS_CODE
#include "compiler/frontend/AwqcOptions.inc"
#undef OPTTABLE_SUBCOMMANDS_CODE

constexpr llvm::opt::OptTable::Info kInfos[] = {
#define OPTION(...) LLVM_CONSTRUCT_OPT_INFO(__VA_ARGS__),
#include "compiler/frontend/AwqcOptions.inc"
#undef OPTION
};

class AwqcOptTable : public llvm::opt::GenericOptTable {
public:
  AwqcOptTable()
      : GenericOptTable(OptionStrTable, OptionPrefixesTable, kInfos,
                        /*IgnoreCase=*/false, OptionSubCommands,
                        OptionSubCommandIDsTable) {
    setDashDashParsing(true);
  }
};

} // namespace

const llvm::opt::OptTable &table() {
  static const AwqcOptTable instance;
  return instance;
}

} // namespace awq::awqc_options
