// RUN: awq-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{quantized weight bits must be 3, 4 or 8, got 5}}
func.func private @bits(!awq.qweight<k = 256, n = 128, bits = 5, group = 128, zero_point, autoawq_gemm>)

// -----

// expected-error @+1 {{quantized weight shape must be in [1, 2^30], got k = 0, n = 128}}
func.func private @shape(!awq.qweight<k = 0, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>)

// -----

// expected-error @+1 {{group size must be k (256) for one group per column or a multiple of 32 that divides k, got 16}}
func.func private @group(!awq.qweight<k = 256, n = 128, bits = 4, group = 16, zero_point, autoawq_gemm>)

// -----

// expected-error @+1 {{group size must be k (320) for one group per column or a multiple of 32 that divides k, got 128}}
func.func private @group_divides(!awq.qweight<k = 320, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>)

// -----

// expected-error @+1 {{autoawq_gemm layout with 4-bit weights packs 8 columns per word: n = 100 is not a multiple of 8}}
func.func private @pack(!awq.qweight<k = 256, n = 100, bits = 4, group = 128, zero_point, autoawq_gemm>)

// -----

// expected-error @+1 {{autoawq_gemm layout with 3-bit weights packs 32 columns per word: n = 48 is not a multiple of 32}}
func.func private @pack3(!awq.qweight<k = 256, n = 48, bits = 3, group = 128, zero_point, autoawq_gemm>)

// -----

