//===- Cublas.h - cuBLAS's FP16 GEMM through dlopen, for comparisons ------===//
//
// The benchmarks (awq-gpu-check, awq-run --bench) compare the kernels with
// cuBLAS's FP16 GEMM of the same shape. cuBLAS is opened at run time, never
// linked: $AWQC_CUBLAS (a file), libcublas.so.13 / .12 / .so on the
// loader's path, in $AWQC_CUBLAS_DIRS (colon-separated), $CUDA_HOME/lib64
// and the toolkit's library directory found at configure time.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_BACKENDS_CUBLAS_H
#define AWQ_RUNTIME_BACKENDS_CUBLAS_H

#include <cstdint>
#include <memory>
#include <string>

namespace awq {
namespace rt {

/// The few cuBLAS entry points the comparison needs (cublas_api.h's
/// signatures; every enum is an int), and a handle on the context current
/// on the opening thread.
struct Cublas {
  void *library = nullptr;
  void *handle = nullptr;
  std::string path;
  int (*create)(void **handle) = nullptr;
  int (*destroy)(void *handle) = nullptr;
  int (*gemmEx)(void *handle, int transa, int transb, int m, int n, int k,
                const void *alpha, const void *a, int aType, int lda,
                const void *b, int bType, int ldb, const void *beta, void *c,
                int cType, int ldc, int computeType, int algo) = nullptr;
  ~Cublas();

  /// y[m, n] = x[m, k] w[k, n], all fp16 row-major device buffers, fp32
  /// accumulation, on the default stream. Throws awq::Error on failure.
  void gemmFp16(int64_t m, int64_t n, int64_t k, const void *w, const void *x,
                void *y);
};

/// Opens cuBLAS and creates a handle. Returns nullptr and says why (every
/// path tried) in `note` when none loads.
std::unique_ptr<Cublas> openCublas(std::string &note);

} // namespace rt
} // namespace awq

#endif // AWQ_RUNTIME_BACKENDS_CUBLAS_H
