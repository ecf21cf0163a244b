//===- AwqcOptions.h - The option table of awqc and its subcommands -------===//
//
// Option IDs generated from AwqcOptions.td; the table itself is built once.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_FRONTEND_AWQCOPTIONS_H
#define AWQ_COMPILER_FRONTEND_AWQCOPTIONS_H

#include "llvm/Option/OptTable.h"

namespace awq::awqc_options {

enum ID : unsigned {
  OPT_INVALID = 0,
#define OPTION(...) LLVM_MAKE_OPT_ID(__VA_ARGS__),
#include "compiler/frontend/AwqcOptions.inc"
#undef OPTION
};

/// The awqc option table (every subcommand's options).
const llvm::opt::OptTable &table();

} // namespace awq::awqc_options

#endif // AWQ_COMPILER_FRONTEND_AWQCOPTIONS_H
