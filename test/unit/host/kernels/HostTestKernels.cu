//===- HostTestKernels.cu - Kernels exercising every emulated primitive ---===//
//
// Compiled twice by the tests: by the host executor (and run on the CPU) and
// by NVRTC for sm_80, proving the same source serves both. Each kernel
// stores what a primitive returned; the tests compare with plain references.
// The argument structs hold only pointers and ints so that the tests can
// mirror their layout.
//
//===----------------------------------------------------------------------===//
#include "TestPrimitives.cuh"

// ---- mma.sync m16n8k16 --------------------------------------------------

struct MmaArgs {
  const uint16_t *a; ///< [tiles][16][16] fp16, row-major
  const uint16_t *b; ///< [tiles][16][8] fp16 (k, n), row-major
  const float *c;    ///< [tiles][16][8]
  float *d;          ///< [tiles][16][8]
};

__device__ __forceinline__ uint32_t pack(uint16_t low, uint16_t high) {
  return static_cast<uint32_t>(low) | static_cast<uint32_t>(high) << 16;
}

/// One 16x8x16 tile per warp, fragments loaded per the PTX layouts.
__global__ void mmaKernel(MmaArgs args) {
  const int lane = threadIdx.x % 32;
  const int tile = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  const uint16_t *A = args.a + tile * 256;
  const uint16_t *B = args.b + tile * 128;
  const float *C = args.c + tile * 128;
  float *D = args.d + tile * 128;
  const int g = lane / 4, t = lane % 4;
  const uint32_t a[4] = {
      pack(A[g * 16 + 2 * t], A[g * 16 + 2 * t + 1]),
      pack(A[(g + 8) * 16 + 2 * t], A[(g + 8) * 16 + 2 * t + 1]),
      pack(A[g * 16 + 2 * t + 8], A[g * 16 + 2 * t + 9]),
      pack(A[(g + 8) * 16 + 2 * t + 8], A[(g + 8) * 16 + 2 * t + 9])};
  const uint32_t b[2] = {pack(B[(2 * t) * 8 + g], B[(2 * t + 1) * 8 + g]),
                         pack(B[(2 * t + 8) * 8 + g], B[(2 * t + 9) * 8 + g])};
  const float c[4] = {C[g * 8 + 2 * t], C[g * 8 + 2 * t + 1],
                      C[(g + 8) * 8 + 2 * t], C[(g + 8) * 8 + 2 * t + 1]};
  float d[4];
  test::mma(d, a, b, c);
  D[g * 8 + 2 * t] = d[0];
  D[g * 8 + 2 * t + 1] = d[1];
  D[(g + 8) * 8 + 2 * t] = d[2];
  D[(g + 8) * 8 + 2 * t + 1] = d[3];
}
AWQ_HOST_ENTRY(mmaKernel, MmaArgs)

// ---- ldmatrix -----------------------------------------------------------

struct LdmatrixArgs {
  const uint16_t *rows; ///< [32][8]: logical row r of matrix r / 8
  const int *slot;      ///< [32]: the shared slot holding logical row r
  uint32_t *out;        ///< [6 variants][32 lanes][4 registers]
};

template <int Count, bool Trans>
__device__ __forceinline__ void
ldmatrixVariant(const uint16_t *shared, const LdmatrixArgs &args, int variant) {
  const int lane = threadIdx.x;
  // Lanes past 8 * Count give a different row: ldmatrix must ignore it.
  const int row = lane < 8 * Count ? lane : (lane + 5) % 32;
  uint32_t r[4] = {0xdeadbeefu, 0xdeadbeefu, 0xdeadbeefu, 0xdeadbeefu};
  test::ldmatrix<Count, Trans>(r, shared + args.slot[row] * 8);
  for (int j = 0; j < 4; ++j)
    args.out[(variant * 32 + lane) * 4 + j] = r[j];
}

/// One warp: rows go to permuted 16-byte slots, then every variant.
__global__ void ldmatrixKernel(LdmatrixArgs args) {
  AWQ_DYNAMIC_SHARED(uint16_t, shared);
  const int lane = threadIdx.x;
  for (int c = 0; c < 8; ++c)
    shared[args.slot[lane] * 8 + c] = args.rows[lane * 8 + c];
  __syncthreads();
  ldmatrixVariant<1, false>(shared, args, 0);
  ldmatrixVariant<1, true>(shared, args, 1);
  ldmatrixVariant<2, false>(shared, args, 2);
  ldmatrixVariant<2, true>(shared, args, 3);
  ldmatrixVariant<4, false>(shared, args, 4);
  ldmatrixVariant<4, true>(shared, args, 5);
}
AWQ_HOST_ENTRY(ldmatrixKernel, LdmatrixArgs)

