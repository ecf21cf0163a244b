//===- platform.cuh - One CUDA dialect for NVRTC, nvcc and the host -------===//
//
// Every device header includes this first. On the device (nvcc or NVRTC) it
// brings in <cuda_fp16.h>, <cuda_bf16.h> (the two activation types) and the
// fixed-width integer types; on the host (g++
// or clang++ compiling the same source for the CPU tests) it brings in the
// emulation of the CUDA subset the kernels may use (awq/host/emulation.h).
//
// The two macros the kernels need on both sides:
//   AWQ_DYNAMIC_SHARED(type, name)  declares `name`, a `type *const` to the
//       block's dynamic shared memory (16-byte aligned). Function scope only.
//   AWQ_HOST_ENTRY(kernel, ArgsType...) follows each kernel definition; on the
//       host it defines `extern "C" void kernel__host_entry(const void *)`,
//       the symbol the host executor (runtime/host) runs in every thread.
//   AWQ_TARGET_SM  the compute capability x 10 the kernels are compiled for:
//       __CUDA_ARCH__ / 10 on the device; on the host AWQ_HOST_SM, which the
//       host compiler defines for the architecture it emulates (default 80),
//       so the CPU tests run the same architecture paths as the GPU.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_DEVICE_PLATFORM_CUH
#define AWQ_DEVICE_PLATFORM_CUH

#if defined(__CUDA_ARCH__)
#define AWQ_TARGET_SM (__CUDA_ARCH__ / 10)
#elif defined(AWQ_HOST_SM)
#define AWQ_TARGET_SM AWQ_HOST_SM
#else
#define AWQ_TARGET_SM 80
#endif

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#if defined(__CUDACC_RTC__)
// NVRTC has no C library headers; these match glibc's LP64 choices so that a
// struct shared with the host (e.g. awq::LinearArgs) has the same layout.
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long int64_t;
typedef unsigned long uint64_t;
typedef long intptr_t;
typedef unsigned long uintptr_t;
#else
#include <cstddef>
#include <cstdint>
#endif

// One untyped extern array for every kernel of the source: extern __shared__
// arrays of one name but different element types would conflict.
#define AWQ_DYNAMIC_SHARED(type, name)                                         \
  extern __shared__ __align__(16) unsigned char awqDynamicSharedMemory[];      \
  type *const name = reinterpret_cast<type *>(awqDynamicSharedMemory)
#define AWQ_HOST_ENTRY(kernel, ...)

#elif defined(AWQ_HOST_ARGS_ONLY)
// Host code that only fills awq::LinearArgs (the runtime's launcher): the
// struct holds nothing but pointers to the element types, so half and
// __nv_bfloat16 are declared, not defined, and neither the emulation
// (Boost.Context) nor <cuda_fp16.h> / <cuda_bf16.h> is needed. The layout is
// the same struct's either way.
#include <cstddef>
#include <cstdint>
struct __half;
struct __half2;
typedef __half half;
struct __nv_bfloat16;
struct __nv_bfloat162;

#else // Host: the CPU emulation.

#include "awq/host/emulation.h"

#endif

#endif // AWQ_DEVICE_PLATFORM_CUH
