//===- TestPrimitives.cuh - Inline PTX wrappers for the host tests --------===//
//
// The test kernels call PTX exactly as the device library does: inline asm
// on the device, the awq::host emulation in the host build. Written apart
// from the device library so that these tests do not depend on it.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_TEST_HOST_TESTPRIMITIVES_CUH
#define AWQ_TEST_HOST_TESTPRIMITIVES_CUH

#include "awq/platform.cuh"

namespace test {

#if defined(__CUDA_ARCH__)
__device__ __forceinline__ uint32_t sharedAddress(const void *p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
#endif

__device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4],
                                    const uint32_t (&b)[2],
                                    const float (&c)[4]) {
#if defined(__CUDA_ARCH__)
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%10, %11, %12, %13};\n"
               : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]),
                 "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
#else
  awq::host::mmaM16N8K16(d, a, b, c);
#endif
}

template <int Count, bool Trans>
__device__ __forceinline__ void ldmatrix(uint32_t *dst, const void *row) {
#if defined(__CUDA_ARCH__)
  const uint32_t address = sharedAddress(row);
  if (Count == 1 && !Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n"
                 : "=r"(dst[0])
                 : "r"(address));
  if (Count == 1 && Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n"
                 : "=r"(dst[0])
                 : "r"(address));
  if (Count == 2 && !Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
                 : "=r"(dst[0]), "=r"(dst[1])
                 : "r"(address));
  if (Count == 2 && Trans)
    asm volatile(
        "ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
        : "=r"(dst[0]), "=r"(dst[1])
        : "r"(address));
  if (Count == 4 && !Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 "
                 "{%0, %1, %2, %3}, [%4];\n"
                 : "=r"(dst[0]), "=r"(dst[1]), "=r"(dst[2]), "=r"(dst[3])
                 : "r"(address));
  if (Count == 4 && Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 "
                 "{%0, %1, %2, %3}, [%4];\n"
                 : "=r"(dst[0]), "=r"(dst[1]), "=r"(dst[2]), "=r"(dst[3])
                 : "r"(address));
#else
  awq::host::ldmatrix(dst, Count, Trans, row);
#endif
}

template <int Bytes>
__device__ __forceinline__ void cpAsync(void *sharedDst, const void *src,
                                        int srcBytes) {
#if defined(__CUDA_ARCH__)
  asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(
                   sharedAddress(sharedDst)),
               "l"(src), "n"(Bytes), "r"(srcBytes));
#else
  awq::host::cpAsync(sharedDst, src, Bytes, srcBytes);
#endif
}

__device__ __forceinline__ void cpAsyncCommit() {
#if defined(__CUDA_ARCH__)
  asm volatile("cp.async.commit_group;\n" ::);
#else
  awq::host::cpAsyncCommit();
#endif
}

template <int N> __device__ __forceinline__ void cpAsyncWait() {
#if defined(__CUDA_ARCH__)
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
#else
  awq::host::cpAsyncWait(N);
#endif
}

template <int Lut>
__device__ __forceinline__ uint32_t lop3(uint32_t a, uint32_t b, uint32_t c) {
#if defined(__CUDA_ARCH__)
  uint32_t d;
  asm volatile("lop3.b32 %0, %1, %2, %3, %4;\n"
               : "=r"(d)
               : "r"(a), "r"(b), "r"(c), "n"(Lut));
  return d;
#else
  return awq::host::lop3(a, b, c, Lut);
#endif
}

__device__ __forceinline__ uint32_t prmt(uint32_t a, uint32_t b, uint32_t s) {
#if defined(__CUDA_ARCH__)
  uint32_t d;
  asm volatile("prmt.b32 %0, %1, %2, %3;\n" : "=r"(d) : "r"(a), "r"(b), "r"(s));
  return d;
#else
  return awq::host::prmt(a, b, s);
#endif
}

} // namespace test

#endif // AWQ_TEST_HOST_TESTPRIMITIVES_CUH
