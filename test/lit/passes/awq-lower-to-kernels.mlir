// RUN: awq-opt %s --awq-lower-to-kernels | FileCheck %s

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
  // CHECK: %[[V:.+]] = awq.gemv_kernel "model_layers_3_self_attn_o_proj_gemv" %{{.*}}, %[[RV]]
  // CHECK-SAME: k_loop #awq.k_loop<tile_k = 1024, tiles = 4, splits = 2, tiles_per_split = 2, group = 128, tiles_per_group = 1, groups_per_tile = 8>
  // CHECK-SAME: dequant fp32_subnormal shared_bytes 16912
  // CHECK: %[[RM:.+]] = awq.repack %[[F]] : {{.*}} -> !awq.qweight<k = 4096, n = 4096, bits = 4, group = 128, scaled_zero, mma_fragment>
  // CHECK: %[[M:.+]] = awq.gemm_kernel "model_layers_3_self_attn_o_proj_gemm" %{{.*}}, %[[RM]]
  // CHECK-SAME: k_loop #awq.k_loop<tile_k = 64, tiles = 64, splits = 3, tiles_per_split = 22, group = 128, tiles_per_group = 2, groups_per_tile = 1>
  // CHECK-SAME: dequant fp16_magic_lop3 shared_bytes 51216
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
  // CHECK: %[[M:.+]] = awq.gemm_kernel "linear_1_gemm" %{{.*}}, %[[R]]
  // CHECK-NOT: awq.select_by_rows
  // CHECK: return %[[M]]
  %y = awq.linear %x, %w {gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 1>,
                          gemm_min_m = 1 : i64} : tensor<?x4096xf16>, !zp -> tensor<?x4096xf16>
  return %y : tensor<?x4096xf16>
}

// One group per column: the whole K loop shares one scale row. 8-bit
// weights decode with prmt in the GEMM.
// CHECK-LABEL: func.func @per_column
func.func @per_column(%x: tensor<?x2048xf16>, %w: !col) -> tensor<?x256xf16> {
  // CHECK: awq.gemv_kernel {{.*}} k_loop #awq.k_loop<tile_k = 1024, tiles = 2, splits = 1, tiles_per_split = 2, group = 2048, tiles_per_group = 2, groups_per_tile = 1>
  // CHECK: awq.gemm_kernel {{.*}} k_loop #awq.k_loop<tile_k = 64, tiles = 32, splits = 1, tiles_per_split = 32, group = 2048, tiles_per_group = 32, groups_per_tile = 1> dequant fp16_magic_prmt
  %y = awq.linear %x, %w {gemv = #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 1, max_rows = 4>,
                          gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 3, split_k = 1>,
                          gemm_min_m = 9 : i64} : tensor<?x2048xf16>, !col -> tensor<?x256xf16>
  return %y : tensor<?x256xf16>
}

// 32-wide groups: two groups per 64-deep GEMM tile; 3-bit weights decode
// from bit planes. Only a GEMV: no select.
// CHECK-LABEL: func.func @small_groups
func.func @small_groups(%x: tensor<?x512xf16>, %w: !g32, %b: tensor<256xf16>) -> (tensor<?x256xf16>, tensor<?x256xf16>) {
  // CHECK: awq.gemv_kernel "linear_3_gemv" {{.*}} bias(
  // CHECK-SAME: groups_per_tile = 32
  // CHECK: awq.gemm_kernel "linear_4_gemm" {{.*}} k_loop #awq.k_loop<tile_k = 64, tiles = 8, splits = 1, tiles_per_split = 8, group = 32, tiles_per_group = 1, groups_per_tile = 2> dequant fp16_magic_planes
  %y = awq.linear %x, %w bias(%b : tensor<256xf16>) {gemv = #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 1, max_rows = 4>}
      : tensor<?x512xf16>, !g32 -> tensor<?x256xf16>
  %z = awq.linear %x, %w {gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 2, split_k = 1>,
                          gemm_min_m = 1 : i64} : tensor<?x512xf16>, !g32 -> tensor<?x256xf16>
  return %y, %z : tensor<?x256xf16>, tensor<?x256xf16>
}

// Without configurations a linear is left alone.
// CHECK-LABEL: func.func @unconfigured
func.func @unconfigured(%x: tensor<?x4096xf16>, %w: !zp) -> tensor<?x4096xf16> {
  // CHECK: awq.linear
  %y = awq.linear %x, %w : tensor<?x4096xf16>, !zp -> tensor<?x4096xf16>
  return %y : tensor<?x4096xf16>
}
