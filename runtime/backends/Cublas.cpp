//===- Cublas.cpp - cuBLAS's FP16 GEMM through dlopen, for comparisons ----===//

#include "runtime/backends/Cublas.h"

#include "runtime/support/Error.h"

#include <algorithm>
#include <cstdlib>
#include <dlfcn.h>
#include <sstream>
#include <vector>

#ifndef AWQC_CUDA_LIBRARY_DIR
#define AWQC_CUDA_LIBRARY_DIR ""
#endif

namespace awq {
namespace rt {
namespace {

// cublas_api.h / library_types.h values.
constexpr int kCublasOpN = 0;
constexpr int kCudaR16F = 2;
constexpr int kCublasCompute32F = 68;
constexpr int kCublasGemmDefault = -1;

} // namespace

Cublas::~Cublas() {
  if (handle && destroy)
    destroy(handle);
  // The library stays loaded: unloading cuBLAS at exit is not worth it.
}

void Cublas::gemmFp16(int64_t m, int64_t n, int64_t k, const void *w,
                      const void *x, void *y) {
  // Column-major cuBLAS sees row-major y^T[n, m] = w^T[n, k] x^T[k, m].
  const float alpha = 1.0f, beta = 0.0f;
  const int status = gemmEx(
      handle, kCublasOpN, kCublasOpN, static_cast<int>(n), static_cast<int>(m),
      static_cast<int>(k), &alpha, w, kCudaR16F, static_cast<int>(n), x,
      kCudaR16F, static_cast<int>(k), &beta, y, kCudaR16F, static_cast<int>(n),
      kCublasCompute32F, kCublasGemmDefault);
  if (status)
    throw Error("cublasGemmEx returned " + std::to_string(status));
}

std::unique_ptr<Cublas> openCublas(std::string &note) {
  std::vector<std::string> candidates;
  if (const char *file = std::getenv("AWQC_CUBLAS"); file && *file)
    candidates.push_back(file);
  const std::vector<std::string> names = {"libcublas.so.13", "libcublas.so.12",
                                          "libcublas.so"};
  for (const std::string &name : names)
    candidates.push_back(name);
  std::vector<std::string> dirs;
  if (const char *list = std::getenv("AWQC_CUBLAS_DIRS"); list && *list) {
    std::stringstream stream(list);
    std::string dir;
    while (std::getline(stream, dir, ':'))
      if (!dir.empty())
        dirs.push_back(dir);
  }
  if (const char *home = std::getenv("CUDA_HOME"); home && *home)
    dirs.push_back(std::string(home) + "/lib64");
  if (std::string(AWQC_CUDA_LIBRARY_DIR) != "")
    dirs.push_back(AWQC_CUDA_LIBRARY_DIR);
  dirs.push_back("/usr/local/cuda/lib64");
  for (const std::string &dir : dirs)
    for (const std::string &name : names)
      candidates.push_back(dir + "/" + name);

  std::string errors;
  std::vector<std::string> tried;
  for (const std::string &candidate : candidates) {
    if (std::find(tried.begin(), tried.end(), candidate) != tried.end())
      continue;
    tried.push_back(candidate);
    void *library = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      const char *why = dlerror();
      if (errors.size() < 2000)
        errors += "\n    " + candidate + ": " + (why ? why : "?");
      continue;
    }
    auto cublas = std::make_unique<Cublas>();
    cublas->library = library;
    cublas->path = candidate;
    cublas->create = reinterpret_cast<decltype(cublas->create)>(
        dlsym(library, "cublasCreate_v2"));
    cublas->destroy = reinterpret_cast<decltype(cublas->destroy)>(
        dlsym(library, "cublasDestroy_v2"));
    cublas->gemmEx = reinterpret_cast<decltype(cublas->gemmEx)>(
        dlsym(library, "cublasGemmEx"));
    if (!cublas->create || !cublas->destroy || !cublas->gemmEx) {
      errors += "\n    " + candidate + ": lacks cublasCreate_v2, " +
                "cublasDestroy_v2 or cublasGemmEx";
      continue;
    }
    // cuBLAS runs on the context current on this thread: the backend's
    // primary context.
    if (int status = cublas->create(&cublas->handle)) {
      cublas->handle = nullptr;
      errors += "\n    " + candidate + ": cublasCreate_v2 returned " +
                std::to_string(status);
      continue;
    }
    return cublas;
  }
  note = "cuBLAS not found; tried:" + errors;
  return nullptr;
}

} // namespace rt
} // namespace awq
