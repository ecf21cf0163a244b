//===- Interrupt.cpp - Turn SIGINT/SIGTERM into a cancellation flag -------===//

#include "compiler/commands/Interrupt.h"

#include "runtime/support/Error.h"

#include <csignal>

namespace awq {

namespace {

// Only lock-free atomics and sig_atomic_t may be touched in a handler.
std::atomic<bool> interrupted{false};
volatile std::sig_atomic_t receivedSignal = 0;
std::atomic<bool> handlerActive{false};
struct sigaction previousInt, previousTerm;

static_assert(std::atomic<bool>::is_always_lock_free,
              "the signal handler needs a lock-free flag");

extern "C" void onInterrupt(int signo) {
  if (receivedSignal == 0)
    receivedSignal = signo;
  interrupted.store(true, std::memory_order_relaxed);
}

} // namespace

ScopedInterruptHandler::ScopedInterruptHandler() {
  if (handlerActive.exchange(true))
    throw Error("internal error: nested interrupt handlers");
  interrupted.store(false);
  receivedSignal = 0;
  struct sigaction action = {};
  action.sa_handler = &onInterrupt;
  sigemptyset(&action.sa_mask);
  // SA_RESTART: a signal during a write must not turn into a failed write;
  // the flag is checked between units of work instead.
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, &previousInt);
  sigaction(SIGTERM, &action, &previousTerm);
}

ScopedInterruptHandler::~ScopedInterruptHandler() {
  sigaction(SIGINT, &previousInt, nullptr);
  sigaction(SIGTERM, &previousTerm, nullptr);
  handlerActive.store(false);
}

const std::atomic<bool> *ScopedInterruptHandler::flag() const {
  return &interrupted;
}

int ScopedInterruptHandler::signal() const {
  return static_cast<int>(receivedSignal);
}

} // namespace awq
