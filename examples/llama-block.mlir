// One LLaMA-style decoder block at the graph level: hidden size 256,
// intermediate size 768, 4-bit AWQ weights with group size 128, as an
// AutoAWQ checkpoint would describe it. Attention itself is outside awqc's
// scope: @attention_inputs produces q, k and v; @attention_output_and_mlp
// takes the attention result and finishes the block.

!qkv = !awq.qweight<k = 256, n = 256, bits = 4, group = 128, zero_point, autoawq_gemm>
!up = !awq.qweight<k = 256, n = 768, bits = 4, group = 128, zero_point, autoawq_gemm>
!down = !awq.qweight<k = 768, n = 256, bits = 4, group = 128, zero_point, autoawq_gemm>

module attributes {awq.target = "sm_80"} {
  func.func @attention_inputs(%x: tensor<?x256xf16>)
      -> (tensor<?x256xf16>, tensor<?x256xf16>, tensor<?x256xf16>) {
    %norm = awq.external "model.layers.0.input_layernorm.weight" from "model.safetensors" : tensor<256xf16>
    %wq = awq.external "model.layers.0.self_attn.q_proj" from "model.safetensors" : !qkv
    %wk = awq.external "model.layers.0.self_attn.k_proj" from "model.safetensors" : !qkv
    %wv = awq.external "model.layers.0.self_attn.v_proj" from "model.safetensors" : !qkv
    %h = awq.rms_norm %x, %norm {epsilon = 1.0e-05 : f32} : tensor<?x256xf16>, tensor<256xf16>
    %q = awq.linear %h, %wq : tensor<?x256xf16>, !qkv -> tensor<?x256xf16>
    %k = awq.linear %h, %wk : tensor<?x256xf16>, !qkv -> tensor<?x256xf16>
    %v = awq.linear %h, %wv : tensor<?x256xf16>, !qkv -> tensor<?x256xf16>
    return %q, %k, %v : tensor<?x256xf16>, tensor<?x256xf16>, tensor<?x256xf16>
  }

  func.func @attention_output_and_mlp(%attn: tensor<?x256xf16>, %x: tensor<?x256xf16>)
      -> tensor<?x256xf16> {
    %wo = awq.external "model.layers.0.self_attn.o_proj" from "model.safetensors" : !qkv
    %norm = awq.external "model.layers.0.post_attention_layernorm.weight" from "model.safetensors" : tensor<256xf16>
    %wg = awq.external "model.layers.0.mlp.gate_proj" from "model.safetensors" : !up
    %wu = awq.external "model.layers.0.mlp.up_proj" from "model.safetensors" : !up
    %wd = awq.external "model.layers.0.mlp.down_proj" from "model.safetensors" : !down
    %o = awq.linear %attn, %wo : tensor<?x256xf16>, !qkv -> tensor<?x256xf16>
    %r1 = awq.add %o, %x : tensor<?x256xf16>
    %h = awq.rms_norm %r1, %norm {epsilon = 1.0e-05 : f32} : tensor<?x256xf16>, tensor<256xf16>
    %gate = awq.linear %h, %wg : tensor<?x256xf16>, !up -> tensor<?x768xf16>
    %up = awq.linear %h, %wu : tensor<?x256xf16>, !up -> tensor<?x768xf16>
    %act = awq.silu_mul %gate, %up : tensor<?x768xf16>
    %down = awq.linear %act, %wd : tensor<?x768xf16>, !down -> tensor<?x256xf16>
    %r2 = awq.add %down, %r1 : tensor<?x256xf16>
    return %r2 : tensor<?x256xf16>
  }
}
