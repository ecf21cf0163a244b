/*===- abi.h - C interface between the host executor and kernel modules ---===//
 *
 * A kernel module is a shared object built from one CUDA source by the host
 * C++ compiler. The executor (runtime/host) owns the OS threads, the fiber
 * stacks and the dynamic shared memory; the module owns the emulation of the
 * CUDA thread model (awq/host/scheduler.h) and runs one thread block per call
 * of awq_host_run_block. Only plain C types cross this boundary, so the two
 * sides share no C++ symbols, exceptions or RTTI.
 *
 *===----------------------------------------------------------------------===*/
#ifndef AWQ_DEVICE_HOST_ABI_H
#define AWQ_DEVICE_HOST_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever AwqHostBlockTask or the exported functions change. */
#define AWQ_HOST_ABI_VERSION 1

/* Symbols every kernel module exports. */
#define AWQ_HOST_ABI_VERSION_SYMBOL "awq_host_abi_version"
#define AWQ_HOST_RUN_BLOCK_SYMBOL "awq_host_run_block"
/* A kernel `k` is reached through the symbol `k` AWQ_HOST_ENTRY_SUFFIX. */
#define AWQ_HOST_ENTRY_SUFFIX "__host_entry"

/* One thread block to run on the calling OS thread. */
typedef struct AwqHostBlockTask {
  uint32_t abiVersion;             /* AWQ_HOST_ABI_VERSION */
  const char *kernelName;          /* for error messages */
  void (*entry)(const void *args); /* the kernel's __host_entry */
  const void *args;                /* the kernel's by-value parameter */
  uint32_t gridDim[3];
  uint32_t blockDim[3];
  uint32_t blockIdx[3];
  /* Dynamic shared memory: at least 16-byte aligned; the module poisons it. */
  unsigned char *dynamicShared;
  size_t dynamicSharedBytes;
  /* One stack per CUDA thread (blockDim x*y*z of them): stacks[i] is the
   * lowest usable address, stackBytes the usable size (a guard page below). */
  void *const *stacks;
  size_t stackBytes;
  /* On failure the module writes a NUL-terminated message here. */
  char *error;
  size_t errorCapacity;
} AwqHostBlockTask;

typedef int (*AwqHostAbiVersionFn)(void);
/* Returns 0 on success, non-zero after writing task->error. */
typedef int (*AwqHostRunBlockFn)(const AwqHostBlockTask *task);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* AWQ_DEVICE_HOST_ABI_H */
