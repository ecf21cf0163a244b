// RUN: awq-opt %awq_src/examples/llama-block.mlir --awq-pipeline="target=sm_89" | FileCheck %s

// The whole pipeline on the example LLaMA block: q/k/v merge into one linear
// whose norm feeds both kernels, gate/up fuse into one SiLU-and-multiply
// linear, both residual adds move into the epilogues, and every linear
// becomes a GEMV/GEMM pair over repacked weights.

// CHECK-LABEL: func.func @attention_inputs
// CHECK: %[[H:.+]] = awq.rms_norm
// CHECK: awq.gemv_kernel "model_layers_0_self_attn_q_proj_k_proj_v_proj_gemv" config #awq.gemv<{{[^>]+}}> %[[H]]
// CHECK: awq.gemm_kernel "model_layers_0_self_attn_q_proj_k_proj_v_proj_gemm" config #awq.gemm<{{[^>]+}}> %[[H]]
// CHECK: %[[QKV:.+]] = awq.select_by_rows
// CHECK: awq.split %[[QKV]] : tensor<?x768xf16> -> tensor<?x256xf16>, tensor<?x256xf16>, tensor<?x256xf16>
// CHECK-NOT: awq.linear

// CHECK-LABEL: func.func @attention_output_and_mlp
// CHECK-SAME: (%[[ATTN:[^:]+]]: tensor<?x256xf16>, %[[X:[^:]+]]: tensor<?x256xf16>)
// CHECK: awq.gemv_kernel "model_layers_0_self_attn_o_proj_gemv" config #awq.gemv<{{[^>]+}}> %[[ATTN]], %{{[^ ]+}} residual(%[[X]] : tensor<?x256xf16>)
// CHECK: %[[R1:.+]] = awq.select_by_rows
// CHECK: %[[H2:.+]] = awq.rms_norm %[[R1]]
// CHECK: awq.concat_weights %{{.*}}, %{{.*}} {interleave}
// CHECK: awq.gemv_kernel "model_layers_0_mlp_gate_proj_up_proj_gemv" config #awq.gemv<{{[^>]+}}> %[[H2]], %{{[^ ]+}} epilogue silu_mul
// CHECK: awq.gemm_kernel "model_layers_0_mlp_gate_proj_up_proj_gemm" config #awq.gemm<{{[^>]+}}> %[[H2]], %{{[^ ]+}} epilogue silu_mul
// CHECK: %[[ACT:.+]] = awq.select_by_rows {{.*}} : tensor<?x256xf16>, tensor<?x768xf16>
// CHECK: awq.gemm_kernel "model_layers_0_mlp_down_proj_gemm" config #awq.gemm<{{[^>]+}}> %[[ACT]], %{{[^ ]+}} residual(%[[R1]] : tensor<?x256xf16>)
// CHECK-NOT: awq.add
// CHECK-NOT: awq.silu_mul
// CHECK-NOT: awq.linear
