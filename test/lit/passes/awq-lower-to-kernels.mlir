// RUN: awq-opt %s --awq-lower-to-kernels | FileCheck %s

// Kernels are named after their template instance (family, shape,
// quantization, epilogue, tiling), so identical layers share one kernel.

!zp = !awq.qweight<k = 4096, n = 4096, bits = 4, group = 128, zero_point, autoawq_gemm>
!zs = !awq.qweight<k = 4096, n = 4096, bits = 4, group = 128, scaled_zero, autoawq_gemm>
!col = !awq.qweight<k = 2048, n = 256, bits = 8, group = 2048, symmetric, autoawq_gemm>
!g32 = !awq.qweight<k = 512, n = 256, bits = 3, group = 32, zero_point, autoawq_gemm>

// Both families: the GEMV reads the raw zero points through the fold, the
// GEMM the folded weight; select_by_rows picks one by M.
// CHECK-LABEL: func.func @both
func.func @both(%x: tensor<?x4096xf16>) -> tensor<?x4096xf16> {
  // CHECK: %[[W:.+]] = awq.external "model.layers.3.self_attn.o_proj"
  // CHECK: %[[F:.+]] = awq.fold_zero_points %[[W]]
  // CHECK: %[[RV:.+]] = awq.repack %[[W]] : {{.*}} -> !awq.qweight<k = 4096, n = 4096, bits = 4, group = 128, zero_point, gemv_interleaved>
  // CHECK: %[[V:.+]] = awq.gemv_kernel "gemv_k4096_n4096_b4_g128_zp_t128c8s2r4"
  // CHECK-SAME: config #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 2, max_rows = 4> %{{.*}}, %[[RV]] :
  // CHECK: %[[RM:.+]] = awq.repack %[[F]] : {{.*}} -> !awq.qweight<k = 4096, n = 4096, bits = 4, group = 128, scaled_zero, mma_fragment>
  // CHECK: %[[M:.+]] = awq.gemm_kernel "gemm_k4096_n4096_b4_g128_zp_m64n128k64w2x2s4sk3"
  // CHECK-SAME: config #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 3> %{{.*}}, %[[RM]] :
  // CHECK: %[[S:.+]] = awq.select_by_rows %{{.*}}, %[[V]], %[[M]] {gemm_min_m = 5 : i64}
  // CHECK: return %[[S]]
  %w = awq.external "model.layers.3.self_attn.o_proj" : !zp
  %f = awq.fold_zero_points %w : !zp -> !zs
  %y = awq.linear %x, %f {gemv = #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 2, max_rows = 4>,
                          gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 3>,
                          gemm_min_m = 5 : i64} : tensor<?x4096xf16>, !zs -> tensor<?x4096xf16>
  return %y : tensor<?x4096xf16>
}

// A GEMM-only layer whose zero points were not folded yet gets the fold here.
// CHECK-LABEL: func.func @gemm_only
func.func @gemm_only(%x: tensor<?x4096xf16>, %w: !zp) -> tensor<?x4096xf16> {
  // CHECK: %[[F:.+]] = awq.fold_zero_points
  // CHECK: %[[R:.+]] = awq.repack %[[F]]
  // CHECK: %[[M:.+]] = awq.gemm_kernel "gemm_k4096_n4096_b4_g128_zp_m64n128k64w2x2s4sk1" config #awq.gemm<{{[^>]+}}> %{{.*}}, %[[R]] :
  // CHECK-NOT: awq.select_by_rows
  // CHECK: return %[[M]]
  %y = awq.linear %x, %w {gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 1>,
                          gemm_min_m = 1 : i64} : tensor<?x4096xf16>, !zp -> tensor<?x4096xf16>
  return %y : tensor<?x4096xf16>
}

// One group per column, symmetric 8-bit: neither kernel needs a zero-point
// fold, both repack the weight itself.
// CHECK-LABEL: func.func @per_column
func.func @per_column(%x: tensor<?x2048xf16>, %w: !col) -> tensor<?x256xf16> {
  // CHECK-NOT: awq.fold_zero_points
  // CHECK: %[[RV:.+]] = awq.repack %{{.*}} -> !awq.qweight<k = 2048, n = 256, bits = 8, group = 2048, symmetric, gemv_interleaved>
  // CHECK: awq.gemv_kernel "gemv_k2048_n256_b8_gk_sym_t128c8s1r4" config #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 1, max_rows = 4> %{{.*}}, %[[RV]] :
  // CHECK: %[[RM:.+]] = awq.repack %{{.*}} -> !awq.qweight<k = 2048, n = 256, bits = 8, group = 2048, symmetric, mma_fragment>
  // CHECK: awq.gemm_kernel "gemm_k2048_n256_b8_gk_sym_m64n128k64w2x2s3sk1" config #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 3, split_k = 1> %{{.*}}, %[[RM]] :
  // CHECK: awq.select_by_rows {{.*}} {gemm_min_m = 9 : i64}
  %y = awq.linear %x, %w {gemv = #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 1, max_rows = 4>,
                          gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 3, split_k = 1>,
                          gemm_min_m = 9 : i64} : tensor<?x2048xf16>, !col -> tensor<?x256xf16>
  return %y : tensor<?x256xf16>
}

