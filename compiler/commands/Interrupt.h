//===- Interrupt.h - Turn SIGINT/SIGTERM into a cancellation flag ---------===//
//
// A long quantization run must stop cleanly on Ctrl-C: the handler only sets
// an atomic flag that the quantizer polls, so the run unwinds normally,
// writes no output and keeps only the finished groups for --resume. The
// previous handlers come back when the scope ends.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_COMMANDS_INTERRUPT_H
#define AWQ_COMPILER_COMMANDS_INTERRUPT_H

#include <atomic>

namespace awq {

class ScopedInterruptHandler {
public:
  /// Installs handlers for SIGINT and SIGTERM and clears the flag. Only one
  /// may be alive at a time (the flag is process-wide).
  ScopedInterruptHandler();
  ~ScopedInterruptHandler();
  ScopedInterruptHandler(const ScopedInterruptHandler &) = delete;
  ScopedInterruptHandler &operator=(const ScopedInterruptHandler &) = delete;

  /// Set by the first signal.
  const std::atomic<bool> *flag() const;
  /// The signal received, or 0.
  int signal() const;
  /// The conventional exit status for the signal received: 128 + signo.
  int exitCode() const { return 128 + signal(); }
};

} // namespace awq

#endif // AWQ_COMPILER_COMMANDS_INTERRUPT_H
