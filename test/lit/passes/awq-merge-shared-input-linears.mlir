// RUN: awq-opt %s --awq-merge-shared-input-linears | FileCheck %s

!q = !awq.qweight<k = 256, n = 256, bits = 4, group = 128, zero_point, autoawq_gemm>
!kv = !awq.qweight<k = 256, n = 64, bits = 4, group = 128, zero_point, autoawq_gemm>
!q8 = !awq.qweight<k = 256, n = 64, bits = 8, group = 128, zero_point, autoawq_gemm>

// Grouped-query attention: q is wider than k and v.
// CHECK-LABEL: func.func @qkv
// CHECK-SAME: (%[[H:[^:]+]]: tensor<?x256xf16>)
func.func @qkv(%h: tensor<?x256xf16>) -> (tensor<?x256xf16>, tensor<?x64xf16>, tensor<?x64xf16>) {
  // CHECK-DAG: %[[WQ:.+]] = awq.external "q"
  // CHECK-DAG: %[[WK:.+]] = awq.external "k"
  // CHECK-DAG: %[[WV:.+]] = awq.external "v"
  // CHECK: %[[W:.+]] = awq.concat_weights %[[WQ]], %[[WK]], %[[WV]] : {{.*}} -> !awq.qweight<k = 256, n = 384, bits = 4, group = 128, zero_point, autoawq_gemm>
  // CHECK: %[[Y:.+]] = awq.linear %[[H]], %[[W]] : {{.*}} -> tensor<?x384xf16>
  // CHECK: %[[S:.+]]:3 = awq.split %[[Y]] : tensor<?x384xf16> -> tensor<?x256xf16>, tensor<?x64xf16>, tensor<?x64xf16>
  // CHECK-NOT: awq.linear
  // CHECK: return %[[S]]#0, %[[S]]#1, %[[S]]#2
  %wq = awq.external "q" : !q
  %q = awq.linear %h, %wq : tensor<?x256xf16>, !q -> tensor<?x256xf16>
  %wk = awq.external "k" : !kv
  %k = awq.linear %h, %wk : tensor<?x256xf16>, !kv -> tensor<?x64xf16>
  %wv = awq.external "v" : !kv
  %v = awq.linear %h, %wv : tensor<?x256xf16>, !kv -> tensor<?x64xf16>
  return %q, %k, %v : tensor<?x256xf16>, tensor<?x64xf16>, tensor<?x64xf16>
}

// CHECK-LABEL: func.func @biases_concatenate
func.func @biases_concatenate(%h: tensor<?x256xf16>, %wq: !q, %wk: !kv, %bq: tensor<256xf16>, %bk: tensor<64xf16>)
    -> (tensor<?x256xf16>, tensor<?x64xf16>) {
  // CHECK: %[[B:.+]] = awq.concat_vectors %{{.*}}, %{{.*}} : tensor<256xf16>, tensor<64xf16> -> tensor<320xf16>
  // CHECK: awq.linear %{{.*}}, %{{.*}} bias(%[[B]] : tensor<320xf16>)
  %q = awq.linear %h, %wq bias(%bq : tensor<256xf16>) : tensor<?x256xf16>, !q -> tensor<?x256xf16>
  %k = awq.linear %h, %wk bias(%bk : tensor<64xf16>) : tensor<?x256xf16>, !kv -> tensor<?x64xf16>
  return %q, %k : tensor<?x256xf16>, tensor<?x64xf16>
}

// Different bit widths, one with a bias and one without, one with a residual:
// none of these merge.
// CHECK-LABEL: func.func @not_mergeable
func.func @not_mergeable(%h: tensor<?x256xf16>, %wq: !q, %w8: !q8, %wk: !kv, %bk: tensor<64xf16>,
                         %r: tensor<?x256xf16>) -> (tensor<?x256xf16>, tensor<?x64xf16>, tensor<?x64xf16>, tensor<?x256xf16>) {
  // CHECK-NOT: awq.concat_weights
  // CHECK-NOT: awq.split
  %a = awq.linear %h, %wq : tensor<?x256xf16>, !q -> tensor<?x256xf16>
  %b = awq.linear %h, %w8 : tensor<?x256xf16>, !q8 -> tensor<?x64xf16>
  %c = awq.linear %h, %wk bias(%bk : tensor<64xf16>) : tensor<?x256xf16>, !kv -> tensor<?x64xf16>
  %d = awq.linear %h, %wq residual(%r : tensor<?x256xf16>) : tensor<?x256xf16>, !q -> tensor<?x256xf16>
  return %a, %b, %c, %d : tensor<?x256xf16>, tensor<?x64xf16>, tensor<?x64xf16>, tensor<?x256xf16>
}

// bf16 layers merge into a bf16 linear with bf16 biases and a bf16 split.
// CHECK-LABEL: func.func @bf16_qkv
// CHECK: %[[B:.+]] = awq.concat_vectors %{{.*}}, %{{.*}} : tensor<256xbf16>, tensor<64xbf16> -> tensor<320xbf16>
// CHECK: %[[Y:.+]] = awq.linear %{{.*}}, %{{.*}} bias(%[[B]] : tensor<320xbf16>) : tensor<?x256xbf16>, {{.*}} -> tensor<?x320xbf16>
// CHECK: awq.split %[[Y]] : tensor<?x320xbf16> -> tensor<?x256xbf16>, tensor<?x64xbf16>
func.func @bf16_qkv(%h: tensor<?x256xbf16>, %wq: !q, %wk: !kv, %bq: tensor<256xbf16>, %bk: tensor<64xbf16>)
    -> (tensor<?x256xbf16>, tensor<?x64xbf16>) {
  %q = awq.linear %h, %wq bias(%bq : tensor<256xbf16>) : tensor<?x256xbf16>, !q -> tensor<?x256xbf16>
  %k = awq.linear %h, %wk bias(%bk : tensor<64xbf16>) : tensor<?x256xbf16>, !kv -> tensor<?x64xbf16>
  return %q, %k : tensor<?x256xbf16>, tensor<?x64xbf16>
}
