// RUN: awq-opt %s --split-input-file --awq-select-kernels | FileCheck %s
// RUN: awq-opt %s --split-input-file --awq-select-kernels="target=sm_90 families=gemm" | FileCheck %s --check-prefix=GEMM90
// RUN: awq-opt %s --split-input-file --awq-select-kernels="gemm-min-m=5" | FileCheck %s --check-prefix=MINM5

!w = !awq.qweight<k = 4096, n = 4096, bits = 4, group = 128, scaled_zero, autoawq_gemm>
!down = !awq.qweight<k = 11008, n = 4096, bits = 4, group = 128, scaled_zero, autoawq_gemm>
!narrow = !awq.qweight<k = 4096, n = 64, bits = 8, group = 32, symmetric, autoawq_gemm>

// LLaMA-2-7B shapes on A100 (108 SMs): 4096 columns in 32-column GEMV blocks
// give 128 blocks, so K is split in two to reach 2 blocks per SM; the GEMM's
// 32 column tiles are split 6 ways along K: 192 blocks fit the 216 that 108
// SMs hold at once (two each), 7 ways would spill into a second wave.
// CHECK-LABEL: func.func @llama
// GEMM90-LABEL: func.func @llama
module attributes {awq.target = "sm_80"} {
func.func @llama(%x: tensor<?x4096xf16>, %h: tensor<?x11008xf16>, %w: !w, %d: !down, %n: !narrow)
    -> (tensor<?x4096xf16>, tensor<?x4096xf16>, tensor<?x64xf16>) {
  // CHECK: awq.linear
  // CHECK-SAME: gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 128, warps_m = 2, warps_n = 2, stages = 3, split_k = 6>
  // CHECK-SAME: gemm_min_m = 2
  // CHECK-SAME: gemv = #awq.gemv<threads = 256, cols_per_warp = 8, k_split = 2, max_rows = 1>
  // A GEMV that serves up to 4 rows gets row bodies for 1, 2 and 4.
  // MINM5-LABEL: func.func @llama
  // MINM5: awq.linear
  // MINM5-SAME: gemm_min_m = 5
  // MINM5-SAME: gemv = #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 2, max_rows = 4>
  // GEMM90: awq.linear
  // GEMM90-SAME: gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 128, warps_m = 2, warps_n = 2, stages = 3, split_k = 8>
  // GEMM90-SAME: gemm_min_m = 1
  // GEMM90-NOT: gemv =
  %0 = awq.linear %x, %w : tensor<?x4096xf16>, !w -> tensor<?x4096xf16>
  // CHECK: awq.linear
  // CHECK-SAME: split_k = 6
  // CHECK-SAME: gemv = #awq.gemv<threads = 256, cols_per_warp = 8, k_split = 2, max_rows = 1>
  %1 = awq.linear %h, %d : tensor<?x11008xf16>, !down -> tensor<?x4096xf16>
  // A 64-column 8-bit layer gets 64-wide GEMM tiles on one warp column, and
  // its two GEMV blocks (8 columns per warp in the one-row body) split K four
  // ways (4096 values = 4 GEMV tiles).
  // CHECK: awq.linear
  // CHECK-SAME: gemm = #awq.gemm<tile_m = 64, tile_n = 64, tile_k = 128, warps_m = 2, warps_n = 1, stages = 3, split_k = 8>
  // CHECK-SAME: gemv = #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 4, max_rows = 1>
  %2 = awq.linear %x, %n : tensor<?x4096xf16>, !narrow -> tensor<?x64xf16>
  return %0, %1, %2 : tensor<?x4096xf16>, tensor<?x4096xf16>, tensor<?x64xf16>
}
}

// -----

// sm_86 has 100 KB of shared memory per SM: three stages of 8-bit 128 x 128
// tiles (97 KB) would leave room for one block, three of tile_k 64 (49 KB)
// fit two.
// CHECK-LABEL: func.func @consumer
!w8 = !awq.qweight<k = 8192, n = 28672, bits = 8, group = 128, symmetric, autoawq_gemm>
module attributes {awq.target = "sm_86"} {
func.func @consumer(%x: tensor<?x8192xf16>, %w: !w8) -> tensor<?x28672xf16> {
  // CHECK: gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 3, split_k = 1>
  // CHECK-SAME: gemv = #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 1, max_rows = 1>
  %0 = awq.linear %x, %w : tensor<?x8192xf16>, !w8 -> tensor<?x28672xf16>
  return %0 : tensor<?x28672xf16>
}
}

// -----

// sm_75 (T4) has no cp.async: the GEMM stages one tile in registers, so a
// two-stage ring holds all there is; tile_k 64 leaves room for two blocks
// in its 64 KB per SM. 4096 columns in tiles of 128 on 40 SMs holding 80
// blocks at once: two splits; the GEMV's 128 blocks of 32 columns need none.
// CHECK-LABEL: func.func @turing
!t = !awq.qweight<k = 4096, n = 4096, bits = 4, group = 128, zero_point, autoawq_gemm>
module attributes {awq.target = "sm_75"} {
func.func @turing(%x: tensor<?x4096xf16>, %w: !t) -> tensor<?x4096xf16> {
  // CHECK: gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 2, split_k = 2>
  // CHECK-SAME: gemv = #awq.gemv<threads = 256, cols_per_warp = 8, k_split = 1, max_rows = 1>
  %0 = awq.linear %x, %w : tensor<?x4096xf16>, !t -> tensor<?x4096xf16>
  return %0 : tensor<?x4096xf16>
}
}
