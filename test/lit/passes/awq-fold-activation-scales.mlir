// RUN: awq-opt %s --awq-fold-activation-scales | FileCheck %s

!w = !awq.qweight<k = 256, n = 256, bits = 4, group = 128, zero_point, autoawq_gemm>

// CHECK-LABEL: func.func @into_rms_norm
// CHECK-SAME: (%[[X:.+]]: tensor<?x256xf16>)
func.func @into_rms_norm(%x: tensor<?x256xf16>) -> (tensor<?x256xf16>, tensor<?x256xf16>) {
  %g = awq.external "norm.weight" : tensor<256xf16>
  %s = awq.external "inv_scale" : tensor<256xf16>
  %wq = awq.external "q" : !w
  %wk = awq.external "k" : !w
  // CHECK: %[[G:.+]] = awq.external "norm.weight"
  // CHECK: %[[S:.+]] = awq.external "inv_scale"
  // CHECK: %[[G2:.+]] = awq.vector_mul %[[G]], %[[S]] : tensor<256xf16>
  // CHECK: %[[H:.+]] = awq.rms_norm %[[X]], %[[G2]]
  %h = awq.rms_norm %x, %g : tensor<?x256xf16>, tensor<256xf16>
  // CHECK: awq.linear %[[H]], %{{[^ ]+}} : tensor<?x256xf16>
  // CHECK: awq.linear %[[H]], %{{[^ ]+}} : tensor<?x256xf16>
  // CHECK-NOT: act_scale
  %q = awq.linear %h, %wq act_scale(%s : tensor<256xf16>) : tensor<?x256xf16>, !w -> tensor<?x256xf16>
  %k = awq.linear %h, %wk act_scale(%s : tensor<256xf16>) : tensor<?x256xf16>, !w -> tensor<?x256xf16>
  return %q, %k : tensor<?x256xf16>, tensor<?x256xf16>
}

// CHECK-LABEL: func.func @into_layer_norm_weight_and_bias
func.func @into_layer_norm_weight_and_bias(%x: tensor<?x256xf16>, %g: tensor<256xf16>, %b: tensor<256xf16>,
                                           %s: tensor<256xf16>, %w: !w) -> tensor<?x256xf16> {
  // CHECK-DAG: %[[G2:.+]] = awq.vector_mul %{{.*}}, %[[S:[^ ]+]] : tensor<256xf16>
  // CHECK-DAG: %[[B2:.+]] = awq.vector_mul %{{.*}}, %[[S]] : tensor<256xf16>
  // CHECK: awq.layer_norm %{{.*}}, %[[G2]] bias(%[[B2]] : tensor<256xf16>)
  %h = awq.layer_norm %x, %g bias(%b : tensor<256xf16>) : tensor<?x256xf16>, tensor<256xf16>
  // CHECK-NOT: act_scale
  %y = awq.linear %h, %w act_scale(%s : tensor<256xf16>) : tensor<?x256xf16>, !w -> tensor<?x256xf16>
  return %y : tensor<?x256xf16>
}

// CHECK-LABEL: func.func @into_previous_linear
// CHECK-SAME: (%[[X:[^:]+]]: tensor<?x256xf16>, %[[WV:[^:]+]]: !awq.qweight<{{[^>]*}}>, %[[BV:[^:]+]]: tensor<256xf16>, %[[WO:[^:]+]]: !awq.qweight<{{[^>]*}}>, %[[S:[^:]+]]: tensor<256xf16>)
func.func @into_previous_linear(%x: tensor<?x256xf16>, %wv: !w, %bv: tensor<256xf16>, %wo: !w,
                                %s: tensor<256xf16>) -> tensor<?x256xf16> {
  // CHECK: %[[WV2:.+]] = awq.scale_output_channels %[[WV]], %[[S]]
  // CHECK: %[[BV2:.+]] = awq.vector_mul %[[BV]], %[[S]]
  // CHECK: %[[V:.+]] = awq.linear %[[X]], %[[WV2]] bias(%[[BV2]] : tensor<256xf16>)
  %v = awq.linear %x, %wv bias(%bv : tensor<256xf16>) : tensor<?x256xf16>, !w -> tensor<?x256xf16>
  // CHECK: awq.linear %[[V]], %[[WO]] : tensor<?x256xf16>
  %o = awq.linear %v, %wo act_scale(%s : tensor<256xf16>) : tensor<?x256xf16>, !w -> tensor<?x256xf16>
  return %o : tensor<?x256xf16>
}

