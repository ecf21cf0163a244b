// RUN: awq-opt %s --awq-test-print-kernel-info -o /dev/null | FileCheck %s

// The values the LinearLikeOpInterface and KernelOpInterface methods derive.
// Every expected number below was worked out by hand from the formulas of
// runtime/support/KernelGeometry.h; the arithmetic is written next to it.

// GEMV, 4-bit, group 128, K = 256:
//   units = ceil(256 / 32) = 8, tiles = ceil(8 / 32) = 1 of tile_k = 1024;
//   group 128 < 1024: tiles_per_group = 1, groups_per_tile = 1024 / 128 = 8;
//   shared = (max_rows * (1152 + 32) + 4) * 4 = (4 * 1184 + 4) * 4 = 18960
//   (1152: 32 staged units of 32 values padded to 36).
// CHECK:      awq.gemv_kernel: k = 256, n = 128, n_out = 128, bits = 4, group = 128, zero_point = true,
// CHECK-SAME:   act_scale = false, bias = true, residual = false, silu_mul = false
// CHECK-NEXT:   kernel g4: family = gemv,
// CHECK-SAME:   k_loop = #awq.k_loop<tile_k = 1024, tiles = 1, splits = 1, tiles_per_split = 1, group = 128, tiles_per_group = 1, groups_per_tile = 8>,
// CHECK-SAME:   dequant = fp32_subnormal, shared_bytes = 18960{{$}}
func.func @gemv_4bit(%x: tensor<?x256xf16>, %b: tensor<128xf16>,
                     %w: !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, gemv_interleaved>) -> tensor<?x128xf16> {
  %y = awq.gemv_kernel "g4" config #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 1, max_rows = 4> %x, %w bias(%b : tensor<128xf16>)
      : tensor<?x256xf16>, !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, gemv_interleaved> -> tensor<?x128xf16>
  return %y : tensor<?x128xf16>
}

// GEMV, 3-bit, one group per column (group = K = 4096), split-K 2, silu_mul:
//   units = 4096 / 32 = 128, tiles = 128 / 32 = 4, tiles_per_split =
//   ceil(4 / 2) = 2; group = K spans every tile: 4 * 1024 = 4096 values,
//   tiles_per_group = 4096 / 1024 = 4, groups_per_tile = 1;
//   shared = (2 * (1152 + 32) + 4) * 4 = 2372 * 4 = 9488; n_out = 256 / 2.
// CHECK:      awq.gemv_kernel: k = 4096, n = 256, n_out = 128, bits = 3, group = 4096, zero_point = true,
// CHECK-SAME:   act_scale = false, bias = false, residual = false, silu_mul = true
// CHECK-NEXT:   kernel g3: family = gemv,
// CHECK-SAME:   k_loop = #awq.k_loop<tile_k = 1024, tiles = 4, splits = 2, tiles_per_split = 2, group = 4096, tiles_per_group = 4, groups_per_tile = 1>,
// CHECK-SAME:   dequant = fp32_subnormal, shared_bytes = 9488{{$}}
func.func @gemv_3bit_per_column_split(%x: tensor<?x4096xf16>,
                     %w: !awq.qweight<k = 4096, n = 256, bits = 3, group = 4096, zero_point, gemv_interleaved>) -> tensor<?x128xf16> {
  %y = awq.gemv_kernel "g3" config #awq.gemv<threads = 256, cols_per_warp = 4, k_split = 2, max_rows = 2> %x, %w epilogue silu_mul
      : tensor<?x4096xf16>, !awq.qweight<k = 4096, n = 256, bits = 3, group = 4096, zero_point, gemv_interleaved> -> tensor<?x128xf16>
  return %y : tensor<?x128xf16>
}

// GEMM, 4-bit, group 128, K = 256, tile 64 x 128 x 64, 4 stages, split-K 4:
//   k_tiles = 256 / 64 = 4, tiles_per_split = ceil(4 / 4) = 1,
//   tiles_per_group = 128 / 64 = 2, groups_per_tile = 1;
//   stage = A 64*64*2 = 8192 + B (128/64)*(64/32)*(256*4) = 4096 = 12288,
//   scales 1 * 128 * 2 * 2 (s and zs) = 512;
//   shared = 4 * (12288 + 512) + 16 = 51216.
// CHECK:      awq.gemm_kernel: k = 256, n = 128, n_out = 128, bits = 4, group = 128, zero_point = true,
// CHECK-SAME:   act_scale = false, bias = false, residual = true, silu_mul = false
// CHECK-NEXT:   kernel m4: family = gemm,
// CHECK-SAME:   k_loop = #awq.k_loop<tile_k = 64, tiles = 4, splits = 4, tiles_per_split = 1, group = 128, tiles_per_group = 2, groups_per_tile = 1>,
// CHECK-SAME:   dequant = fp16_magic_lop3, shared_bytes = 51216{{$}}
func.func @gemm_4bit_split(%x: tensor<?x256xf16>, %r: tensor<?x128xf16>,
                     %w: !awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, mma_fragment>) -> tensor<?x128xf16> {
  %y = awq.gemm_kernel "m4" config #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 4> %x, %w residual(%r : tensor<?x128xf16>)
      : tensor<?x256xf16>, !awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, mma_fragment> -> tensor<?x128xf16>
  return %y : tensor<?x128xf16>
}

