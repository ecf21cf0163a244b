//===- HostBenchKernels.cu - Kernels timing the emulation's overheads -----===//
//
// Each kernel repeats one synchronizing operation so that the benchmark can
// report the host cost per warp collective, per barrier and per block.
//
//===----------------------------------------------------------------------===//
#include "TestPrimitives.cuh"

struct BenchArgs {
  float *out; ///< [threads in grid]
  int iterations;
};

__global__ void emptyKernel(BenchArgs args) {
  if (args.iterations < 0)
    args.out[0] = 0.0f;
}
AWQ_HOST_ENTRY(emptyKernel, BenchArgs)

__global__ void shuffleBenchKernel(BenchArgs args) {
  float value = static_cast<float>(threadIdx.x);
  for (int i = 0; i < args.iterations; ++i)
    value += __shfl_xor_sync(0xffffffffu, value, (i & 15) + 1);
  args.out[blockIdx.x * blockDim.x + threadIdx.x] = value;
}
AWQ_HOST_ENTRY(shuffleBenchKernel, BenchArgs)

__global__ void barrierBenchKernel(BenchArgs args) {
  AWQ_DYNAMIC_SHARED(float, shared);
  float value = 0.0f;
  for (int i = 0; i < args.iterations; ++i) {
    shared[threadIdx.x] = value + 1.0f;
    __syncthreads();
    value = shared[(threadIdx.x + 1) % blockDim.x];
    __syncthreads();
  }
  args.out[blockIdx.x * blockDim.x + threadIdx.x] = value;
}
AWQ_HOST_ENTRY(barrierBenchKernel, BenchArgs)

__global__ void mmaBenchKernel(BenchArgs args) {
  const uint32_t one = 0x3c003c00u; // fp16 {1, 1}
  const uint32_t a[4] = {one, one, one, one};
  const uint32_t b[2] = {one, one};
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int i = 0; i < args.iterations; ++i) {
    float d[4];
    test::mma(d, a, b, acc);
    for (int j = 0; j < 4; ++j)
      acc[j] = d[j];
  }
  args.out[blockIdx.x * blockDim.x + threadIdx.x] = acc[0];
}
AWQ_HOST_ENTRY(mmaBenchKernel, BenchArgs)
