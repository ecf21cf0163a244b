// RUN: awq-opt %s | awq-opt | FileCheck %s
// RUN: awq-opt %s --mlir-print-op-generic | awq-opt | FileCheck %s

!w4 = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>

// CHECK-LABEL: func.func @types
// CHECK-SAME: !awq.qweight<k = 256, n = 64, bits = 3, group = 32, symmetric, autoawq_gemm>
// CHECK-SAME: !awq.qweight<k = 256, n = 64, bits = 8, group = 64, scaled_zero, gemv_interleaved>
// CHECK-SAME: !awq.qweight<k = 96, n = 24, bits = 4, group = 96, zero_point, mma_fragment>
func.func @types(
    %a: !awq.qweight<k = 256, n = 64, bits = 3, group = 32, symmetric, autoawq_gemm>,
    %b: !awq.qweight<k = 256, n = 64, bits = 8, group = 64, scaled_zero, gemv_interleaved>,
    %c: !awq.qweight<k = 96, n = 24, bits = 4, group = 96, zero_point, mma_fragment>) {
  return
}

// CHECK-LABEL: func.func @external
func.func @external() -> (!w4, tensor<256xf16>, tensor<4x8xf32>) {
  // CHECK: awq.external "model.layers.0.self_attn.q_proj" from "model.safetensors" : !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
  %w = awq.external "model.layers.0.self_attn.q_proj" from "model.safetensors" : !w4
  // CHECK: awq.external "model.norm.weight" : tensor<256xf16>
  %g = awq.external "model.norm.weight" : tensor<256xf16>
  // CHECK: awq.external "calib.table" : tensor<4x8xf32>
  %t = awq.external "calib.table" : tensor<4x8xf32>
  return %w, %g, %t : !w4, tensor<256xf16>, tensor<4x8xf32>
}

// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[X:.+]]: tensor<?x256xf16>, %[[W:.+]]: !awq.qweight{{.*}}, %[[B:.+]]: tensor<128xf16>, %[[S:.+]]: tensor<256xf16>, %[[R:.+]]: tensor<?x128xf16>, %[[R2:.+]]: tensor<?x64xf16>)
func.func @linear(%x: tensor<?x256xf16>, %w: !w4, %b: tensor<128xf16>,
                  %s: tensor<256xf16>, %r: tensor<?x128xf16>, %r2: tensor<?x64xf16>)
    -> (tensor<?x128xf16>, tensor<?x128xf16>, tensor<?x64xf16>, tensor<8x128xf16>) {
  // CHECK: awq.linear %[[X]], %[[W]] : tensor<?x256xf16>, !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm> -> tensor<?x128xf16>
  %0 = awq.linear %x, %w : tensor<?x256xf16>, !w4 -> tensor<?x128xf16>
  // CHECK: awq.linear %[[X]], %[[W]] bias(%[[B]] : tensor<128xf16>) act_scale(%[[S]] : tensor<256xf16>) residual(%[[R]] : tensor<?x128xf16>)
  // CHECK-SAME: gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 1>
  // CHECK-SAME: gemm_min_m = 9
  // CHECK-SAME: gemv = #awq.gemv<threads = 128, cols_per_warp = 4, k_split = 1, max_rows = 4>
  %1 = awq.linear %x, %w bias(%b : tensor<128xf16>) act_scale(%s : tensor<256xf16>) residual(%r : tensor<?x128xf16>)
      {gemv = #awq.gemv<threads = 128, cols_per_warp = 4, k_split = 1, max_rows = 4>,
       gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 1>,
       gemm_min_m = 9}
      : tensor<?x256xf16>, !w4 -> tensor<?x128xf16>
  // CHECK: awq.linear %[[X]], %[[W]] residual(%[[R2]] : tensor<?x64xf16>) epilogue silu_mul : {{.*}} -> tensor<?x64xf16>
  %2 = awq.linear %x, %w residual(%r2 : tensor<?x64xf16>) epilogue silu_mul : tensor<?x256xf16>, !w4 -> tensor<?x64xf16>
  // CHECK: awq.linear {{.*}} : tensor<8x256xf16>, {{.*}} -> tensor<8x128xf16>
  %xs = tensor.cast %x : tensor<?x256xf16> to tensor<8x256xf16>
  %3 = awq.linear %xs, %w : tensor<8x256xf16>, !w4 -> tensor<8x128xf16>
  return %0, %1, %2, %3 : tensor<?x128xf16>, tensor<?x128xf16>, tensor<?x64xf16>, tensor<8x128xf16>
}