// GEMM, 8-bit symmetric, one group per column (group = K = 2048), with an
// activation scale, 3 stages:
//   k_tiles = 2048 / 64 = 32, group_eff = padded K = 2048,
//   tiles_per_group = 2048 / 64 = 32, groups_per_tile = 1;
//   stage = A 8192 + B 2*2*(256*8) = 8192 + act 64*2 = 128 = 16512,
//   scales 1 * 128 * 2 * 1 (no zero point) = 256;
//   shared = 3 * (16512 + 256) + 16 = 50320.
// CHECK:      awq.gemm_kernel: k = 2048, n = 256, n_out = 256, bits = 8, group = 2048, zero_point = false,
// CHECK-SAME:   act_scale = true, bias = false, residual = false, silu_mul = false
// CHECK-NEXT:   kernel m8: family = gemm,
// CHECK-SAME:   k_loop = #awq.k_loop<tile_k = 64, tiles = 32, splits = 1, tiles_per_split = 32, group = 2048, tiles_per_group = 32, groups_per_tile = 1>,
// CHECK-SAME:   dequant = fp16_magic_prmt, shared_bytes = 50320{{$}}
func.func @gemm_8bit_per_column(%x: tensor<?x2048xf16>, %a: tensor<2048xf16>,
                     %w: !awq.qweight<k = 2048, n = 256, bits = 8, group = 2048, symmetric, mma_fragment>) -> tensor<?x256xf16> {
  %y = awq.gemm_kernel "m8" config #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 3, split_k = 1> %x, %w act_scale(%a : tensor<2048xf16>)
      : tensor<?x2048xf16>, !awq.qweight<k = 2048, n = 256, bits = 8, group = 2048, symmetric, mma_fragment> -> tensor<?x256xf16>
  return %y : tensor<?x256xf16>
}

// GEMM, 3-bit, group 32 < tile_k 64, 2 stages:
//   k_tiles = 512 / 64 = 8, tiles_per_group = 1, groups_per_tile = 64 / 32 = 2;
//   stage = A 8192 + B 2*2*(256*3) = 3072 = 11264,
//   scales for 2 group rows: 2 * 128 * 2 * 2 = 1024;
//   shared = 2 * (11264 + 1024) + 16 = 24592.
// CHECK:      awq.gemm_kernel: k = 512, n = 256, n_out = 256, bits = 3, group = 32, zero_point = true,
// CHECK-NEXT:   kernel m3: family = gemm,
// CHECK-SAME:   k_loop = #awq.k_loop<tile_k = 64, tiles = 8, splits = 1, tiles_per_split = 8, group = 32, tiles_per_group = 1, groups_per_tile = 2>,
// CHECK-SAME:   dequant = fp16_magic_planes, shared_bytes = 24592{{$}}
func.func @gemm_3bit_small_groups(%x: tensor<?x512xf16>,
                     %w: !awq.qweight<k = 512, n = 256, bits = 3, group = 32, scaled_zero, mma_fragment>) -> tensor<?x256xf16> {
  %y = awq.gemm_kernel "m3" config #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 2, split_k = 1> %x, %w
      : tensor<?x512xf16>, !awq.qweight<k = 512, n = 256, bits = 3, group = 32, scaled_zero, mma_fragment> -> tensor<?x256xf16>
  return %y : tensor<?x256xf16>
}

// awq.linear has a shape but no kernel values.
// CHECK:      awq.linear: k = 256, n = 256, n_out = 128, bits = 4, group = 64, zero_point = false,
// CHECK-SAME:   act_scale = false, bias = false, residual = false, silu_mul = true
// CHECK-NOT:    kernel
func.func @linear(%x: tensor<?x256xf16>,
                  %w: !awq.qweight<k = 256, n = 256, bits = 4, group = 64, symmetric, autoawq_gemm>) -> tensor<?x128xf16> {
  %y = awq.linear %x, %w epilogue silu_mul
      : tensor<?x256xf16>, !awq.qweight<k = 256, n = 256, bits = 4, group = 64, symmetric, autoawq_gemm> -> tensor<?x128xf16>
  return %y : tensor<?x128xf16>
}