// One family each: no select; the bias follows the linear.
// CHECK-LABEL: func.func @small_groups
func.func @small_groups(%x: tensor<?x512xf16>, %w: !g32, %b: tensor<256xf16>) -> (tensor<?x256xf16>, tensor<?x256xf16>) {
  // CHECK: %[[Y:.+]] = awq.gemv_kernel "gemv_k512_n256_b3_g32_zp_bias_t128c8s1r4" config #awq.gemv<{{[^>]+}}> %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<256xf16>) :
  // CHECK: %[[Z:.+]] = awq.gemm_kernel "gemm_k512_n256_b3_g32_zp_m64n128k64w2x2s2sk1" config #awq.gemm<{{[^>]+}}> %{{.*}}, %{{.*}} :
  // CHECK-NOT: awq.select_by_rows
  // CHECK: return %[[Y]], %[[Z]]
  %y = awq.linear %x, %w bias(%b : tensor<256xf16>) {gemv = #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 1, max_rows = 4>}
      : tensor<?x512xf16>, !g32 -> tensor<?x256xf16>
  %z = awq.linear %x, %w {gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 2, split_k = 1>,
                          gemm_min_m = 1 : i64} : tensor<?x512xf16>, !g32 -> tensor<?x256xf16>
  return %y, %z : tensor<?x256xf16>, tensor<?x256xf16>
}

// Two layers with the same instance reference one kernel; a different
// epilogue makes another.
// CHECK-LABEL: func.func @shared
func.func @shared(%x: tensor<?x4096xf16>, %a: !zs, %b: !zs, %r: tensor<?x4096xf16>) -> (tensor<?x4096xf16>, tensor<?x4096xf16>, tensor<?x4096xf16>) {
  // CHECK: awq.gemm_kernel "[[K:gemm_k4096_n4096_b4_g128_zp_m64n128k64w2x2s4sk1]]"
  // CHECK: awq.gemm_kernel "[[K]]"
  // CHECK: awq.gemm_kernel "gemm_k4096_n4096_b4_g128_zp_res_m64n128k64w2x2s4sk1"
  %y = awq.linear %x, %a {gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 1>,
                          gemm_min_m = 1 : i64} : tensor<?x4096xf16>, !zs -> tensor<?x4096xf16>
  %z = awq.linear %y, %b {gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 1>,
                          gemm_min_m = 1 : i64} : tensor<?x4096xf16>, !zs -> tensor<?x4096xf16>
  %w = awq.linear %z, %b residual(%r : tensor<?x4096xf16>) {gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 1>,
                          gemm_min_m = 1 : i64} : tensor<?x4096xf16>, !zs -> tensor<?x4096xf16>
  return %y, %z, %w : tensor<?x4096xf16>, tensor<?x4096xf16>, tensor<?x4096xf16>
}

// A merged weight whose first tensor name starts with '.' once sent the kernel
// naming into an endless loop; names no longer come from tensors.
// CHECK-LABEL: func.func @dotted_names
func.func @dotted_names(%x: tensor<?x4096xf16>) -> tensor<?x8192xf16> {
  // CHECK: awq.gemm_kernel "gemm_k4096_n8192_b4_g128_zp_m64n128k64w2x2s4sk1"
  %a = awq.external ".q_proj" : !zs
  %b = awq.external "k_proj" : !zs
  %w = awq.concat_weights %a, %b : !zs, !zs -> !awq.qweight<k = 4096, n = 8192, bits = 4, group = 128, scaled_zero, autoawq_gemm>
  %y = awq.linear %x, %w {gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 1>,
                          gemm_min_m = 1 : i64} : tensor<?x4096xf16>, !awq.qweight<k = 4096, n = 8192, bits = 4, group = 128, scaled_zero, autoawq_gemm> -> tensor<?x8192xf16>
  return %y : tensor<?x8192xf16>
}

// Without configurations a linear is left alone.
// CHECK-LABEL: func.func @unconfigured
func.func @unconfigured(%x: tensor<?x4096xf16>, %w: !zp) -> tensor<?x4096xf16> {
  // CHECK: awq.linear
  %y = awq.linear %x, %w : tensor<?x4096xf16>, !zp -> tensor<?x4096xf16>
  return %y : tensor<?x4096xf16>
}