// CHECK-LABEL: func.func @norms_and_elementwise
func.func @norms_and_elementwise(%x: tensor<?x256xf16>, %g: tensor<256xf16>, %b: tensor<256xf16>)
    -> (tensor<?x256xf16>, tensor<?x256xf16>, tensor<?x256xf16>, tensor<?x256xf16>) {
  // CHECK: awq.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32} : tensor<?x256xf16>, tensor<256xf16>
  %0 = awq.rms_norm %x, %g {epsilon = 1.0e-05 : f32} : tensor<?x256xf16>, tensor<256xf16>
  // CHECK: awq.rms_norm %{{.*}}, %{{.*}} : tensor<?x256xf16>, tensor<256xf16>
  %1 = awq.rms_norm %x, %g : tensor<?x256xf16>, tensor<256xf16>
  // CHECK: awq.layer_norm %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<256xf16>) : tensor<?x256xf16>, tensor<256xf16>
  %2 = awq.layer_norm %x, %g bias(%b : tensor<256xf16>) : tensor<?x256xf16>, tensor<256xf16>
  // CHECK: awq.layer_norm %{{.*}}, %{{.*}} {epsilon = 1.000000e-03 : f32} : tensor<?x256xf16>, tensor<256xf16>
  %3 = awq.layer_norm %x, %g {epsilon = 1.0e-03 : f32} : tensor<?x256xf16>, tensor<256xf16>
  // CHECK: awq.silu_mul %{{.*}}, %{{.*}} : tensor<?x256xf16>
  %4 = awq.silu_mul %0, %1 : tensor<?x256xf16>
  // CHECK: awq.add %{{.*}}, %{{.*}} : tensor<?x256xf16>
  %5 = awq.add %4, %2 : tensor<?x256xf16>
  return %5, %3, %0, %1 : tensor<?x256xf16>, tensor<?x256xf16>, tensor<?x256xf16>, tensor<?x256xf16>
}

// CHECK-LABEL: func.func @split
func.func @split(%x: tensor<?x96xf16>) -> (tensor<?x64xf16>, tensor<?x16xf16>, tensor<?x16xf16>) {
  // CHECK: awq.split %{{.*}} : tensor<?x96xf16> -> tensor<?x64xf16>, tensor<?x16xf16>, tensor<?x16xf16>
  %q, %k, %v = awq.split %x : tensor<?x96xf16> -> tensor<?x64xf16>, tensor<?x16xf16>, tensor<?x16xf16>
  return %q, %k, %v : tensor<?x64xf16>, tensor<?x16xf16>, tensor<?x16xf16>
}

// CHECK-LABEL: func.func @explicit
func.func @explicit(%x: tensor<?x256xf16>, %s: tensor<256xf16>, %w: !w4) -> tensor<?x128xf16> {
  // CHECK: %[[XS:.+]] = awq.scale_activation %{{.*}}, %{{.*}} : tensor<?x256xf16>, tensor<256xf16>
  %xs = awq.scale_activation %x, %s : tensor<?x256xf16>, tensor<256xf16>
  // CHECK: %[[WF:.+]] = awq.dequantize %{{.*}} : !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm> -> tensor<256x128xf16>
  %wf = awq.dequantize %w : !w4 -> tensor<256x128xf16>
  // CHECK: awq.matmul %[[XS]], %[[WF]] : tensor<?x256xf16>, tensor<256x128xf16> -> tensor<?x128xf16>
  %y = awq.matmul %xs, %wf : tensor<?x256xf16>, tensor<256x128xf16> -> tensor<?x128xf16>
  return %y : tensor<?x128xf16>
}

