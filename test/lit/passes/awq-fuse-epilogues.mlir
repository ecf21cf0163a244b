// RUN: awq-opt %s --awq-fuse-epilogues | FileCheck %s

!w = !awq.qweight<k = 256, n = 768, bits = 4, group = 128, zero_point, autoawq_gemm>
!d = !awq.qweight<k = 768, n = 256, bits = 4, group = 128, zero_point, autoawq_gemm>

// CHECK-LABEL: func.func @silu_mul_and_residual
// CHECK-SAME: (%[[H:[^:]+]]: tensor<?x256xf16>, %[[R:[^:]+]]: tensor<?x256xf16>, %[[WG:[^:]+]]: !awq.qweight<{{[^>]*}}>, %[[WU:[^:]+]]: !awq.qweight<{{[^>]*}}>, %[[WD:[^:]+]]: !awq.qweight<{{[^>]*}}>)
func.func @silu_mul_and_residual(%h: tensor<?x256xf16>, %r: tensor<?x256xf16>, %wg: !w, %wu: !w, %wd: !d)
    -> tensor<?x256xf16> {
  // CHECK: %[[WGU:.+]] = awq.concat_weights %[[WG]], %[[WU]] {interleave} : {{.*}} -> !awq.qweight<k = 256, n = 1536, bits = 4, group = 128, zero_point, autoawq_gemm>
  // CHECK: %[[A:.+]] = awq.linear %[[H]], %[[WGU]] epilogue silu_mul : {{.*}} -> tensor<?x768xf16>
  // CHECK-NOT: awq.silu_mul
  // CHECK: %[[Y:.+]] = awq.linear %[[A]], %[[WD]] residual(%[[R]] : tensor<?x256xf16>)
  // CHECK-NOT: awq.add
  // CHECK: return %[[Y]]
  %g = awq.linear %h, %wg : tensor<?x256xf16>, !w -> tensor<?x768xf16>
  %u = awq.linear %h, %wu : tensor<?x256xf16>, !w -> tensor<?x768xf16>
  %a = awq.silu_mul %g, %u : tensor<?x768xf16>
  %y = awq.linear %a, %wd : tensor<?x768xf16>, !d -> tensor<?x256xf16>
  %z = awq.add %r, %y : tensor<?x256xf16>
  return %z : tensor<?x256xf16>
}

// CHECK-LABEL: func.func @biases_interleave
func.func @biases_interleave(%h: tensor<?x256xf16>, %wg: !w, %wu: !w, %bg: tensor<768xf16>, %bu: tensor<768xf16>)
    -> tensor<?x768xf16> {
  // CHECK: %[[B:.+]] = awq.concat_vectors %{{.*}}, %{{.*}} {interleave} : tensor<768xf16>, tensor<768xf16> -> tensor<1536xf16>
  // CHECK: awq.linear %{{.*}}, %{{.*}} bias(%[[B]] : tensor<1536xf16>) epilogue silu_mul
  %g = awq.linear %h, %wg bias(%bg : tensor<768xf16>) : tensor<?x256xf16>, !w -> tensor<?x768xf16>
  %u = awq.linear %h, %wu bias(%bu : tensor<768xf16>) : tensor<?x256xf16>, !w -> tensor<?x768xf16>
  %a = awq.silu_mul %g, %u : tensor<?x768xf16>
  return %a : tensor<?x768xf16>
}

// The gate's output is also returned: it must stay a separate tensor.
// CHECK-LABEL: func.func @gate_has_other_user
func.func @gate_has_other_user(%h: tensor<?x256xf16>, %wg: !w, %wu: !w) -> (tensor<?x768xf16>, tensor<?x768xf16>) {
  // CHECK-NOT: awq.concat_weights
  // CHECK: awq.silu_mul
  %g = awq.linear %h, %wg : tensor<?x256xf16>, !w -> tensor<?x768xf16>
  %u = awq.linear %h, %wu : tensor<?x256xf16>, !w -> tensor<?x768xf16>
  %a = awq.silu_mul %g, %u : tensor<?x768xf16>
  return %a, %g : tensor<?x768xf16>, tensor<?x768xf16>
}

// Gate and up read different inputs: not one linear.
// CHECK-LABEL: func.func @different_inputs
func.func @different_inputs(%h: tensor<?x256xf16>, %h2: tensor<?x256xf16>, %wg: !w, %wu: !w) -> tensor<?x768xf16> {
  // CHECK-NOT: awq.concat_weights
  // CHECK: awq.silu_mul
  %g = awq.linear %h, %wg : tensor<?x256xf16>, !w -> tensor<?x768xf16>
  %u = awq.linear %h2, %wu : tensor<?x256xf16>, !w -> tensor<?x768xf16>
  %a = awq.silu_mul %g, %u : tensor<?x768xf16>
  return %a : tensor<?x768xf16>
}

// The addend is computed after the linear: fusing would use it before it exists.
// CHECK-LABEL: func.func @residual_defined_later
func.func @residual_defined_later(%x: tensor<?x768xf16>, %wd: !d, %g: tensor<256xf16>) -> tensor<?x256xf16> {
  // CHECK: %[[Y:.+]] = awq.linear %{{[^ ]+}}, %{{[^ ]+}} : tensor<?x768xf16>
  // CHECK: awq.add %[[Y]], %{{.*}}
  %y = awq.linear %x, %wd : tensor<?x768xf16>, !d -> tensor<?x256xf16>
  %n = awq.rms_norm %y, %g : tensor<?x256xf16>, tensor<256xf16>
  %z = awq.add %y, %n : tensor<?x256xf16>
  return %z : tensor<?x256xf16>
}

// bf16: the fused linears, their biases and the residual stay bf16.
// CHECK-LABEL: func.func @bf16_silu_mul_and_residual
// CHECK: %[[B:.+]] = awq.concat_vectors %{{.*}}, %{{.*}} {interleave} : tensor<768xbf16>, tensor<768xbf16> -> tensor<1536xbf16>
// CHECK: %[[A:.+]] = awq.linear %{{.*}}, %{{.*}} bias(%[[B]] : tensor<1536xbf16>) epilogue silu_mul : tensor<?x256xbf16>, {{.*}} -> tensor<?x768xbf16>
// CHECK: awq.linear %[[A]], %{{.*}} residual(%{{.*}} : tensor<?x256xbf16>) : tensor<?x768xbf16>, {{.*}} -> tensor<?x256xbf16>
// CHECK-NOT: awq.add
func.func @bf16_silu_mul_and_residual(%h: tensor<?x256xbf16>, %r: tensor<?x256xbf16>, %wg: !w, %wu: !w, %wd: !d,
                                      %bg: tensor<768xbf16>, %bu: tensor<768xbf16>) -> tensor<?x256xbf16> {
  %g = awq.linear %h, %wg bias(%bg : tensor<768xbf16>) : tensor<?x256xbf16>, !w -> tensor<?x768xbf16>
  %u = awq.linear %h, %wu bias(%bu : tensor<768xbf16>) : tensor<?x256xbf16>, !w -> tensor<?x768xbf16>
  %a = awq.silu_mul %g, %u : tensor<?x768xbf16>
  %y = awq.linear %a, %wd : tensor<?x768xbf16>, !d -> tensor<?x256xbf16>
  %z = awq.add %r, %y : tensor<?x256xbf16>
  return %z : tensor<?x256xbf16>
}
