//===- mma.cuh - Tensor-core, ldmatrix and cp.async primitives ------------===//
//
// Thin wrappers over the warp-level matrix instructions the GEMM uses:
// mma.sync m16n8k16 (sm_80+, f16 or bf16 inputs) and m16n8k8 (sm_75+, f16
// inputs), all with f32 accumulators, ldmatrix (sm_75+) x1/x2/x4 with
// and without .trans, 16-byte cp.async with a zero-fill predicate and its
// commit/wait, and an XOR-swizzled shared layout for tiles whose rows are
// read by ldmatrix. On the device each wrapper is one inline PTX instruction;
// on the host the same call goes to the emulation in awq/host/primitives.h,
// so one kernel source serves NVRTC and the CPU tests.
//
// Fragment layouts (PTX ISA, g = lane / 4, t = lane % 4, element 0 of a
// .f16x2 register is its low half):
//   A 16x16 row-major: a0 = A[g][2t..2t+1],  a1 = A[g+8][2t..2t+1],
//                      a2 = A[g][2t+8..+9],  a3 = A[g+8][2t+8..+9]
//   B 16x8 (K x N):    b0 = {B[2t][g], B[2t+1][g]},
//                      b1 = {B[2t+8][g], B[2t+9][g]}
//   C/D 16x8 f32:      c0, c1 = C[g][2t, 2t+1];  c2, c3 = C[g+8][2t, 2t+1]
// m16n8k8 takes the first K half of each: A {a0, a1}, B {b0}, the same C.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_DEVICE_MMA_CUH
#define AWQ_DEVICE_MMA_CUH

#include "awq/platform.cuh"
#include "awq/primitives.cuh"

namespace awq {

/// Whether `Element` is __nv_bfloat16 (else half): picks the bf16 mma.
template <class Element> struct IsBfloat16 {
  static constexpr bool value = false;
};
template <> struct IsBfloat16<__nv_bfloat16> {
  static constexpr bool value = true;
};

#if defined(__CUDA_ARCH__)
/// The 32-bit shared-window address of a generic pointer into shared memory,
/// the operand form ldmatrix and cp.async take.
__device__ __forceinline__ uint32_t sharedAddress(const void *pointer) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(pointer));
}
#endif

/// acc = A * B + acc for one m16n8k16 tile: f16 A (row) and B (col) fragments,
/// f32 accumulators. Warp-collective: all 32 lanes must call it together.
__device__ __forceinline__ void
mmaM16N8K16(float (&acc)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
#if defined(__CUDA_ARCH__)
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};\n"
               : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]),
                 "r"(b[1]));
#else
  float d[4];
  host::requireFeature(target::kMmaM16N8K16, "mma.sync.m16n8k16");
  host::mmaM16N8K16(d, a, b, acc);
  for (int i = 0; i < 4; ++i)
    acc[i] = d[i];
#endif
}

/// acc = A * B + acc for one m16n8k16 tile with bf16 A and B fragments (the
/// same layouts, bf16 pairs) and f32 accumulators: sm_80+ only (there is no
/// bf16 mma.sync on sm_75; bf16 GEMM configs refuse that target).
/// Warp-collective.
__device__ __forceinline__ void mmaM16N8K16Bf16(float (&acc)[4],
                                                const uint32_t (&a)[4],
                                                const uint32_t (&b)[2]) {
#if defined(__CUDA_ARCH__)
#if __CUDA_ARCH__ >= 800
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};\n"
               : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]),
                 "r"(b[1]));
#else
  __trap(); // Unreachable: bf16 GEMM configs static_assert sm_80+.
#endif
#else
  float d[4];
  host::requireFeature(target::kMmaM16N8K16, "mma.sync.m16n8k16.bf16");
  host::mmaM16N8K16Bf16(d, a, b, acc);
  for (int i = 0; i < 4; ++i)
    acc[i] = d[i];
#endif
}