// CHECK-LABEL: func.func @weight_transforms
func.func @weight_transforms(%w: !w4, %u: !w4, %g: tensor<256xf16>, %s: tensor<256xf16>, %c: tensor<128xf16>,
                             %bq: tensor<64xf16>, %bk: tensor<32xf16>) {
  // CHECK: awq.vector_mul %{{.*}}, %{{.*}} : tensor<256xf16>
  %0 = awq.vector_mul %g, %s : tensor<256xf16>
  // CHECK: awq.scale_output_channels %{{.*}}, %{{.*}} : !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>, tensor<128xf16>
  %1 = awq.scale_output_channels %w, %c : !w4, tensor<128xf16>
  // CHECK: awq.fold_zero_points %{{.*}} : {{.*}} -> !awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, autoawq_gemm>
  %2 = awq.fold_zero_points %1 : !w4 -> !awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, autoawq_gemm>
  // CHECK: awq.concat_weights %{{.*}}, %{{.*}} : {{.*}} -> !awq.qweight<k = 256, n = 256, bits = 4, group = 128, zero_point, autoawq_gemm>
  %3 = awq.concat_weights %w, %u : !w4, !w4 -> !awq.qweight<k = 256, n = 256, bits = 4, group = 128, zero_point, autoawq_gemm>
  // CHECK: awq.concat_weights %{{.*}}, %{{.*}} {interleave} : {{.*}} -> !awq.qweight<k = 256, n = 256, bits = 4, group = 128, zero_point, autoawq_gemm>
  %4 = awq.concat_weights %w, %u {interleave} : !w4, !w4 -> !awq.qweight<k = 256, n = 256, bits = 4, group = 128, zero_point, autoawq_gemm>
  // CHECK: awq.concat_vectors %{{.*}}, %{{.*}} : tensor<64xf16>, tensor<32xf16> -> tensor<96xf16>
  %5 = awq.concat_vectors %bq, %bk : tensor<64xf16>, tensor<32xf16> -> tensor<96xf16>
  // CHECK: awq.concat_vectors %{{.*}}, %{{.*}} {interleave} : tensor<64xf16>, tensor<64xf16> -> tensor<128xf16>
  %6 = awq.concat_vectors %bq, %bq {interleave} : tensor<64xf16>, tensor<64xf16> -> tensor<128xf16>
  // CHECK: awq.repack %{{.*}} : {{.*}} -> !awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, mma_fragment>
  %7 = awq.repack %2 : !awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, autoawq_gemm> -> !awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, mma_fragment>
  // CHECK: awq.repack %{{.*}} : {{.*}} -> !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, gemv_interleaved>
  %8 = awq.repack %w : !w4 -> !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, gemv_interleaved>
  return
}

!gv = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, gemv_interleaved>
!gm = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, mma_fragment>

