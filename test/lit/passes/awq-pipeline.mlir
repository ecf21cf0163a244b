// RUN: awq-opt %awq_src/examples/llama-block.mlir --awq-pipeline="target=sm_89" | FileCheck %s

// The whole pipeline on the example LLaMA block: q/k/v merge into one linear
// whose norm feeds both kernels, gate/up fuse into one SiLU-and-multiply
// linear, both residual adds move into the epilogues, and every linear
// becomes a GEMV/GEMM pair over repacked weights.

// The target becomes #awq.target with the SM count of sm_89's part.
// CHECK: module attributes {awq.target = #awq.target<"sm_89", sms = 128>}
// CHECK-LABEL: func.func @attention_inputs
// CHECK: %[[H:.+]] = awq.rms_norm
// CHECK: awq.gemv_kernel "gemv_k256_n768_b4_g128_zp_t256c8s1r1" config #awq.gemv<{{[^>]+}}> %[[H]]
// CHECK: awq.gemm_kernel "gemm_k256_n768_b4_g128_zp_m64n128k64w2x2s3sk4" config #awq.gemm<{{[^>]+}}> %[[H]]
// CHECK: %[[QKV:.+]] = awq.select_by_rows
// CHECK: awq.split %[[QKV]] : tensor<?x768xf16> -> tensor<?x256xf16>, tensor<?x256xf16>, tensor<?x256xf16>
// CHECK-NOT: awq.linear

// CHECK-LABEL: func.func @attention_output_and_mlp
// CHECK-SAME: (%[[ATTN:[^:]+]]: tensor<?x256xf16>, %[[X:[^:]+]]: tensor<?x256xf16>)
// CHECK: awq.gemv_kernel "gemv_k256_n256_b4_g128_zp_res_t256c8s1r1" config #awq.gemv<{{[^>]+}}> %[[ATTN]], %{{[^ ]+}} residual(%[[X]] : tensor<?x256xf16>)
// CHECK: %[[R1:.+]] = awq.select_by_rows
// CHECK: %[[H2:.+]] = awq.rms_norm %[[R1]]
// CHECK: awq.concat_weights %{{.*}}, %{{.*}} {interleave}
// CHECK: awq.gemv_kernel "gemv_k256_n1536_b4_g128_zp_silu_t256c8s1r1" config #awq.gemv<{{[^>]+}}> %[[H2]], %{{[^ ]+}} epilogue silu_mul
// CHECK: awq.gemm_kernel "gemm_k256_n1536_b4_g128_zp_silu_m64n128k64w2x2s3sk4" config #awq.gemm<{{[^>]+}}> %[[H2]], %{{[^ ]+}} epilogue silu_mul
// CHECK: %[[ACT:.+]] = awq.select_by_rows {{.*}} : tensor<?x256xf16>, tensor<?x768xf16>
// CHECK: awq.gemm_kernel "gemm_k768_n256_b4_g128_zp_res_m64n128k64w2x2s3sk8" config #awq.gemm<{{[^>]+}}> %[[ACT]], %{{[^ ]+}} residual(%[[R1]] : tensor<?x256xf16>)
// CHECK-NOT: awq.add
// CHECK-NOT: awq.silu_mul
// CHECK-NOT: awq.linear
