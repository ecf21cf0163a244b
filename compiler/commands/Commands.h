//===- Commands.h - The awqc subcommands quantize, inspect and synth ------===//
//
// Entry points the awqc tool dispatches to. Each parses its own arguments,
// prints to the given streams and returns the process exit code: 0 on
// success, 1 on bad input (awq::Error, printed as "awqc <cmd>: error: ..."),
// 2 on a command-line mistake, 128 + signo when interrupted.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_COMMANDS_COMMANDS_H
#define AWQ_COMPILER_COMMANDS_COMMANDS_H

#include <ostream>
#include <string>
#include <vector>

namespace awq {

/// `args` excludes the program name and the subcommand; returns the process
/// exit code.
int runQuantizeCommand(const std::vector<std::string> &args, std::ostream &out,
                       std::ostream &err);
int runInspectCommand(const std::vector<std::string> &args, std::ostream &out,
                      std::ostream &err);
int runSynthCommand(const std::vector<std::string> &args, std::ostream &out,
                    std::ostream &err);

} // namespace awq

#endif // AWQ_COMPILER_COMMANDS_COMMANDS_H