// CHECK-LABEL: func.func @into_up_projection
func.func @into_up_projection(%h: tensor<?x256xf16>, %wg: !w, %wu: !w, %wd: !w,
                              %s: tensor<256xf16>) -> tensor<?x256xf16> {
  // CHECK: %[[G:.+]] = awq.linear %{{.*}}, %{{[^ ]+}} : tensor<?x256xf16>
  // CHECK: %[[WU2:.+]] = awq.scale_output_channels
  // CHECK: %[[U:.+]] = awq.linear %{{.*}}, %[[WU2]] : tensor<?x256xf16>
  // CHECK: %[[A:.+]] = awq.silu_mul %[[G]], %[[U]]
  // CHECK: awq.linear %[[A]], %{{[^ ]+}} : tensor<?x256xf16>
  %g = awq.linear %h, %wg : tensor<?x256xf16>, !w -> tensor<?x256xf16>
  %u = awq.linear %h, %wu : tensor<?x256xf16>, !w -> tensor<?x256xf16>
  %a = awq.silu_mul %g, %u : tensor<?x256xf16>
  %d = awq.linear %a, %wd act_scale(%s : tensor<256xf16>) : tensor<?x256xf16>, !w -> tensor<?x256xf16>
  return %d : tensor<?x256xf16>
}

// The norm's output is also the residual: folding would change it, so the
// scale stays on the linear for the kernel to apply.
// CHECK-LABEL: func.func @kept_other_user
func.func @kept_other_user(%x: tensor<?x256xf16>, %g: tensor<256xf16>, %s: tensor<256xf16>,
                           %w: !w) -> tensor<?x256xf16> {
  // CHECK-NOT: awq.vector_mul
  // CHECK: awq.linear %{{.*}} act_scale(
  %h = awq.rms_norm %x, %g : tensor<?x256xf16>, tensor<256xf16>
  %y = awq.linear %h, %w act_scale(%s : tensor<256xf16>) : tensor<?x256xf16>, !w -> tensor<?x256xf16>
  %r = awq.add %y, %h : tensor<?x256xf16>
  return %r : tensor<?x256xf16>
}

// CHECK-LABEL: func.func @kept_different_scales
func.func @kept_different_scales(%x: tensor<?x256xf16>, %g: tensor<256xf16>, %s: tensor<256xf16>,
                                 %t: tensor<256xf16>, %w: !w) -> (tensor<?x256xf16>, tensor<?x256xf16>) {
  // CHECK-NOT: awq.vector_mul
  // CHECK: awq.linear %{{.*}} act_scale(
  // CHECK: awq.linear %{{.*}} act_scale(
  %h = awq.rms_norm %x, %g : tensor<?x256xf16>, tensor<256xf16>
  %y = awq.linear %h, %w act_scale(%s : tensor<256xf16>) : tensor<?x256xf16>, !w -> tensor<?x256xf16>
  %z = awq.linear %h, %w act_scale(%t : tensor<256xf16>) : tensor<?x256xf16>, !w -> tensor<?x256xf16>
  return %y, %z : tensor<?x256xf16>, tensor<?x256xf16>
}

// A residual is added after the product: scaling the weights would not scale it.
// CHECK-LABEL: func.func @kept_producer_with_residual
func.func @kept_producer_with_residual(%x: tensor<?x256xf16>, %r: tensor<?x256xf16>, %s: tensor<256xf16>,
                                       %w: !w) -> tensor<?x256xf16> {
  // CHECK-NOT: awq.scale_output_channels
  // CHECK: awq.linear %{{.*}} act_scale(
  %y = awq.linear %x, %w residual(%r : tensor<?x256xf16>) : tensor<?x256xf16>, !w -> tensor<?x256xf16>
  %z = awq.linear %y, %w act_scale(%s : tensor<256xf16>) : tensor<?x256xf16>, !w -> tensor<?x256xf16>
  return %z : tensor<?x256xf16>
}

// CHECK-LABEL: func.func @kept_function_argument
func.func @kept_function_argument(%x: tensor<?x256xf16>, %s: tensor<256xf16>, %w: !w) -> tensor<?x256xf16> {
  // CHECK: awq.linear %{{.*}} act_scale(
  %y = awq.linear %x, %w act_scale(%s : tensor<256xf16>) : tensor<?x256xf16>, !w -> tensor<?x256xf16>
  return %y : tensor<?x256xf16>
}

