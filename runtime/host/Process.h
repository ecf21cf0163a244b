//===- Process.h - Run a program and capture its output -------------------===//
//
// The host executor runs the C++ compiler as a child process (no shell, so
// paths need no quoting) and shows its output when it fails.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_HOST_PROCESS_H
#define AWQ_RUNTIME_HOST_PROCESS_H

#include <string>
#include <vector>

namespace awq {
namespace host {

struct ProcessResult {
  int exitCode = -1;  ///< The exit status, or -1 if killed by a signal.
  int signal = 0;     ///< The terminating signal, 0 if it exited.
  std::string output; ///< stdout and stderr, interleaved.
};

/// Runs argv[0] (searched in PATH) with `argv`; throws awq::Error if it
/// cannot be started.
ProcessResult runProcess(const std::vector<std::string> &argv);

/// Splits a command such as "ccache g++ -fno-x" into words (whitespace only;
/// no quoting).
std::vector<std::string> splitCommand(const std::string &command);

/// Joins argv for display, quoting words that hold spaces.
std::string joinCommand(const std::vector<std::string> &argv);

} // namespace host
} // namespace awq

#endif // AWQ_RUNTIME_HOST_PROCESS_H
