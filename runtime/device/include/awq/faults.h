//===- faults.h - Fault injection hooks for the test suite ----------------===//
//
// Every fault the test suite injects into the device library, in one place.
// A test compiles kernels with one of these macros defined and must then see
// its comparison with the reference fail (test/unit/device's nibble-order
// tests, test/unit/execute/BrokenKernelsTest.cpp). Nothing else defines
// them; the kernels read the flags below with `if constexpr`, so a normal
// build contains no trace of them.
//
//   AWQ_FAULT_WRONG_NIBBLE_ORDER    4-bit decoders assume sequential nibble
//                                   order instead of AutoAWQ's (dequant.cuh)
//   AWQ_FAULT_SKIP_BARRIER          the GEMM pipeline skips the barrier after
//                                   cp.async's wait (gemm.cuh)
//   AWQ_FAULT_WRONG_FRAGMENT_INDEX  the GEMM swaps A fragment registers 1 and
//                                   2 (gemm.cuh)
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_DEVICE_FAULTS_H
#define AWQ_DEVICE_FAULTS_H

namespace awq::faults {

#if defined(AWQ_FAULT_WRONG_NIBBLE_ORDER)
constexpr bool kWrongNibbleOrder = true;
#else
constexpr bool kWrongNibbleOrder = false;
#endif

#if defined(AWQ_FAULT_SKIP_BARRIER)
constexpr bool kSkipBarrier = true;
#else
constexpr bool kSkipBarrier = false;
#endif

#if defined(AWQ_FAULT_WRONG_FRAGMENT_INDEX)
constexpr bool kWrongFragmentIndex = true;
#else
constexpr bool kWrongFragmentIndex = false;
#endif

} // namespace awq::faults

#endif // AWQ_DEVICE_FAULTS_H
