//===- Cancellation.h - Cooperative cancellation of a quantization run ----===//
//
// Calibrating a large model takes minutes; a caller (the CLI on Ctrl-C, a
// server) sets an atomic flag and the quantizer stops at its next check by
// throwing awq::Cancelled, leaving no partial output behind.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_QUANTIZE_CANCELLATION_H
#define AWQ_COMPILER_QUANTIZE_CANCELLATION_H

#include "runtime/support/Error.h"

#include <atomic>
#include <string>

namespace awq {

/// Thrown when the caller's cancellation flag was observed set.
class Cancelled : public Error {
public:
  explicit Cancelled(const std::string &where)
      : Error(where + ": cancelled by the caller") {}
};

/// Throws awq::Cancelled naming `where` when `cancel` is non-null and set.
inline void throwIfCancelled(const std::atomic<bool> *cancel,
                             const std::string &where) {
  if (cancel != nullptr && cancel->load(std::memory_order_relaxed))
    throw Cancelled(where);
}

} // namespace awq

#endif // AWQ_COMPILER_QUANTIZE_CANCELLATION_H
