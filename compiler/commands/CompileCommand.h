//===- CompileCommand.h - `awqc compile`: a model to kernels --------------===//
#ifndef AWQ_COMPILER_COMMANDS_COMPILECOMMAND_H
#define AWQ_COMPILER_COMMANDS_COMPILECOMMAND_H

#include <ostream>
#include <string>
#include <vector>

namespace awq {

/// awqc compile INPUT -o DIR [--target sm_XX] [--families both|gemv|gemm]
///                    [--gemm-min-m N] [--force]
/// INPUT is an awq IR file, a model description or a quantized checkpoint
/// directory. DIR receives kernels.mlir (kernel-level IR), one CUDA source
/// per kernel under kernels/, and manifest.json describing every kernel and
/// how to launch it. DIR is written as a whole (StagingDirectory): a failure
/// leaves nothing behind, an existing DIR is replaced only with --force and
/// only if it is an earlier awqc compile output, and never is INPUT or holds
/// it. Returns the exit code: 0, 1 on bad input, 2 on a command-line mistake.
int runCompileCommand(const std::vector<std::string> &args, std::ostream &out,
                      std::ostream &err);

} // namespace awq

#endif // AWQ_COMPILER_COMMANDS_COMPILECOMMAND_H
