//===- emulation.h - The CUDA subset, emulated for the host compiler ------===//
//
// awq/platform.cuh includes this when the kernel source is compiled by the
// host C++ compiler (g++ or clang++, -std=c++17) instead of NVRTC. It gives
// kernel code the CUDA vocabulary the device library contract allows:
//   - qualifiers: __global__ __device__ __host__ __forceinline__ __restrict__
//     __align__(n) __launch_bounds__(...) (no-ops or GCC attributes),
//     __shared__ (per-OS-thread static storage; prefer AWQ_DYNAMIC_SHARED);
//   - threadIdx, blockIdx, blockDim, gridDim, warpSize, dim3, the vector
//     types, half/half2 and __nv_bfloat16/__nv_bfloat162 with their
//     intrinsics (<cuda_fp16.h> and <cuda_bf16.h> compile for the host;
//     __hfma/__hfma2 are added for both);
//   - barriers, shuffles, votes, atomics and fences (awq/host/intrinsics.h);
//   - the inline-PTX replacements in awq/host/primitives.h;
//   - AWQ_DYNAMIC_SHARED and AWQ_HOST_ENTRY (see awq/platform.cuh).
// Kernels run through the host executor (runtime/host), which loads the
// compiled module and calls awq_host_run_block (awq/host/abi.h) per block.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_DEVICE_HOST_EMULATION_H
#define AWQ_DEVICE_HOST_EMULATION_H

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#error "awq/host/emulation.h is for the host compiler; include awq/platform.cuh"
#endif

// CUDA's host headers define __host__, __device__, __global__ and
// __launch_bounds__ as nothing and __forceinline__/__align__ as GCC
// attributes when no CUDA compiler is at work.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <vector_types.h>

#include "awq/host/intrinsics.h"
#include "awq/host/primitives.h"
#include "awq/host/scheduler.h"

#include <cstddef>
#include <cstdint>

#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif

// All threads of a block run on one OS thread and blocks on one OS thread
// run one after another, so per-OS-thread storage behaves as shared memory.
// It is not poisoned and keeps its contents between blocks.
#undef __shared__
#define __shared__ static thread_local

#define AWQ_DYNAMIC_SHARED(type, name)                                         \
  type *const name = reinterpret_cast<type *>(                                 \
      ::awq::host::detail::activeBlock("AWQ_DYNAMIC_SHARED").shared())

// Variadic: the argument type may be a template-id with commas.
#define AWQ_HOST_ENTRY(kernel, ...)                                            \
  extern "C" __attribute__((visibility("default"))) void kernel##__host_entry( \
      const void *args) {                                                      \
    kernel(*static_cast<const __VA_ARGS__ *>(args));                           \
  }

#endif // AWQ_DEVICE_HOST_EMULATION_H