/// acc = A * B + acc for one m16n8k8 tile (sm_75+): A registers {a0, a1} and
/// B register b0 of the m16n8k16 layout restricted to K = 0..7.
/// Warp-collective.
__device__ __forceinline__ void mmaM16N8K8(float (&acc)[4], uint32_t a0,
                                           uint32_t a1, uint32_t b0) {
#if defined(__CUDA_ARCH__)
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 "
               "{%0, %1, %2, %3}, {%4, %5}, {%6}, {%0, %1, %2, %3};\n"
               : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
               : "r"(a0), "r"(a1), "r"(b0));
#else
  float d[4];
  const uint32_t a[2] = {a0, a1};
  host::mmaM16N8K8(d, a, b0, acc);
  for (int i = 0; i < 4; ++i)
    acc[i] = d[i];
#endif
}

/// acc = A * B + acc over 16 K values with m16n8k16 fragments: one m16n8k16
/// where the target has it (awq::target), else two m16n8k8, K = 0..7 from
/// {a0, a1, b0}, then K = 8..15 from {a2, a3, b1}.
__device__ __forceinline__ void mmaK16(float (&acc)[4], const uint32_t (&a)[4],
                                       const uint32_t (&b)[2]) {
  if constexpr (target::kMmaM16N8K16) {
    mmaM16N8K16(acc, a, b);
  } else {
    mmaM16N8K8(acc, a[0], a[1], b[0]);
    mmaM16N8K8(acc, a[2], a[3], b[1]);
  }
}

/// mmaK16 for fragments of element type `Element` (half or
/// __nv_bfloat16): bf16 always takes m16n8k16 (sm_80+).
template <class Element>
__device__ __forceinline__ void
mmaK16Of(float (&acc)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  if constexpr (IsBfloat16<Element>::value)
    mmaM16N8K16Bf16(acc, a, b);
  else
    mmaK16(acc, a, b);
}

/// ldmatrix.sync.aligned.m8n8.x{Count}[.trans].shared.b16: loads Count 8x8
/// b16 matrices; lanes 8j..8j+7 give the 16-byte rows of matrix j and
/// register j receives this lane's fragment of matrix j. Warp-collective.
template <int Count, bool Transpose = false>
__device__ __forceinline__ void ldmatrix(uint32_t (&dst)[Count],
                                         const void *rowAddress) {
  static_assert(Count == 1 || Count == 2 || Count == 4,
                "ldmatrix loads 1, 2 or 4 matrices");
#if defined(__CUDA_ARCH__)
  const uint32_t address = sharedAddress(rowAddress);
  if constexpr (Count == 1) {
    if constexpr (Transpose)
      asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, "
                   "[%1];\n"
                   : "=r"(dst[0])
                   : "r"(address));
    else
      asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n"
                   : "=r"(dst[0])
                   : "r"(address));
  } else if constexpr (Count == 2) {
    if constexpr (Transpose)
      asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 "
                   "{%0, %1}, [%2];\n"
                   : "=r"(dst[0]), "=r"(dst[1])
                   : "r"(address));
    else
      asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, "
                   "[%2];\n"
                   : "=r"(dst[0]), "=r"(dst[1])
                   : "r"(address));
  } else {
    if constexpr (Transpose)
      asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 "
                   "{%0, %1, %2, %3}, [%4];\n"
                   : "=r"(dst[0]), "=r"(dst[1]), "=r"(dst[2]), "=r"(dst[3])
                   : "r"(address));
    else
      asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 "
                   "{%0, %1, %2, %3}, [%4];\n"
                   : "=r"(dst[0]), "=r"(dst[1]), "=r"(dst[2]), "=r"(dst[3])
                   : "r"(address));
  }
#else
  host::ldmatrix(dst, Count, Transpose, rowAddress);
#endif
}

/// Starts a 16-byte global -> shared copy (cp.async.cg: bypasses L1, the
/// data is streamed through shared memory anyway). When `valid` is false
/// nothing is read and the 16 destination bytes are zero-filled (src-size 0),
/// which is how out-of-range rows and padded tiles become zeros. Both
/// addresses must be 16-byte aligned; `globalSource` must be a valid address
/// even when `valid` is false.
__device__ __forceinline__ void
cpAsync16(void *sharedDst, const void *globalSource, bool valid) {
#if defined(__CUDA_ARCH__)
  const int sourceBytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(
                   sharedAddress(sharedDst)),
               "l"(globalSource), "r"(sourceBytes)
               : "memory");
