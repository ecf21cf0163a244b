// bf16 layers through kernel selection and lowering on sm_80 and sm_90: the
// kernel ops, their inferred results, select_by_rows and the kernel names
// keep bf16, and no f16 tensor is created.
// RUN: awq-opt %s --awq-select-kernels="target=sm_80" --awq-fold-zero-points --awq-lower-to-kernels | FileCheck %s
// RUN: awq-opt %s --awq-select-kernels="target=sm_90" --awq-fold-zero-points --awq-lower-to-kernels | FileCheck %s

!w = !awq.qweight<k = 4096, n = 4096, bits = 4, group = 128, zero_point, autoawq_gemm>

// CHECK-LABEL: func.func @bf16
// CHECK-NOT: xf16>
// CHECK: %[[V:.+]] = awq.gemv_kernel "gemv_{{[^"]*}}bf16{{[^"]*}}" config {{.*}} bias(%{{.*}} : tensor<4096xbf16>) residual(%{{.*}} : tensor<?x4096xbf16>) : tensor<?x4096xbf16>, {{.*}} -> tensor<?x4096xbf16>
// CHECK: %[[M:.+]] = awq.gemm_kernel "gemm_{{[^"]*}}bf16{{[^"]*}}" config {{.*}} -> tensor<?x4096xbf16>
// CHECK: awq.select_by_rows %{{.*}}, %[[V]], %[[M]] {{.*}} : tensor<?x4096xbf16>, tensor<?x4096xbf16>
// CHECK-NOT: xf16>
func.func @bf16(%x: tensor<?x4096xbf16>, %r: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %w = awq.external "w" : !w
  %b = awq.external "w.bias" : tensor<4096xbf16>
  %y = awq.linear %x, %w bias(%b : tensor<4096xbf16>) residual(%r : tensor<?x4096xbf16>) : tensor<?x4096xbf16>, !w -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}
