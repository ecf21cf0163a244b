//===- QuantizeRunTestSupport.h - Interrupted and failing quantize runs ---===//
//
// The journal and resume tests run awqc quantize on a synthetic model, stop
// it after some input groups and read the error a run or a journal throws.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_TEST_UNIT_QUANTIZE_QUANTIZERUNTESTSUPPORT_H
#define AWQ_TEST_UNIT_QUANTIZE_QUANTIZERUNTESTSUPPORT_H

#include "test/unit/commands/CommandsTestSupport.h"

#include "compiler/quantize/Cancellation.h"
#include "compiler/quantize/QuantizeModel.h"
#include "runtime/support/Error.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <string>

namespace awq::test {

/// The message of the awq::Error that `run` throws: "cancelled" for
/// awq::Cancelled (so a test sees a stop it did not ask for), "no error"
/// when it returns.
inline std::string errorOf(const std::function<void()> &run) {
  try {
    run();
  } catch (const Cancelled &) {
    return "cancelled";
  } catch (const Error &e) {
    return e.what();
  }
  return "no error";
}

/// Quantizes `dir`/fp16 (written by test::synthesize) with its calibration
/// into `dir`/`output`, on one thread so runs compare byte for byte.
inline ModelQuantizeOptions syntheticModelOptions(const TempDir &dir,
                                                  const std::string &output) {
  ModelQuantizeOptions options;
  options.model = dir / "fp16";
  options.calibration = dir / "fp16/calibration.safetensors";
  options.output = dir / output;
  options.threads = 1;
  return options;
}

/// Runs `options` until `finished` input groups are journaled, then
/// cancels it, as an interrupt would.
inline void interruptAfterGroups(ModelQuantizeOptions options,
                                 size_t finished) {
  std::atomic<bool> cancel{false};
  options.cancel = &cancel;
  options.afterGroupJournaled = [&](size_t done) {
    if (done == finished)
      cancel = true;
  };
  EXPECT_THROW(quantizeModel(options), Cancelled);
}

} // namespace awq::test

#endif // AWQ_TEST_UNIT_QUANTIZE_QUANTIZERUNTESTSUPPORT_H
