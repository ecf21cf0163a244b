//===- HostErrorKernels.cu - Kernels misusing barriers and collectives ----===//
//
// Each kernel breaks one rule of the CUDA execution model. On a GPU they
// hang or compute garbage; the host emulation must stop each with an error
// that names the kernel, the block and the offending source line. They are
// still valid CUDA, so NVRTC compiles them too.
//
//===----------------------------------------------------------------------===//
#include "TestPrimitives.cuh"

struct ErrorArgs {
  int *out; ///< [threads]
};

/// Threads 64 and up return before the barrier the others wait at.
__global__ void earlyExitKernel(ErrorArgs args) {
  if (threadIdx.x >= 64)
    return;
  __syncthreads(); // @early-exit-barrier
  args.out[threadIdx.x] = 1;
}
AWQ_HOST_ENTRY(earlyExitKernel, ErrorArgs)

/// The first warp and the rest wait at different barriers.
__global__ void divergentBarrierKernel(ErrorArgs args) {
  if (threadIdx.x < 32) {
    __syncthreads(); // @divergent-first
  } else {
    __syncthreads(); // @divergent-second
  }
  args.out[threadIdx.x] = 2;
}
AWQ_HOST_ENTRY(divergentBarrierKernel, ErrorArgs)

/// Half of warp 0 shuffles while everybody else waits at a barrier.
__global__ void warpBarrierDeadlockKernel(ErrorArgs args) {
  int value = threadIdx.x;
  if (threadIdx.x < 16)
    value = __shfl_sync(0xffffffffu, value, 0); // @deadlock-shuffle
  else
    __syncthreads(); // @deadlock-barrier
  args.out[threadIdx.x] = value;
}
AWQ_HOST_ENTRY(warpBarrierDeadlockKernel, ErrorArgs)

/// A shuffle over half a warp.
__global__ void partialMaskKernel(ErrorArgs args) {
  int value = threadIdx.x;
  if (threadIdx.x % 32 < 16)
    value = __shfl_sync(0x0000ffffu, value, 0); // @partial-mask
  args.out[threadIdx.x] = value;
}
AWQ_HOST_ENTRY(partialMaskKernel, ErrorArgs)

/// Lanes 0-7 exit; the rest shuffle over the full mask.
__global__ void exitedLaneShuffleKernel(ErrorArgs args) {
  if (threadIdx.x % 32 < 8)
    return;
  args.out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, (int)threadIdx.x, 1);
}
AWQ_HOST_ENTRY(exitedLaneShuffleKernel, ErrorArgs)

/// ldmatrix rows just past the end of dynamic shared memory.
__global__ void ldmatrixOutOfBoundsKernel(ErrorArgs args) {
  AWQ_DYNAMIC_SHARED(uint16_t, shared);
  uint32_t r[4];
  test::ldmatrix<4, false>(r, shared + 8 * threadIdx.x + 8);
  args.out[threadIdx.x] = static_cast<int>(r[0]);
}
AWQ_HOST_ENTRY(ldmatrixOutOfBoundsKernel, ErrorArgs)

/// A 16-byte cp.async to an 8-byte aligned shared address.
__global__ void cpAsyncMisalignedKernel(ErrorArgs args) {
  AWQ_DYNAMIC_SHARED(unsigned char, shared);
  test::cpAsync<16>(shared + 8, args.out, 16);
  test::cpAsyncCommit();
  test::cpAsyncWait<0>();
  args.out[threadIdx.x] = shared[8];
}
AWQ_HOST_ENTRY(cpAsyncMisalignedKernel, ErrorArgs)

/// Recurses deep enough to need a large fiber stack.
__device__ int deepRecursion(int depth, volatile int *sink) {
  volatile int frame[256];
  for (int i = 0; i < 256; ++i)
    frame[i] = depth + i;
  if (depth == 0)
    return frame[7];
  const int below = deepRecursion(depth - 1, sink);
  *sink = frame[depth % 256];
  return below + frame[3] - depth - 3;
}

/// Needs about depth KB of stack per thread.
__global__ void deepStackKernel(ErrorArgs args) {
  int sink = 0;
  args.out[threadIdx.x] = deepRecursion(args.out[threadIdx.x], &sink);
}
AWQ_HOST_ENTRY(deepStackKernel, ErrorArgs)