// expected-error @+1 {{unknown target 'sm_70'; expected one of sm_75, sm_80, sm_86, sm_87, sm_89, sm_90, sm_100, sm_103, sm_110, sm_120, sm_121 (with an 'a' suffix from sm_90 on)}}
func.func private @target_name() attributes {t = #awq.target<"sm_70", sms = 80>}

// -----

// expected-error @+1 {{unknown target 'sm_80a'}}
func.func private @target_suffix() attributes {t = #awq.target<"sm_80a", sms = 108>}

// -----

// expected-error @+1 {{target sms must be between 1 and 1024, got 0}}
func.func private @target_sms() attributes {t = #awq.target<"sm_90", sms = 0>}

// -----

// expected-error @+1 {{gemm warps_m x warps_n must be 1 to 16 warps, got tile 64 x 128 x 64, warps 4611686018427387904 x 2}}
func.func private @gemm_warps_overflow() attributes {c = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 4611686018427387904, warps_n = 2, stages = 4, split_k = 1>}

// -----

// expected-error @+1 {{gemv cols_per_warp must be a power of two up to 32, got threads = 128, cols_per_warp = 4611686018427387904}}
func.func private @gemv_cols_overflow() attributes {c = #awq.gemv<threads = 128, cols_per_warp = 4611686018427387904, k_split = 1, max_rows = 4>}

// -----

// expected-error @+1 {{gemv threads must be a multiple of 32 up to 1024, got threads = 48, cols_per_warp = 4, k_split = 1, max_rows = 4}}
func.func private @gemv_threads() attributes {c = #awq.gemv<threads = 48, cols_per_warp = 4, k_split = 1, max_rows = 4>}

// -----

// expected-error @+1 {{gemv cols_per_warp must be a power of two up to 32, got threads = 128, cols_per_warp = 3, k_split = 1, max_rows = 4}}
func.func private @gemv_cols() attributes {c = #awq.gemv<threads = 128, cols_per_warp = 3, k_split = 1, max_rows = 4>}

// -----

// expected-error @+1 {{gemv k_split must be at least 1 and at most one split per K tile, got threads = 128, cols_per_warp = 4, k_split = 0, max_rows = 4}}
func.func private @gemv_ksplit() attributes {c = #awq.gemv<threads = 128, cols_per_warp = 4, k_split = 0, max_rows = 4>}

// -----

// expected-error @+1 {{gemv max_rows must be 1, 2, 4 or 8, got threads = 128, cols_per_warp = 4, k_split = 1, max_rows = 3}}
func.func private @gemv_rows() attributes {c = #awq.gemv<threads = 128, cols_per_warp = 4, k_split = 1, max_rows = 3>}

// -----

// expected-error @+1 {{gemv cols_per_warp x max_rows must be at most 32 (one warp reduce-scatter holds every sum), got threads = 128, cols_per_warp = 8, k_split = 1, max_rows = 8}}
func.func private @gemv_sums() attributes {c = #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 1, max_rows = 8>}

// -----

// expected-error @+1 {{gemm warps_m x warps_n must be 1 to 16 warps, got tile 128 x 256 x 64, warps 8 x 4, stages = 4, split_k = 1}}
func.func private @gemm_warps() attributes {c = #awq.gemm<tile_m = 128, tile_n = 256, tile_k = 64, warps_m = 8, warps_n = 4, stages = 4, split_k = 1>}

// -----

// expected-error @+1 {{gemm tile_m must be a multiple of 16 x warps_m (whole m16 mma tiles per warp), at most 256, got tile 48 x 128 x 64, warps 2 x 2, stages = 4, split_k = 1}}
func.func private @gemm_m() attributes {c = #awq.gemm<tile_m = 48, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 1>}

// -----

// expected-error @+1 {{gemm tile_n must be a multiple of 64 x warps_n (whole 64-column weight packets per warp), at most 512, got tile 64 x 64 x 64, warps 1 x 2, stages = 4, split_k = 1}}
func.func private @gemm_n() attributes {c = #awq.gemm<tile_m = 64, tile_n = 64, tile_k = 64, warps_m = 1, warps_n = 2, stages = 4, split_k = 1>}

// -----

// expected-error @+1 {{gemm tile_k must be 32, 64 or 128 (the weight layout pads K to 128), got tile 64 x 128 x 48, warps 1 x 2, stages = 4, split_k = 1}}
func.func private @gemm_k() attributes {c = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 48, warps_m = 1, warps_n = 2, stages = 4, split_k = 1>}

// -----

// expected-error @+1 {{gemm stages must be 2, 3 or 4, got tile 64 x 128 x 64, warps 2 x 2, stages = 5, split_k = 1}}
func.func private @gemm_stages() attributes {c = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 5, split_k = 1>}

// -----

// expected-error @+1 {{gemm split_k must be at least 1 and at most one split per K tile, got tile 64 x 128 x 64, warps 2 x 2, stages = 4, split_k = 0}}
func.func private @gemm_splitk() attributes {c = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 0>}

// -----

func.func @external_empty() {
  // expected-error @+1 {{tensor name must not be empty}}
  %0 = awq.external "" : tensor<4xf16>
  return
}

// -----

func.func @external_empty_file() {
  // expected-error @+1 {{file name, when given, must not be empty}}
  %0 = awq.external "t" from "" : tensor<4xf16>
  return
}

// -----

func.func @external_dynamic() {
  // expected-error @+1 {{parameter tensors must have a static shape, got 'tensor<?xf16>'}}
  %0 = awq.external "t" : tensor<?xf16>
  return
}

// -----

func.func @external_type() {
  // expected-error @+1 {{result #0 must be}}
  %0 = awq.external "t" : tensor<4xi8>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_input_rank(%x: tensor<256xf16>, %w: !w) {
  // expected-error @+1 {{input must be a 2-D [M x K] tensor, got 'tensor<256xf16>'}}
  %0 = awq.linear %x, %w : tensor<256xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_input_dynamic(%x: tensor<?x?xf16>, %w: !w) {
  // expected-error @+1 {{input must have a static number of columns, got 'tensor<?x?xf16>'}}
  %0 = awq.linear %x, %w : tensor<?x?xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_input_k(%x: tensor<?x512xf16>, %w: !w) {
  // expected-error @+1 {{input must have 256 columns, got 512}}
  %0 = awq.linear %x, %w : tensor<?x512xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_bias_rank(%x: tensor<?x256xf16>, %w: !w, %b: tensor<1x128xf16>) {
  // expected-error @+1 {{bias must be a 1-D tensor, got 'tensor<1x128xf16>'}}
  %0 = awq.linear %x, %w bias(%b : tensor<1x128xf16>) : tensor<?x256xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_bias_length(%x: tensor<?x256xf16>, %w: !w, %b: tensor<64xf16>) {
  // expected-error @+1 {{bias must have 128 elements, got 64}}
  %0 = awq.linear %x, %w bias(%b : tensor<64xf16>) : tensor<?x256xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_act_scale(%x: tensor<?x256xf16>, %w: !w, %s: tensor<128xf16>) {
  // expected-error @+1 {{act_scale must have 256 elements, got 128}}
  %0 = awq.linear %x, %w act_scale(%s : tensor<128xf16>) : tensor<?x256xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!v = !awq.qweight<k = 256, n = 25, bits = 4, group = 128, zero_point, mma_fragment>
func.func @linear_silu_even(%x: tensor<?x256xf16>, %v: !v) {
  // expected-error @+1 {{silu_mul epilogue needs interleaved gate/up columns, but the weight has an odd n = 25}}
  %0 = awq.linear %x, %v epilogue silu_mul : tensor<?x256xf16>, !awq.qweight<k = 256, n = 25, bits = 4, group = 128, zero_point, mma_fragment> -> tensor<?x12xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_result_cols(%x: tensor<?x256xf16>, %w: !w) {
  // expected-error @+1 {{result must have 64 columns, got 128}}
  %0 = awq.linear %x, %w epilogue silu_mul : tensor<?x256xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_result_rows(%x: tensor<4x256xf16>, %w: !w) {
  // expected-error @+1 {{result rows (8) differ from input rows (4)}}
  %0 = awq.linear %x, %w : tensor<4x256xf16>, !w -> tensor<8x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_residual_cols(%x: tensor<?x256xf16>, %w: !w, %r: tensor<?x64xf16>) {
  // expected-error @+1 {{residual must have 128 columns, got 64}}
  %0 = awq.linear %x, %w residual(%r : tensor<?x64xf16>) : tensor<?x256xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_residual_rows(%x: tensor<4x256xf16>, %w: !w, %r: tensor<2x128xf16>) {
  // expected-error @+1 {{residual rows (2) differ from result rows (4)}}
  %0 = awq.linear %x, %w residual(%r : tensor<2x128xf16>) : tensor<4x256xf16>, !w -> tensor<4x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_min_m(%x: tensor<?x256xf16>, %w: !w) {
  // expected-error @+1 {{gemm_min_m must be at least 1, got 0}}
  %0 = awq.linear %x, %w {gemm_min_m = 0 : i64, gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 1>} : tensor<?x256xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_min_m_gemm(%x: tensor<?x256xf16>, %w: !w) {
  // expected-error @+1 {{gemm_min_m needs a gemm kernel configuration}}
  %0 = awq.linear %x, %w {gemm_min_m = 4 : i64} : tensor<?x256xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_min_m_gemv(%x: tensor<?x256xf16>, %w: !w) {
  // expected-error @+1 {{gemm_min_m = 4 sends small batches to a gemv kernel, but no gemv configuration is attached}}
  %0 = awq.linear %x, %w {gemm_min_m = 4 : i64, gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 1>} : tensor<?x256xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

// Three K splits of four 1024-value tiles leave the last split empty: the
// gemv kernel op this lowers to would be invalid, so the linear is too.
!w = !awq.qweight<k = 4096, n = 4096, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_gemv_misfit(%x: tensor<?x4096xf16>, %w: !w) {
  // expected-error @+1 {{gemv configuration does not fit the layer: k_split must leave every split at least one 1024-value K tile (K = 4096, N = 4096, 4-bit, group 128; threads 128, cols_per_warp 4, k_split 3, max_rows 4)}}
  %0 = awq.linear %x, %w {gemv = #awq.gemv<threads = 128, cols_per_warp = 4, k_split = 3, max_rows = 4>} : tensor<?x4096xf16>, !w -> tensor<?x4096xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_gemm_misfit(%x: tensor<?x256xf16>, %w: !w) {
  // expected-error @+1 {{gemm configuration does not fit the layer: split_k must be at most the number of K tiles}}
  %0 = awq.linear %x, %w {gemm_min_m = 1 : i64, gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 8>} : tensor<?x256xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 256, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_gemv_silu_mul_misfit(%x: tensor<?x256xf16>, %w: !w) {
  // expected-error @+1 {{gemv configuration does not fit the layer: silu_mul needs an even cols_per_warp}}
  %0 = awq.linear %x, %w epilogue silu_mul {gemv = #awq.gemv<threads = 128, cols_per_warp = 1, k_split = 1, max_rows = 4>} : tensor<?x256xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 256, bits = 3, group = 128, zero_point, autoawq_gemm>
func.func @linear_gemv_3bit_cols_misfit(%x: tensor<?x256xf16>, %w: !w) {
  // expected-error @+1 {{gemv configuration does not fit the layer: 3-bit weights interleave 4 columns: cols_per_warp must be a multiple of 4}}
  %0 = awq.linear %x, %w {gemv = #awq.gemv<threads = 128, cols_per_warp = 2, k_split = 1, max_rows = 4>} : tensor<?x256xf16>, !w -> tensor<?x256xf16>
  return
}

// -----

func.func @rms_rank(%x: tensor<256xf16>, %g: tensor<256xf16>) {
  // expected-error @+1 {{input must be a 2-D [M x K] tensor, got 'tensor<256xf16>'}}
  %0 = awq.rms_norm %x, %g : tensor<256xf16>, tensor<256xf16>
  return
}

// -----

func.func @rms_weight(%x: tensor<?x256xf16>, %g: tensor<128xf16>) {
  // expected-error @+1 {{weight must have 256 elements, got 128}}
  %0 = awq.rms_norm %x, %g : tensor<?x256xf16>, tensor<128xf16>
  return
}

// -----

func.func @rms_epsilon(%x: tensor<?x256xf16>, %g: tensor<256xf16>) {
  // expected-error @+1 {{epsilon must be positive, got 0}}
  %0 = awq.rms_norm %x, %g {epsilon = 0.0 : f32} : tensor<?x256xf16>, tensor<256xf16>
  return
}

// -----

func.func @layer_norm_bias(%x: tensor<?x256xf16>, %g: tensor<256xf16>, %b: tensor<64xf16>) {
  // expected-error @+1 {{bias must have 256 elements, got 64}}
  %0 = awq.layer_norm %x, %g bias(%b : tensor<64xf16>) : tensor<?x256xf16>, tensor<256xf16>
  return
}

// -----

func.func @silu_rank(%a: tensor<8xf16>) {
  // expected-error @+1 {{gate must be a 2-D [M x K] tensor, got 'tensor<8xf16>'}}
  %0 = awq.silu_mul %a, %a : tensor<8xf16>
  return
}

// -----

func.func @add_rank(%a: tensor<8xf16>) {
  // expected-error @+1 {{operand must be a 2-D [M x K] tensor, got 'tensor<8xf16>'}}
  %0 = awq.add %a, %a : tensor<8xf16>
  return
}

// -----

func.func @split_rank(%x: tensor<96xf16>) {
  // expected-error @+1 {{input must be a 2-D [M x K] tensor, got 'tensor<96xf16>'}}
  %0, %1 = awq.split %x : tensor<96xf16> -> tensor<?x64xf16>, tensor<?x32xf16>
  return
}

// -----

func.func @split_none(%x: tensor<?x96xf16>) {
  // expected-error @+1 {{must have at least one result}}
  "awq.split"(%x) : (tensor<?x96xf16>) -> ()
  return
}

// -----

func.func @split_result_rank(%x: tensor<?x96xf16>) {
  // expected-error @+1 {{each result must be a 2-D [M x K] tensor, got 'tensor<96xf16>'}}
  %0 = awq.split %x : tensor<?x96xf16> -> tensor<96xf16>
  return
}

// -----

func.func @split_rows(%x: tensor<4x96xf16>) {
  // expected-error @+1 {{result rows (2) differ from input rows (4)}}
  %0, %1 = awq.split %x : tensor<4x96xf16> -> tensor<2x64xf16>, tensor<4x32xf16>
  return
}

// -----

func.func @split_cols(%x: tensor<?x96xf16>) {
  // expected-error @+1 {{result columns add up to 80 but the input has 96}}
  %0, %1 = awq.split %x : tensor<?x96xf16> -> tensor<?x64xf16>, tensor<?x16xf16>
  return
}

// -----

func.func @scale_activation_rank(%x: tensor<256xf16>, %s: tensor<256xf16>) {
  // expected-error @+1 {{input must be a 2-D [M x K] tensor, got 'tensor<256xf16>'}}
  %0 = awq.scale_activation %x, %s : tensor<256xf16>, tensor<256xf16>
  return
}

// -----

func.func @scale_activation_length(%x: tensor<?x256xf16>, %s: tensor<128xf16>) {
  // expected-error @+1 {{scale must have 256 elements, got 128}}
  %0 = awq.scale_activation %x, %s : tensor<?x256xf16>, tensor<128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @dequantize_shape(%w: !w) {
  // expected-error @+1 {{result must be a 256x128 tensor, got 'tensor<128x256xf16>'}}
  %0 = awq.dequantize %w : !w -> tensor<128x256xf16>
  return
}

// -----

func.func @matmul_rank(%x: tensor<256xf16>, %w: tensor<256x128xf16>) {
  // expected-error @+1 {{input must be a 2-D [M x K] tensor, got 'tensor<256xf16>'}}
  %0 = awq.matmul %x, %w : tensor<256xf16>, tensor<256x128xf16> -> tensor<?x128xf16>
  return
}

// -----

func.func @matmul_weight_static(%x: tensor<?x256xf16>, %w: tensor<?x128xf16>) {
  // expected-error @+1 {{weight must be a static 2-D [K x N] tensor, got 'tensor<?x128xf16>'}}
  %0 = awq.matmul %x, %w : tensor<?x256xf16>, tensor<?x128xf16> -> tensor<?x128xf16>
  return
}

// -----

func.func @matmul_k(%x: tensor<?x256xf16>, %w: tensor<128x128xf16>) {
  // expected-error @+1 {{weight has 128 rows but the input has 256 columns}}
  %0 = awq.matmul %x, %w : tensor<?x256xf16>, tensor<128x128xf16> -> tensor<?x128xf16>
  return
}

// -----

func.func @matmul_n(%x: tensor<?x256xf16>, %w: tensor<256x128xf16>) {
  // expected-error @+1 {{result must have 128 columns, got 64}}
  %0 = awq.matmul %x, %w : tensor<?x256xf16>, tensor<256x128xf16> -> tensor<?x64xf16>
  return
}

// -----

func.func @matmul_rows(%x: tensor<4x256xf16>, %w: tensor<256x128xf16>) {
  // expected-error @+1 {{result rows (3) differ from input rows (4)}}
  %0 = awq.matmul %x, %w : tensor<4x256xf16>, tensor<256x128xf16> -> tensor<3x128xf16>
  return
}

// -----

func.func @vector_mul_rank(%a: tensor<4x4xf16>) {
  // expected-error @+1 {{operands must be 1-D tensors, got 'tensor<4x4xf16>'}}
  %0 = awq.vector_mul %a, %a : tensor<4x4xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @scale_output_channels_length(%w: !w, %s: tensor<256xf16>) {
  // expected-error @+1 {{scale must have 128 elements, got 256}}
  %0 = awq.scale_output_channels %w, %s : !w, tensor<256xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, symmetric, autoawq_gemm>
func.func @fold_zero_points_symmetric(%w: !w) {
  // expected-error @+1 {{expects a weight with stored zero points (zero_point), got symmetric}}
  %0 = awq.fold_zero_points %w : !w -> !awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, autoawq_gemm>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @fold_zero_points_result(%w: !w) {
  // expected-error @+1 {{result must be '!awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, autoawq_gemm>'}}
  %0 = awq.fold_zero_points %w : !w -> !awq.qweight<k = 256, n = 128, bits = 4, group = 64, scaled_zero, autoawq_gemm>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @concat_one(%w: !w) {
  // expected-error @+1 {{needs at least two weights to concatenate}}
  %0 = awq.concat_weights %w : !w -> !w
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
!v = !awq.qweight<k = 256, n = 128, bits = 8, group = 128, zero_point, autoawq_gemm>
func.func @concat_mismatch(%w: !w, %v: !v) {
  // expected-error @+1 {{weight #1 differs from weight #0 in k, bits, group, zero mode or layout}}
  %0 = awq.concat_weights %w, %v : !w, !v -> !awq.qweight<k = 256, n = 256, bits = 4, group = 128, zero_point, autoawq_gemm>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
!v = !awq.qweight<k = 256, n = 64, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @concat_interleave(%w: !w, %v: !v) {
  // expected-error @+1 {{interleave needs exactly two weights of the same type}}
  %0 = awq.concat_weights %w, %v {interleave} : !w, !v -> !awq.qweight<k = 256, n = 192, bits = 4, group = 128, zero_point, autoawq_gemm>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @concat_result(%w: !w) {
  // expected-error @+1 {{result must be weight #0's type with n = 256, got '!awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>'}}
  %0 = awq.concat_weights %w, %w : !w, !w -> !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
  return
}

// -----

!big = !awq.qweight<k = 256, n = 1073741824, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @concat_too_wide(%w: !big) {
  // expected-error @+1 {{the concatenated weight has more than 2^30 columns (N = 2147483648 after weight #1)}}
  %0 = awq.concat_weights %w, %w : !big, !big -> !big
  return
}

// -----

func.func @concat_vectors_dynamic(%a: tensor<?xf16>) {
  // expected-error @+1 {{operands must have a static length, got 'tensor<?xf16>'}}
  %0 = awq.concat_vectors %a, %a : tensor<?xf16>, tensor<?xf16> -> tensor<16xf16>
  return
}

// -----

func.func @concat_vectors_too_long(%a: tensor<1073741824xf16>) {
  // expected-error @+1 {{the concatenated vector has more than 2^30 elements}}
  %0 = awq.concat_vectors %a, %a : tensor<1073741824xf16>, tensor<1073741824xf16> -> tensor<8xf16>
  return
}

// -----

func.func @concat_vectors_one(%a: tensor<8xf16>) {
  // expected-error @+1 {{needs at least two vectors to concatenate}}
  %0 = awq.concat_vectors %a : tensor<8xf16> -> tensor<8xf16>
  return
}

// -----

func.func @concat_vectors_type(%a: tensor<8xf16>, %b: tensor<8xf32>) {
  // expected-error @+1 {{operands must be 1-D tensors of one element type, got 'tensor<8xf32>'}}
  %0 = awq.concat_vectors %a, %b : tensor<8xf16>, tensor<8xf32> -> tensor<16xf16>
  return
}

// -----

func.func @concat_vectors_interleave(%a: tensor<8xf16>, %b: tensor<4xf16>) {
  // expected-error @+1 {{interleave needs exactly two vectors of the same type}}
  %0 = awq.concat_vectors %a, %b {interleave} : tensor<8xf16>, tensor<4xf16> -> tensor<12xf16>
  return
}

// -----

func.func @concat_vectors_result(%a: tensor<8xf16>, %b: tensor<4xf16>) {
  // expected-error @+1 {{result must be a 1-D tensor of 12 elements of 'f16', got 'tensor<16xf16>'}}
  %0 = awq.concat_vectors %a, %b : tensor<8xf16>, tensor<4xf16> -> tensor<16xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, mma_fragment>
func.func @repack_target(%w: !w) {
  // expected-error @+1 {{result layout must be a kernel layout (gemv_interleaved or mma_fragment)}}
  %0 = awq.repack %w : !w -> !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @repack_only_layout(%w: !w) {
  // expected-error @+1 {{repacking changes only the layout; expected '!awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, mma_fragment>'}}
  %0 = awq.repack %w : !w -> !awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, mma_fragment>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, mma_fragment>
func.func @gemv_layout(%x: tensor<?x256xf16>, %w: !w) {
  // expected-error @+1 {{weight must be in the gemv_interleaved layout, got mma_fragment}}
  %0 = awq.gemv_kernel "k" config #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 1, max_rows = 4> %x, %w : tensor<?x256xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, gemv_interleaved>
func.func @gemv_zero_mode(%x: tensor<?x256xf16>, %w: !w) {
  // expected-error @+1 {{the gemv kernel reads stored zero points (zero_point) or none (symmetric), not scaled_zero}}
  %0 = awq.gemv_kernel "k" config #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 1, max_rows = 4> %x, %w : tensor<?x256xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, gemv_interleaved>
func.func @gemv_name(%x: tensor<?x256xf16>, %w: !w) {
  // expected-error @+1 {{kernel_name must be a C identifier that is not reserved (no leading '__' or '_' and a capital), got '1st-kernel'}}
  %0 = awq.gemv_kernel "1st-kernel" config #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 1, max_rows = 4> %x, %w : tensor<?x256xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, gemv_interleaved>
func.func @gemv_reserved_name(%x: tensor<?x256xf16>, %w: !w) {
  // expected-error @+1 {{kernel_name must be a C identifier that is not reserved (no leading '__' or '_' and a capital), got '__global__'}}
  %0 = awq.gemv_kernel "__global__" config #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 1, max_rows = 4> %x, %w : tensor<?x256xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, gemv_interleaved>
func.func @gemv_constraint(%x: tensor<?x256xf16>, %w: !w) {
  // expected-error @+1 {{configuration does not fit the layer: silu_mul needs an even cols_per_warp (gate and up columns of a pair stay in one warp) (K = 256, N = 128, 4-bit, group 128, silu_mul; threads 128, cols_per_warp 1, k_split 1, max_rows 4)}}
  %0 = awq.gemv_kernel "k" config #awq.gemv<threads = 128, cols_per_warp = 1, k_split = 1, max_rows = 4> %x, %w epilogue silu_mul : tensor<?x256xf16>, !w -> tensor<?x64xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, gemv_interleaved>
func.func @gemm_layout(%x: tensor<?x256xf16>, %w: !w) {
  // expected-error @+1 {{weight must be in the mma_fragment layout, got gemv_interleaved}}
  %0 = awq.gemm_kernel "k" config #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 4> %x, %w : tensor<?x256xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, mma_fragment>
func.func @gemm_zero_mode(%x: tensor<?x256xf16>, %w: !w) {
  // expected-error @+1 {{the gemm kernel reads zs = z * s (scaled_zero) or no zero point (symmetric), not zero_point}}
  %0 = awq.gemm_kernel "k" config #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 4> %x, %w : tensor<?x256xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, mma_fragment>
func.func @gemm_constraint(%x: tensor<?x256xf16>, %w: !w) {
  // expected-error @+1 {{configuration does not fit the layer: split_k must be at most the number of K tiles (K = 256, N = 128, 4-bit, group 128; tiles 64 x 128 x 64, warps 2 x 2, 4 stages, split_k 8)}}
  %0 = awq.gemm_kernel "k" config #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 8> %x, %w : tensor<?x256xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

func.func @select_rank(%x: tensor<256xf16>, %a: tensor<?x128xf16>) {
  // expected-error @+1 {{input must be a 2-D [M x K] tensor, got 'tensor<256xf16>'}}
  %0 = awq.select_by_rows %x, %a, %a {gemm_min_m = 5 : i64} : tensor<256xf16>, tensor<?x128xf16>
  return
}

// -----

func.func @select_threshold(%x: tensor<?x256xf16>, %a: tensor<?x128xf16>) {
  // expected-error @+1 {{gemm_min_m must be at least 2 for a choice to exist, got 1}}
  %0 = awq.select_by_rows %x, %a, %a {gemm_min_m = 1 : i64} : tensor<?x256xf16>, tensor<?x128xf16>
  return
}

// -----

func.func @select_rows(%x: tensor<4x256xf16>, %a: tensor<8x128xf16>) {
  // expected-error @+1 {{result rows (8) differ from input rows (4)}}
  %0 = awq.select_by_rows %x, %a, %a {gemm_min_m = 5 : i64} : tensor<4x256xf16>, tensor<8x128xf16>
  return
}

// -----
// Activations are f16 or bf16; an op's activations and 16-bit parameters
// share one element type.

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_input_f32(%x: tensor<?x256xf32>, %w: !w) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 16-bit float or bfloat16 type values, but got 'tensor<?x256xf32>'}}
  %0 = awq.linear %x, %w : tensor<?x256xf32>, !w -> tensor<?x128xf32>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_bias_type(%x: tensor<?x256xbf16>, %w: !w, %b: tensor<128xf16>) {
  // expected-error @+1 {{'awq.linear' op bias has element type 'f16' but the input has 'bf16' (activations and 16-bit parameters share one element type)}}
  %0 = awq.linear %x, %w bias(%b : tensor<128xf16>) : tensor<?x256xbf16>, !w -> tensor<?x128xbf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_act_scale_type(%x: tensor<?x256xf16>, %w: !w, %s: tensor<256xbf16>) {
  // expected-error @+1 {{'awq.linear' op act_scale has element type 'bf16' but the input has 'f16'}}
  %0 = awq.linear %x, %w act_scale(%s : tensor<256xbf16>) : tensor<?x256xf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_result_type(%x: tensor<?x256xbf16>, %w: !w) {
  // expected-error @+1 {{'awq.linear' op result has element type 'f16' but the input has 'bf16'}}
  %0 = awq.linear %x, %w : tensor<?x256xbf16>, !w -> tensor<?x128xf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
func.func @linear_residual_type(%x: tensor<?x256xbf16>, %w: !w, %r: tensor<?x128xf16>) {
  // expected-error @+1 {{'awq.linear' op residual has element type 'f16' but the input has 'bf16'}}
  %0 = awq.linear %x, %w residual(%r : tensor<?x128xf16>) : tensor<?x256xbf16>, !w -> tensor<?x128xbf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, mma_fragment>
func.func @gemm_kernel_bias_type(%x: tensor<?x256xbf16>, %w: !w, %b: tensor<128xf16>) {
  // expected-error @+1 {{'awq.gemm_kernel' op bias has element type 'f16' but the input has 'bf16'}}
  %0 = awq.gemm_kernel "k" config #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 1> %x, %w bias(%b : tensor<128xf16>) : tensor<?x256xbf16>, !w -> tensor<?x128xbf16>
  return
}

// -----

!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, mma_fragment>
func.func @gemm_kernel_result_type(%x: tensor<?x256xbf16>, %w: !w) {
  // expected-error @+1 {{'awq.gemm_kernel' op result has element type 'f16' but the input has 'bf16'}}
  %0 = awq.gemm_kernel "k" config #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 1> %x, %w : tensor<?x256xbf16>, !w -> tensor<?x128xf16>
  return
}

// -----

func.func @rms_norm_weight_type(%x: tensor<?x256xbf16>, %g: tensor<256xf16>) {
  // expected-error @+1 {{'awq.rms_norm' op weight has element type 'f16' but the input has 'bf16'}}
  %0 = awq.rms_norm %x, %g : tensor<?x256xbf16>, tensor<256xf16>
  return
}

// -----

func.func @layer_norm_bias_type(%x: tensor<?x256xbf16>, %g: tensor<256xf32>, %b: tensor<256xf16>) {
  // expected-error @+1 {{'awq.layer_norm' op bias has element type 'f16' but the input has 'bf16'}}
  %0 = awq.layer_norm %x, %g bias(%b : tensor<256xf16>) : tensor<?x256xbf16>, tensor<256xf32>
  return
}

// -----

func.func @add_types(%a: tensor<?x8xbf16>, %b: tensor<?x8xf16>) {
  // expected-error @+1 {{all of {lhs, rhs, result} have same type}}
  %0 = "awq.add"(%a, %b) : (tensor<?x8xbf16>, tensor<?x8xf16>) -> tensor<?x8xbf16>
  return
}

// -----

func.func @split_result_type(%x: tensor<?x96xbf16>) {
  // expected-error @+1 {{'awq.split' op a result has element type 'f16' but the input has 'bf16'}}
  %0:2 = awq.split %x : tensor<?x96xbf16> -> tensor<?x64xbf16>, tensor<?x32xf16>
  return
}

// -----

func.func @scale_activation_type(%x: tensor<?x256xf16>, %s: tensor<256xbf16>) {
  // expected-error @+1 {{'awq.scale_activation' op scale has element type 'bf16' but the input has 'f16'}}
  %0 = awq.scale_activation %x, %s : tensor<?x256xf16>, tensor<256xbf16>
  return
}

// -----

func.func @matmul_weight_type(%x: tensor<?x256xbf16>, %w: tensor<256x128xf16>) {
  // expected-error @+1 {{'awq.matmul' op weight has element type 'f16' but the input has 'bf16'}}
  %0 = awq.matmul %x, %w : tensor<?x256xbf16>, tensor<256x128xf16> -> tensor<?x128xbf16>
  return
}

// -----

func.func @matmul_result_type(%x: tensor<?x256xbf16>, %w: tensor<256x128xbf16>) {
  // expected-error @+1 {{'awq.matmul' op result has element type 'f16' but the input has 'bf16'}}
  %0 = awq.matmul %x, %w : tensor<?x256xbf16>, tensor<256x128xbf16> -> tensor<?x128xf16>
  return
}

// -----

func.func @select_type(%x: tensor<?x256xbf16>, %a: tensor<?x128xf16>) {
  // expected-error @+1 {{'awq.select_by_rows' op result has element type 'f16' but the input has 'bf16'}}
  %0 = awq.select_by_rows %x, %a, %a {gemm_min_m = 5 : i64} : tensor<?x256xbf16>, tensor<?x128xf16>
  return
}