// ---- cp.async -----------------------------------------------------------

struct CpAsyncArgs {
  const unsigned char *src; ///< [threads][64]
  unsigned char *out;       ///< [threads][8 snapshots][16]
};

__device__ __forceinline__ void snapshot(unsigned char *out,
                                         const unsigned char *shared) {
  for (int i = 0; i < 16; ++i)
    out[i] = shared[i];
}

/// Each thread owns 64 bytes of shared memory and records what it sees
/// around each commit and wait.
__global__ void cpAsyncKernel(CpAsyncArgs args) {
  AWQ_DYNAMIC_SHARED(unsigned char, shared);
  const int id = blockIdx.x * blockDim.x + threadIdx.x;
  unsigned char *mine = shared + threadIdx.x * 64;
  const unsigned char *src = args.src + id * 64;
  unsigned char *out = args.out + id * 8 * 16;
  test::cpAsync<16>(mine, src, 16); // group A
  test::cpAsyncCommit();
  test::cpAsync<16>(mine + 16, src + 16, 5); // group B, zero fill after 5
  test::cpAsyncCommit();
  snapshot(out + 0 * 16, mine); // nothing waited for
  snapshot(out + 1 * 16, mine + 16);
  test::cpAsyncWait<1>(); // A done, B may pend
  snapshot(out + 2 * 16, mine);
  snapshot(out + 3 * 16, mine + 16);
  test::cpAsyncWait<0>();
  snapshot(out + 4 * 16, mine + 16);
  test::cpAsync<4>(mine + 32, src + 32, 4);
  test::cpAsync<8>(mine + 40, src + 40, 0); // full zero fill
  test::cpAsync<4>(mine + 36, src + 36, 2);
  test::cpAsyncCommit();
  test::cpAsyncWait<0>();
  snapshot(out + 5 * 16, mine + 32);
  test::cpAsync<16>(mine + 48, src + 48, 16); // not committed yet
  test::cpAsyncWait<0>();
  snapshot(out + 6 * 16, mine + 48);
  test::cpAsyncCommit();
  test::cpAsyncWait<0>();
  snapshot(out + 7 * 16, mine + 48);
}
AWQ_HOST_ENTRY(cpAsyncKernel, CpAsyncArgs)

// ---- lop3 and prmt ------------------------------------------------------

struct BitArgs {
  const uint32_t *a, *b, *c; ///< [n]
  uint32_t *out;             ///< lop3: [n][256]; prmt: [n]
  int n;
};

// Halving recursion keeps the template depth at 8 (NVRTC stops at 200).
template <int Lut, int Count> struct Lop3Range {
  __device__ static void run(uint32_t a, uint32_t b, uint32_t c,
                             uint32_t *out) {
    Lop3Range<Lut, Count / 2>::run(a, b, c, out);
    Lop3Range<Lut + Count / 2, Count / 2>::run(a, b, c, out);
  }
};
template <int Lut> struct Lop3Range<Lut, 1> {
  __device__ static void run(uint32_t a, uint32_t b, uint32_t c,
                             uint32_t *out) {
    out[Lut] = test::lop3<Lut>(a, b, c);
  }
};

/// Every immLut (an immediate, hence the template) on each input triple.
__global__ void lop3Kernel(BitArgs args) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < args.n)
    Lop3Range<0, 256>::run(args.a[i], args.b[i], args.c[i], args.out + i * 256);
}
AWQ_HOST_ENTRY(lop3Kernel, BitArgs)

/// prmt with selector c.
__global__ void prmtKernel(BitArgs args) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < args.n)
    args.out[i] = test::prmt(args.a[i], args.b[i], args.c[i]);
}
AWQ_HOST_ENTRY(prmtKernel, BitArgs)

// ---- Shuffles and votes -------------------------------------------------