// The scale is defined after the norm: it moves up so the fold can use it.
// CHECK-LABEL: func.func @hoists_scale
func.func @hoists_scale(%x: tensor<?x256xf16>, %g: tensor<256xf16>, %w: !w) -> tensor<?x256xf16> {
  // CHECK: %[[S:.+]] = awq.external "late_scale"
  // CHECK: awq.vector_mul %{{.*}}, %[[S]]
  // CHECK: awq.rms_norm
  %h = awq.rms_norm %x, %g : tensor<?x256xf16>, tensor<256xf16>
  %s = awq.external "late_scale" : tensor<256xf16>
  %y = awq.linear %h, %w act_scale(%s : tensor<256xf16>) : tensor<?x256xf16>, !w -> tensor<?x256xf16>
  return %y : tensor<?x256xf16>
}

// bf16 layers: the folded vectors stay bf16 (nothing is created in f16).
// CHECK-LABEL: func.func @bf16_into_rms_norm_and_linear
// CHECK-SAME: (%[[X:[^:]+]]: tensor<?x256xbf16>, %[[G:[^:]+]]: tensor<256xbf16>, %[[S1:[^:]+]]: tensor<256xbf16>, %[[W1:[^:]+]]: !awq.qweight<{{[^>]*}}>, %[[B1:[^:]+]]: tensor<256xbf16>, %[[S2:[^:]+]]: tensor<256xbf16>, %[[W2:[^:]+]]: !awq.qweight<{{[^>]*}}>)
func.func @bf16_into_rms_norm_and_linear(%x: tensor<?x256xbf16>, %g: tensor<256xbf16>, %s1: tensor<256xbf16>,
                                         %w1: !w, %b1: tensor<256xbf16>, %s2: tensor<256xbf16>, %w2: !w)
    -> tensor<?x256xbf16> {
  // CHECK: %[[G2:.+]] = awq.vector_mul %[[G]], %[[S1]] : tensor<256xbf16>
  // CHECK: %[[H:.+]] = awq.rms_norm %[[X]], %[[G2]] : tensor<?x256xbf16>, tensor<256xbf16>
  // CHECK: %[[W1S:.+]] = awq.scale_output_channels %[[W1]], %[[S2]] : {{.*}}, tensor<256xbf16>
  // CHECK: %[[B1S:.+]] = awq.vector_mul %[[B1]], %[[S2]] : tensor<256xbf16>
  // CHECK: %[[Y1:.+]] = awq.linear %[[H]], %[[W1S]] bias(%[[B1S]] : tensor<256xbf16>) : tensor<?x256xbf16>, {{.*}} -> tensor<?x256xbf16>
  // CHECK: awq.linear %[[Y1]], %[[W2]] : tensor<?x256xbf16>, {{.*}} -> tensor<?x256xbf16>
  // CHECK-NOT: act_scale
  %h = awq.rms_norm %x, %g : tensor<?x256xbf16>, tensor<256xbf16>
  %y1 = awq.linear %h, %w1 bias(%b1 : tensor<256xbf16>) act_scale(%s1 : tensor<256xbf16>) : tensor<?x256xbf16>, !w -> tensor<?x256xbf16>
  %y2 = awq.linear %y1, %w2 act_scale(%s2 : tensor<256xbf16>) : tensor<?x256xbf16>, !w -> tensor<?x256xbf16>
  return %y2 : tensor<?x256xbf16>
}

// An f32 norm weight and a bf16 scale: folding would round in another type,
// so the kernel keeps scaling the activation.
// CHECK-LABEL: func.func @bf16_scale_not_into_f32_weight
func.func @bf16_scale_not_into_f32_weight(%x: tensor<?x256xbf16>, %g: tensor<256xf32>, %s: tensor<256xbf16>, %w: !w)
    -> tensor<?x256xbf16> {
  // CHECK-NOT: awq.vector_mul
  // CHECK: awq.linear %{{.*}}, %{{.*}} act_scale(%{{.*}} : tensor<256xbf16>) : tensor<?x256xbf16>
  %h = awq.rms_norm %x, %g : tensor<?x256xbf16>, tensor<256xf32>
  %y = awq.linear %h, %w act_scale(%s : tensor<256xbf16>) : tensor<?x256xbf16>, !w -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}
