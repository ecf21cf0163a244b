!w = !awq.qweight<k = 4096, n = 4096, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @f(%x: tensor<?x4096xf16>, %w: !w) -> tensor<?x4096xf16> {
  %0 = awq.linear %x, %w {gemv = #awq.gemv<threads = 128, cols_per_warp = 4, k_split = 3, max_rows = 4>} : tensor<?x4096xf16>, !w -> tensor<?x4096xf16>
  return %0 : tensor<?x4096xf16>
}