#else
  host::requireFeature(target::kAsyncCopy, "cp.async");
  host::cpAsync(sharedDst, globalSource, 16, valid ? 16 : 0);
#endif
}

/// cpAsync16 with an L2 cache policy (e.g. makeEvictFirstPolicy() from
/// awq/primitives.cuh, created once per thread), for data read exactly once
/// per launch such as the quantized weights: they should not push the
/// activations, which every N tile re-reads, out of L2. The host has no
/// caches: the policy is ignored there.
__device__ __forceinline__ void cpAsync16Policy(void *sharedDst,
                                                const void *globalSource,
                                                bool valid, uint64_t policy) {
#if defined(__CUDA_ARCH__)
  const int sourceBytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global.L2::cache_hint [%0], [%1], 16, %2, "
               "%3;\n" ::"r"(sharedAddress(sharedDst)),
               "l"(globalSource), "r"(sourceBytes), "l"(policy)
               : "memory");
#else
  (void)policy;
  host::requireFeature(target::kAsyncCopy, "cp.async");
  host::cpAsync(sharedDst, globalSource, 16, valid ? 16 : 0);
#endif
}

/// Closes this thread's outstanding cp.async copies into one group (an empty
/// group is legal and completes at once, which keeps group counting uniform).
__device__ __forceinline__ void cpAsyncCommit() {
#if defined(__CUDA_ARCH__)
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#else
  host::requireFeature(target::kAsyncCopy, "cp.async.commit_group");
  host::cpAsyncCommit();
#endif
}

/// Waits until at most `MaxPending` of this thread's most recent groups are
/// still in flight. The landed data is visible to this thread only: a
/// __syncthreads() must follow before other threads read it.
template <int MaxPending> __device__ __forceinline__ void cpAsyncWait() {
  static_assert(MaxPending >= 0, "cp.async.wait_group takes N >= 0");
#if defined(__CUDA_ARCH__)
  asm volatile("cp.async.wait_group %0;\n" ::"n"(MaxPending) : "memory");
#else
  host::requireFeature(target::kAsyncCopy, "cp.async.wait_group");
  host::cpAsyncWait(MaxPending);
#endif
}

/// The shared-memory layout of a row-major tile of 16-bit elements whose rows
/// are RowBytes long and are read as 16-byte chunks (by ldmatrix or vector
/// loads) eight rows at a time. The chunk index is XORed with bits of the row
/// so that the eight rows of one 8x8 ldmatrix matrix (same logical chunk,
/// consecutive rows) land in eight different 16-byte bank groups:
///   rows >= 128 B: chunk ^ (row % 8)
///   rows of 64 B (two rows share one 128 B bank line): chunk ^ (row / 2 % 4)
///   rows of 32 B (four rows per line): chunk ^ (row / 4 % 2)
/// The same mapping is used by the cp.async writes, so no padding is needed
/// and the tile stays exactly RowBytes * rows bytes.
template <int RowBytes> struct SwizzledRows {
  static_assert(
      RowBytes == 32 || RowBytes == 64 || RowBytes % 128 == 0,
      "SwizzledRows: a row must be 32, 64 or a multiple of 128 bytes");
  static constexpr int kChunks = RowBytes / 16; ///< 16-byte chunks per row.

  /// The physical chunk (0 .. kChunks-1) that holds logical `chunk` of `row`.
  static __device__ __forceinline__ int physicalChunk(int row, int chunk) {
    if constexpr (RowBytes == 32)
      return chunk ^ ((row >> 2) & 1);
    else if constexpr (RowBytes == 64)
      return chunk ^ ((row >> 1) & 3);
    else
      return chunk ^ (row & 7);
  }

  /// Offset in 16-bit elements of logical chunk `chunk` of row `row`.
  static __device__ __forceinline__ int elementOffset(int row, int chunk) {
    return row * (RowBytes / 2) + physicalChunk(row, chunk) * 8;
  }
};

} // namespace awq

#endif // AWQ_DEVICE_MMA_CUH
