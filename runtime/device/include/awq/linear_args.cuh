//===- linear_args.cuh - The one by-value argument of every linear kernel -===//
//
// Every linear-layer kernel entry point takes exactly one awq::LinearArgs by
// value, so the GPU launcher and the host emulator share one calling
// convention. Shapes, group size and tiling are compile-time constants of the
// kernel's config; only the row count M varies at run time.
//
// A kernel's 16-bit buffers hold its layer's activation type (fp16 or bf16,
// awq::ActivationType); kernels take LinearArgsOf<their element type>
// (ArgsOf<Cfg>), which has LinearArgs's layout member for member, so the
// launcher fills one LinearArgs for either type.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_DEVICE_LINEAR_ARGS_CUH
#define AWQ_DEVICE_LINEAR_ARGS_CUH

#include "awq/platform.cuh"

#include "awq/contract.h"

namespace awq {

/// The C++ types of an activation type: `Element` for the buffers (x, y,
/// residual, scales, zeros, bias, actScale), `Element2` the packed pair.
template <ActivationType A> struct ActivationTraits;
template <> struct ActivationTraits<ActivationType::F16> {
  using Element = __half;
  using Element2 = __half2;
};
template <> struct ActivationTraits<ActivationType::BF16> {
  using Element = __nv_bfloat16;
  using Element2 = __nv_bfloat162;
};

/// Pointers and the row count of one linear-layer launch.
///
/// Notation: K = input features, N = weight columns after merging (for a
/// SiLU-and-multiply layer N counts gate and up columns), Nout = output
/// columns (N, or N / 2 with SiLU-and-multiply). Element buffers (fp16 or
/// bf16, the layer's activation type) are row-major.
///
/// The three weight buffers are in the repacked layout of the kernel family
/// the launched kernel belongs to:
///   - GEMV (awq/gemv.cuh, runtime/kernels/GemvLayout.h): `qweight` holds each
///     column's values packed along K; `scales` and `zeros` are [N, K/G]
///     (column-major per group) elements, and `zeros` holds the zero point z
///     itself (a small integer, exact in fp16 and bf16) so the kernel can
///     subtract z * sum(x) exactly in fp32.
///   - GEMM (awq/gemm.cuh, runtime/kernels/GemmLayout.h): see that header;
///     its `zeros` may hold the products z * s instead.
/// `zeros` is nullptr for a symmetric layer (implicit zero 2^(bits-1)).
template <class Element> struct LinearArgsOf {
  /// [M, K] activations, row stride K.
  const Element *x;
  /// Packed quantized weights, family layout; never read outside its size.
  const uint32_t *qweight;
  /// Per (group, column) scales, family layout.
  const Element *scales;
  /// Per (group, column) zero-point term, family layout; nullptr if symmetric.
  const Element *zeros;
  /// [K] per-input-channel activation scale a (x * a enters the product), or
  /// nullptr.
  const Element *actScale;
  /// [N] bias in merged column order (interleaved gate/up for SiLU-mul), or
  /// nullptr.
  const Element *bias;
  /// [M, Nout] added to the output after the activation, or nullptr.
  const Element *residual;
  /// [M, Nout] output; every element is written exactly once per launch.
  Element *y;
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

/// The arguments of an fp16 kernel, and what the launcher fills for any.
using LinearArgs = LinearArgsOf<half>;

/// The arguments of the kernel of config `Cfg` (its `Element` type).
template <class Cfg> using ArgsOf = LinearArgsOf<typename Cfg::Element>;

#if !defined(__CUDACC_RTC__)
// The launcher passes a LinearArgs to bf16 kernels: same members, same
// offsets (pointers to any object type have one size and alignment).
static_assert(sizeof(LinearArgsOf<__nv_bfloat16>) == sizeof(LinearArgs) &&
                  alignof(LinearArgsOf<__nv_bfloat16>) == alignof(LinearArgs),
              "LinearArgsOf<bf16> must have LinearArgs's layout");
static_assert(__builtin_offsetof(LinearArgsOf<__nv_bfloat16>, M) ==
                      __builtin_offsetof(LinearArgs, M) &&
                  __builtin_offsetof(LinearArgsOf<__nv_bfloat16>, y) ==
                      __builtin_offsetof(LinearArgs, y),
              "LinearArgsOf<bf16> must have LinearArgs's layout");
#endif

} // namespace awq

#endif // AWQ_DEVICE_LINEAR_ARGS_CUH