struct ShuffleArgs {
  int *out;           ///< [blocks][6 widths][32 deltas][5 modes][64]
  double *outDouble;  ///< [blocks][64]
  unsigned *outHalf2; ///< [blocks][64]
};

/// Blocks of 16x4 threads: a warp spans two rows of threadIdx.y.
__global__ void shuffleKernel(ShuffleArgs args) {
  const int linear = threadIdx.y * blockDim.x + threadIdx.x;
  const int value = linear * 7 + 3 + blockIdx.x * 1000;
  const unsigned full = 0xffffffffu;
  for (int wi = 0; wi < 6; ++wi) {
    const int width = 1 << wi;
    for (int d = 0; d < 32; ++d) {
      int *out = args.out + (((blockIdx.x * 6 + wi) * 32 + d) * 5) * 64;
      out[0 * 64 + linear] = __shfl_sync(full, value, d - 1, width);
      out[1 * 64 + linear] = __shfl_up_sync(full, value, d, width);
      out[2 * 64 + linear] = __shfl_down_sync(full, value, d, width);
      out[3 * 64 + linear] = __shfl_xor_sync(full, value, d, width);
      out[4 * 64 + linear] = __shfl_sync(full, value, d + 32, width);
    }
  }
  args.outDouble[blockIdx.x * 64 + linear] =
      __shfl_xor_sync(full, value + 0.25, 5);
  const __half2 h = __floats2half2_rn(static_cast<float>(linear),
                                      static_cast<float>(-linear));
  const __half2 moved = __shfl_down_sync(full, h, 3);
  args.outHalf2[blockIdx.x * 64 + linear] =
      static_cast<unsigned>(__half_as_ushort(__low2half(moved))) |
      static_cast<unsigned>(__half_as_ushort(__high2half(moved))) << 16;
}
AWQ_HOST_ENTRY(shuffleKernel, ShuffleArgs)

struct VoteArgs {
  const int *predicate; ///< [threads]
  unsigned *ballot;     ///< [threads]
  int *any;             ///< [threads]
  int *all;             ///< [threads]
};

__global__ void voteKernel(VoteArgs args) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const int p = args.predicate[i];
  args.ballot[i] = __ballot_sync(0xffffffffu, p);
  args.any[i] = __any_sync(0xffffffffu, p);
  args.all[i] = __all_sync(0xffffffffu, p);
  __syncwarp();
}
AWQ_HOST_ENTRY(voteKernel, VoteArgs)

// ---- Barriers and shared memory -----------------------------------------

struct ReduceArgs {
  const float *in; ///< [blocks][256]
  float *out;      ///< [blocks]
};

/// Tree reduction through dynamic shared memory, 256 threads.
__global__ void reduceKernel(ReduceArgs args) {
  AWQ_DYNAMIC_SHARED(float, partial);
  const int t = threadIdx.x;
  partial[t] = args.in[blockIdx.x * 256 + t];
  __syncthreads();
  for (int s = 128; s > 0; s >>= 1) {
    if (t < s)
      partial[t] += partial[t + s];
    __syncthreads();
  }
  if (t == 0)
    args.out[blockIdx.x] = partial[0];
}
AWQ_HOST_ENTRY(reduceKernel, ReduceArgs)

/// The same reduction without the barrier after the stores: a bug the
/// emulation must expose (the first reads see other threads' poison).
__global__ void reduceMissingBarrierKernel(ReduceArgs args) {
  AWQ_DYNAMIC_SHARED(float, partial);
  const int t = threadIdx.x;
  partial[t] = args.in[blockIdx.x * 256 + t];
  for (int s = 128; s > 0; s >>= 1) {
    if (t < s)
      partial[t] += partial[t + s];
    __syncthreads();
  }
  if (t == 0)
    args.out[blockIdx.x] = partial[0];
}
AWQ_HOST_ENTRY(reduceMissingBarrierKernel, ReduceArgs)

/// The reduction through a static __shared__ array.
__global__ void staticSharedReduceKernel(ReduceArgs args) {
  __shared__ float partial[256];
  const int t = threadIdx.x;
  partial[t] = args.in[blockIdx.x * 256 + t];
  __syncthreads();
  for (int s = 128; s > 0; s >>= 1) {
    if (t < s)
      partial[t] += partial[t + s];
    __syncthreads();
  }
  if (t == 0)
    args.out[blockIdx.x] = partial[0];
}
AWQ_HOST_ENTRY(staticSharedReduceKernel, ReduceArgs)

