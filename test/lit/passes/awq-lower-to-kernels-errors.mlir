// RUN: awq-opt %s --awq-lower-to-kernels --split-input-file --verify-diagnostics

// The GEMV kernel subtracts z * sum(x) in fp32: it needs z itself, which a
// weight that only carries z * s (here an argument) cannot provide.
!zs = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, autoawq_gemm>
func.func @gemv_without_zero_points(%x: tensor<?x256xf16>, %w: !zs) -> tensor<?x128xf16> {
  // expected-error @+1 {{the gemv kernel needs the stored zero points, but the weight only provides z * s}}
  %y = awq.linear %x, %w {gemv = #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 1, max_rows = 4>}
      : tensor<?x256xf16>, !zs -> tensor<?x128xf16>
  return %y : tensor<?x128xf16>
}