// CHECK-LABEL: func.func @kernels
func.func @kernels(%x: tensor<?x256xf16>, %v: !gv, %m: !gm, %b: tensor<128xf16>, %r: tensor<?x128xf16>) -> tensor<?x128xf16> {
  // CHECK: %[[V:.+]] = awq.gemv_kernel "l_gemv" config #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 1, max_rows = 4> %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<128xf16>) : tensor<?x256xf16>, !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, gemv_interleaved> -> tensor<?x128xf16>
  %0 = awq.gemv_kernel "l_gemv"
      config #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 1, max_rows = 4>
      %x, %v bias(%b : tensor<128xf16>) : tensor<?x256xf16>, !gv -> tensor<?x128xf16>
  // CHECK: %[[M:.+]] = awq.gemm_kernel "l_gemm" config #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 4> %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<128xf16>) residual(%{{.*}} : tensor<?x128xf16>) : tensor<?x256xf16>, !awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, mma_fragment> -> tensor<?x128xf16>
  %1 = awq.gemm_kernel "l_gemm"
      config #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 4>
      %x, %m bias(%b : tensor<128xf16>) residual(%r : tensor<?x128xf16>)
      : tensor<?x256xf16>, !gm -> tensor<?x128xf16>
  // CHECK: awq.select_by_rows %{{.*}}, %[[V]], %[[M]] {gemm_min_m = 5 : i64} : tensor<?x256xf16>, tensor<?x128xf16>
  %2 = awq.select_by_rows %x, %0, %1 {gemm_min_m = 5 : i64} : tensor<?x256xf16>, tensor<?x128xf16>
  return %2 : tensor<?x128xf16>
}

// The compilation target: an architecture of the kernel contract's table and
// the SMs the planner fills.
// CHECK-LABEL: func.func private @target
// CHECK-SAME: t = #awq.target<"sm_90a", sms = 132>
// CHECK-SAME: u = #awq.target<"sm_120", sms = 24>
func.func private @target() attributes {t = #awq.target<"sm_90a", sms = 132>, u = #awq.target<"sm_120", sms = 24>}

// bf16 activations with bf16 (and f32 norm) parameters round-trip.
// CHECK-LABEL: func.func @bf16
func.func @bf16(%x: tensor<?x256xbf16>, %w: !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>,
                %g: tensor<256xf32>, %s: tensor<256xbf16>, %b: tensor<128xbf16>, %r: tensor<?x128xbf16>) -> tensor<?x128xbf16> {
  // CHECK: awq.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32} : tensor<?x256xbf16>, tensor<256xf32>
  %h = awq.rms_norm %x, %g {epsilon = 1.0e-05 : f32} : tensor<?x256xbf16>, tensor<256xf32>
  // CHECK: awq.scale_activation %{{.*}}, %{{.*}} : tensor<?x256xbf16>, tensor<256xbf16>
  %hs = awq.scale_activation %h, %s : tensor<?x256xbf16>, tensor<256xbf16>
  // CHECK: awq.linear %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<128xbf16>) act_scale(%{{.*}} : tensor<256xbf16>) residual(%{{.*}} : tensor<?x128xbf16>) : tensor<?x256xbf16>, {{.*}} -> tensor<?x128xbf16>
  %y = awq.linear %hs, %w bias(%b : tensor<128xbf16>) act_scale(%s : tensor<256xbf16>) residual(%r : tensor<?x128xbf16>)
      : tensor<?x256xbf16>, !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm> -> tensor<?x128xbf16>
  // CHECK: awq.dequantize %{{.*}} : {{.*}} -> tensor<256x128xbf16>
  %wf = awq.dequantize %w : !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm> -> tensor<256x128xbf16>
  // CHECK: awq.matmul %{{.*}}, %{{.*}} : tensor<?x256xbf16>, tensor<256x128xbf16> -> tensor<?x128xbf16>
  %m = awq.matmul %x, %wf : tensor<?x256xbf16>, tensor<256x128xbf16> -> tensor<?x128xbf16>
  // CHECK: awq.add %{{.*}}, %{{.*}} : tensor<?x128xbf16>
  %z = awq.add %y, %m : tensor<?x128xbf16>
  // CHECK: awq.split %{{.*}} : tensor<?x128xbf16> -> tensor<?x64xbf16>, tensor<?x64xbf16>
  %p:2 = awq.split %z : tensor<?x128xbf16> -> tensor<?x64xbf16>, tensor<?x64xbf16>
  // CHECK: awq.silu_mul %{{.*}}, %{{.*}} : tensor<?x64xbf16>
  %a = awq.silu_mul %p#0, %p#1 : tensor<?x64xbf16>
  return %z : tensor<?x128xbf16>
}