struct PoisonArgs {
  unsigned char *out; ///< [blocks][bytes]
  int bytes;
};

/// Records the dynamic shared memory as the block finds it, then dirties it.
__global__ void poisonKernel(PoisonArgs args) {
  AWQ_DYNAMIC_SHARED(unsigned char, shared);
  for (int i = threadIdx.x; i < args.bytes; i += blockDim.x)
    args.out[blockIdx.x * args.bytes + i] = shared[i];
  __syncthreads();
  for (int i = threadIdx.x; i < args.bytes; i += blockDim.x)
    shared[i] = 0;
}
AWQ_HOST_ENTRY(poisonKernel, PoisonArgs)

// ---- Atomics and the last-block reduction --------------------------------

struct AtomicArgs {
  const float *values; ///< [threads], small integers
  const int *ints;     ///< [threads]
  float *sum;
  int *count;
  int *maxValue;
  unsigned *ticket;
  float *partials; ///< [blocks]
  float *total;
};

__global__ void atomicKernel(AtomicArgs args) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(args.count, 1);
  atomicAdd(args.sum, args.values[i]);
  int old = *static_cast<volatile int *>(args.maxValue);
  for (;;) {
    const int wanted = old > args.ints[i] ? old : args.ints[i];
    const int seen = atomicCAS(args.maxValue, old, wanted);
    if (seen == old)
      break;
    old = seen;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    float partial = 0.0f;
    for (int j = 0; j < static_cast<int>(blockDim.x); ++j)
      partial += args.values[blockIdx.x * blockDim.x + j];
    args.partials[blockIdx.x] = partial;
    __threadfence();
    // The last block to arrive sums the partials and re-arms the ticket.
    if (atomicAdd(args.ticket, 1u) == gridDim.x - 1) {
      float total = 0.0f;
      for (int b = 0; b < static_cast<int>(gridDim.x); ++b)
        total += static_cast<volatile float *>(args.partials)[b];
      *args.total = total;
      atomicExch(args.ticket, 0u);
    }
  }
}
AWQ_HOST_ENTRY(atomicKernel, AtomicArgs)

// ---- Built-in variables ---------------------------------------------------

struct IndexArgs {
  unsigned *out; ///< [threads in grid][12]
};

// Also exercises the qualifiers the host build must accept.
__global__ void __launch_bounds__(256, 2) indexKernel(IndexArgs args) {
  const unsigned block =
      (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  const unsigned thread =
      (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  unsigned *__restrict__ out =
      args.out + (block * blockDim.x * blockDim.y * blockDim.z + thread) * 12;
  __align__(16) const unsigned values[12] = {
      threadIdx.x, threadIdx.y, threadIdx.z, blockIdx.x, blockIdx.y, blockIdx.z,
      blockDim.x,  blockDim.y,  blockDim.z,  gridDim.x,  gridDim.y,  gridDim.z};
  for (int i = 0; i < 12; ++i)
    out[i] = values[i];
}
AWQ_HOST_ENTRY(indexKernel, IndexArgs)

// ---- fp16 arithmetic ------------------------------------------------------

struct HalfArgs {
  const __half2 *a, *b, *c; ///< [n]
  __half2 *out;             ///< [n][7]: hadd2 hsub2 hmul2 hfma2
                            ///< {hadd lo, hmul hi} {hfma, b.lo} {a}
  int n;
};

__global__ void halfKernel(HalfArgs args) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= args.n)
    return;
  const __half2 a = args.a[i], b = args.b[i], c = args.c[i];
  __half2 *out = args.out + i * 7;
  out[0] = __hadd2(a, b);
  out[1] = __hsub2(a, b);
  out[2] = __hmul2(a, b);
  out[3] = __hfma2(a, b, c);
  out[4] = __halves2half2(__hadd(__low2half(a), __low2half(b)),
                          __hmul(__high2half(a), __high2half(b)));
  out[5] = __halves2half2(__hfma(__low2half(a), __high2half(b), __low2half(c)),
                          __float2half_rn(__low2float(b)));
  // fp16 -> fp32 -> fp16 must round-trip exactly.
  out[6] = __float22half2_rn(__half22float2(a));
}
AWQ_HOST_ENTRY(halfKernel, HalfArgs)
