// RUN: split-file %s %t
// RUN: not awq-opt %t/unknown.mlir --awq-select-kernels 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// RUN: not awq-opt %t/none.mlir --awq-select-kernels 2>&1 | FileCheck %s --check-prefix=NONE
// RUN: not awq-opt %t/none.mlir --awq-select-kernels="target=sm_80 families=tiles" 2>&1 | FileCheck %s --check-prefix=FAMILIES
// RUN: not awq-opt %t/none.mlir --awq-select-kernels="target=sm_80 gemm-min-m=1" 2>&1 | FileCheck %s --check-prefix=MINM
// RUN: not awq-opt %t/none.mlir --awq-select-kernels="target=sm_70" 2>&1 | FileCheck %s --check-prefix=UNLISTED
// RUN: not awq-opt %t/none.mlir --awq-select-kernels="target=sm_80a" 2>&1 | FileCheck %s --check-prefix=SUFFIX
// RUN: not awq-opt %t/bad-attr.mlir --awq-select-kernels 2>&1 | FileCheck %s --check-prefix=BADATTR
// RUN: not awq-opt %t/odd.mlir --awq-select-kernels="families=gemm" 2>&1 | FileCheck %s --check-prefix=ODD
// RUN: not awq-opt %t/bf16.mlir --awq-select-kernels="target=sm_75" 2>&1 | FileCheck %s --check-prefix=BF16

// UNKNOWN: error: unknown target 'sm_70'; expected one of sm_75
// UNLISTED: error: unknown target 'sm_70'; expected one of sm_75, sm_80, sm_86, sm_87, sm_89, sm_90, sm_100, sm_103, sm_110, sm_120, sm_121 (with an 'a' suffix from sm_90 on)
// SUFFIX: error: unknown target 'sm_80a'
// BADATTR: error: the module's awq.target must be a #awq.target attribute
// NONE: error: no target architecture: pass target=sm_XX or set the module's awq.target attribute
// FAMILIES: error: families must be both, gemv or gemm, got 'tiles'
// MINM: error: gemm-min-m must be at least 2, got 1
// ODD: error: 'awq.linear' op no gemm kernel fits this layer: the GEMM kernel needs K to be a multiple of 8 (activation rows are copied in 16-byte chunks) (K = 100, N = 64, 4-bit, group K;
// BF16: error: 'awq.linear' op cannot run on target sm_75 (Tesla T4): bf16 activations need sm_80 or newer

//--- unknown.mlir
module attributes {awq.target = "sm_70"} {
}

//--- bad-attr.mlir
module attributes {awq.target = 90 : i64} {
}

//--- none.mlir
module {
}

//--- odd.mlir
!w = !awq.qweight<k = 100, n = 64, bits = 4, group = 100, zero_point, autoawq_gemm>
module attributes {awq.target = "sm_89"} {
func.func @odd(%x: tensor<?x100xf16>, %w: !w) -> tensor<?x64xf16> {
  %0 = awq.linear %x, %w : tensor<?x100xf16>, !w -> tensor<?x64xf16>
  return %0 : tensor<?x64xf16>
}
}

//--- bf16.mlir
!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @bf16(%x: tensor<?x256xbf16>, %w: !w) -> tensor<?x128xbf16> {
  %0 = awq.linear %x, %w : tensor<?x256xbf16>, !w -> tensor<?x128xbf16>
  return %0 : tensor<?x128xbf16>
}
