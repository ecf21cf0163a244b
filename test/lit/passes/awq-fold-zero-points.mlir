// RUN: awq-opt %s --awq-fold-zero-points | FileCheck %s

!zp = !awq.qweight<k = 256, n = 128, bits = 4, group = 64, zero_point, autoawq_gemm>
!sym = !awq.qweight<k = 256, n = 128, bits = 8, group = 64, symmetric, autoawq_gemm>

// CHECK-LABEL: func.func @folds_once_per_weight
func.func @folds_once_per_weight(%x: tensor<?x256xf16>) -> (tensor<?x128xf16>, tensor<?x128xf16>) {
  // CHECK: %[[W:.+]] = awq.external "w"
  // CHECK-NEXT: %[[F:.+]] = awq.fold_zero_points %[[W]] : {{.*}} -> !awq.qweight<k = 256, n = 128, bits = 4, group = 64, scaled_zero, autoawq_gemm>
  // CHECK-NOT: awq.fold_zero_points
  // CHECK: awq.linear %{{.*}}, %[[F]] : tensor<?x256xf16>, !awq.qweight<k = 256, n = 128, bits = 4, group = 64, scaled_zero, autoawq_gemm>
  // CHECK: awq.linear %{{.*}}, %[[F]] : tensor<?x256xf16>, !awq.qweight<k = 256, n = 128, bits = 4, group = 64, scaled_zero, autoawq_gemm>
  %w = awq.external "w" : !zp
  %a = awq.linear %x, %w : tensor<?x256xf16>, !zp -> tensor<?x128xf16>
  %b = awq.linear %x, %w : tensor<?x256xf16>, !zp -> tensor<?x128xf16>
  return %a, %b : tensor<?x128xf16>, tensor<?x128xf16>
}

// Symmetric weights have the constant zero 2^(bits-1): nothing to fold.
// CHECK-LABEL: func.func @symmetric_untouched
func.func @symmetric_untouched(%x: tensor<?x256xf16>, %w: !sym) -> tensor<?x128xf16> {
  // CHECK-NOT: awq.fold_zero_points
  // CHECK: awq.linear %{{.*}}, %{{.*}} : tensor<?x256xf16>, !awq.qweight<k = 256, n = 128, bits = 8, group = 64, symmetric, autoawq_gemm>
  %y = awq.linear %x, %w : tensor<?x256xf16>, !sym -> tensor<?x128xf16>
  return %y : tensor<?x128xf16>
}

// A block argument weight gets its fold at the start of the function.
// CHECK-LABEL: func.func @argument_weight
// CHECK-SAME: (%{{[^:]+}}: tensor<?x256xf16>, %[[W:[^:]+]]: !awq.qweight
func.func @argument_weight(%x: tensor<?x256xf16>, %w: !zp) -> tensor<?x128xf16> {
  // CHECK-NEXT: awq.fold_zero_points %[[W]]
  %y = awq.linear %x, %w : tensor<?x256xf16>, !zp -> tensor<?x128xf16>
  return %y : tensor<?x128xf16>
}

// CHECK-LABEL: func.func @bf16_folds
// CHECK: %[[F:.+]] = awq.fold_zero_points
// CHECK: awq.linear %{{.*}}, %[[F]] : tensor<?x256xbf16>, {{.*}} -> tensor<?x128xbf16>
func.func @bf16_folds(%x: tensor<?x256xbf16>) -> tensor<?x128xbf16> {
  %w = awq.external "w" : !zp
  %a = awq.linear %x, %w : tensor<?x256xbf16>, !zp -> tensor<?x128xbf16>
  return %a : tensor<?x128xbf16>
}
