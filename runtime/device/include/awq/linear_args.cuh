//===- linear_args.cuh - The one by-value argument of every linear kernel -===//
//
// Every linear-layer kernel entry point takes exactly one awq::LinearArgs by
// value, so the GPU launcher and the host emulator share one calling
// convention. Shapes, group size and tiling are compile-time constants of the
// kernel's config; only the row count M varies at run time.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_DEVICE_LINEAR_ARGS_CUH
#define AWQ_DEVICE_LINEAR_ARGS_CUH

#include "awq/platform.cuh"

namespace awq {

/// Pointers and the row count of one linear-layer launch.
///
/// Notation: K = input features, N = weight columns after merging (for a
/// SiLU-and-multiply layer N counts gate and up columns), Nout = output
/// columns (N, or N / 2 with SiLU-and-multiply). fp16 buffers are row-major.
///
/// The three weight buffers are in the repacked layout of the kernel family
/// the launched kernel belongs to:
///   - GEMV (awq/gemv.cuh, runtime/kernels/GemvLayout.h): `qweight` holds each
///     column's values packed along K; `scales` and `zeros` are [N, K/G]
///     (column-major per group) fp16, and `zeros` holds the zero point z
///     itself (a small integer, exact in fp16) so the kernel can subtract
///     z * sum(x) exactly in fp32.
///   - GEMM (awq/gemm.cuh, runtime/kernels/GemmLayout.h): see that header;
///     its `zeros` may hold the products z * s instead.
/// `zeros` is nullptr for a symmetric layer (implicit zero 2^(bits-1)).
struct LinearArgs {
  /// [M, K] activations, row stride K.
  const half *x;
  /// Packed quantized weights, family layout; never read outside its size.
  const uint32_t *qweight;
  /// Per (group, column) fp16 scales, family layout.
  const half *scales;
  /// Per (group, column) zero-point term, family layout; nullptr if symmetric.
  const half *zeros;
  /// [K] per-input-channel activation scale a (x * a enters the product), or
  /// nullptr.
  const half *actScale;
  /// [N] bias in merged column order (interleaved gate/up for SiLU-mul), or
  /// nullptr.
  const half *bias;
  /// [M, Nout] added to the output after the activation, or nullptr.
  const half *residual;
  /// [M, Nout] output; every element is written exactly once per launch.
  half *y;
  /// Split-K partial sums, [M, N] fp32. Must be all zero before a launch; the
  /// kernel leaves it all zero again (the last block of a tile clears what it
  /// reads). nullptr when the kernel does not split K.
  float *workspace;
  /// Split-K arrival counters, one per output tile (the config says how
  /// many). Zero before a launch, zero again after it. nullptr when the
  /// kernel does not split K.
  unsigned int *counters;
  /// Rows of x, residual and y. Any value >= 1; kernels process it in chunks.
  int M;
};

} // namespace awq

#endif // AWQ_DEVICE_LINEAR_ARGS_CUH
