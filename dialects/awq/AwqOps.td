//===- AwqOps.td - Operations of the awq dialect --------------------------===//
#ifndef AWQ_OPS_TD
#define AWQ_OPS_TD

include "dialects/awq/AwqDialect.td"
include "dialects/awq/AwqTypes.td"
include "dialects/awq/AwqAttrs.td"
include "dialects/awq/AwqInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// Activations are f16 or bf16; each op's activations and 16-bit parameters
// share one element type (the op verifiers check it, naming both types).
def Awq_ActivationTensor : RankedTensorOf<[F16, BF16]>;
def Awq_ParamTensor : TensorRankOf<[F16, BF16, F32], [1, 2]>;

//===----------------------------------------------------------------------===//
// Graph level
//===----------------------------------------------------------------------===//

def Awq_ExternalOp : Awq_Op<"external", [Pure]> {
  let summary = "a weight or parameter held outside the IR";
  let description = [{
    Names a tensor stored in a checkpoint (a safetensors file or a sharded set)
    by its tensor name, or for quantized weights by the name prefix of its
    `qweight`/`qzeros`/`scales` tensors. The IR never holds weight bytes.

    ```mlir
    %w = awq.external "model.layers.0.mlp.down_proj" from "model.safetensors"
        : !awq.qweight<k = 11008, n = 4096, bits = 4, group = 128, zero_point, autoawq_gemm>
    %g = awq.external "model.norm.weight" : tensor<4096xf16>
    ```
  }];
  let arguments = (ins StrAttr:$tensor, OptionalAttr<StrAttr>:$file);
  let results = (outs AnyTypeOf<[Awq_QWeightType, Awq_ParamTensor]>:$result);
  let assemblyFormat = "$tensor (`from` $file^)? attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Awq_LinearOp : Awq_Op<"linear",
    [Pure, AttrSizedOperandSegments, Awq_LinearLikeOpInterface]> {
  let summary = "f16 or bf16 activations times a grouped quantized weight";
  let description = [{
    Computes, for every row m of the f16 or bf16 input [M x K] (M dynamic):

      t[m, n] = sum_k (x[m, k] * a[k]) * W[k, n] + bias[n]
      y[m, n] = t[m, n] + residual[m, n]                    (epilogue none)
      y[m, j] = silu(t[m, 2j]) * t[m, 2j+1] + residual[m, j] (epilogue silu_mul)

    with the optional per-input-channel activation scale `a` (the 1/s of AWQ
    when it was not folded into the producer), optional bias and residual.
    With `silu_mul` the weight holds gate and up columns interleaved and the
    result has N/2 columns. Accumulation is at least fp32. The input, result,
    bias, activation scale and residual share one element type (f16 or bf16),
    which is also the type of the weight's scales and zero terms.

    ```mlir
    %y = awq.linear %x, %w bias(%b : tensor<4096xf16>)
        : tensor<?x4096xf16>, !awq.qweight<k = 4096, n = 4096, bits = 4, group = 128, zero_point, autoawq_gemm>
          -> tensor<?x4096xf16>
    ```

    Kernel selection attaches `gemv`, `gemm` and `gemm_min_m` attributes: rows
    below `gemm_min_m` run the GEMV kernel, the rest the GEMM kernel.
  }];
  let arguments = (ins
    Awq_ActivationTensor:$input,
    Awq_QWeightType:$weight,
    Optional<Awq_ActivationTensor>:$bias,
    Optional<Awq_ActivationTensor>:$act_scale,
    Optional<Awq_ActivationTensor>:$residual,
    DefaultValuedAttr<Awq_Epilogue, "::mlir::awq::Epilogue::none">:$epilogue,
    OptionalAttr<Awq_GemvConfigAttr>:$gemv,
    OptionalAttr<Awq_GemmConfigAttr>:$gemm,
    OptionalAttr<I64Attr>:$gemm_min_m
  );
  let results = (outs Awq_ActivationTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight
    (`bias` `(` $bias^ `:` type($bias) `)`)?
    (`act_scale` `(` $act_scale^ `:` type($act_scale) `)`)?
    (`residual` `(` $residual^ `:` type($residual) `)`)?
    (`epilogue` $epilogue^)?
    attr-dict `:` type($input) `,` qualified(type($weight)) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Awq_RMSNormOp : Awq_Op<"rms_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "RMSNorm over the last dimension, times a weight";
  let description = [{
    y[m, k] = x[m, k] / sqrt(mean_k(x[m, :]^2) + epsilon) * weight[k].
    AWQ folds the 1/s of the linears it feeds into `weight`.

    ```mlir
    %h = awq.rms_norm %x, %g {epsilon = 1.0e-05 : f32} : tensor<?x4096xf16>, tensor<4096xf16>
    ```
  }];
  let arguments = (ins Awq_ActivationTensor:$input, Awq_ParamTensor:$weight,
                       DefaultValuedAttr<F32Attr, "1.0e-6">:$epsilon);
  let results = (outs Awq_ActivationTensor:$result);
  let assemblyFormat = "$input `,` $weight attr-dict `:` type($input) `,` type($weight)";
  let hasVerifier = 1;
}

def Awq_LayerNormOp : Awq_Op<"layer_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "LayerNorm over the last dimension, with weight and optional bias";
  let description = [{
    y[m, k] = (x[m, k] - mean) / sqrt(var + epsilon) * weight[k] + bias[k].
    Folding an activation scale into it scales both weight and bias.

    ```mlir
    %h = awq.layer_norm %x, %g bias(%b : tensor<4096xf16>) : tensor<?x4096xf16>, tensor<4096xf16>
    ```
  }];
  let arguments = (ins Awq_ActivationTensor:$input, Awq_ParamTensor:$weight,
                       Optional<Awq_ParamTensor>:$bias,
                       DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon);
  let results = (outs Awq_ActivationTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`bias` `(` $bias^ `:` type($bias) `)`)? attr-dict
    `:` type($input) `,` type($weight)
  }];
  let hasVerifier = 1;
}

def Awq_SiluMulOp : Awq_Op<"silu_mul", [Pure, AllTypesMatch<["gate", "up", "result"]>]> {
  let summary = "SiLU(gate) * up, elementwise";
  let description = [{
    The gated activation of LLaMA MLPs: y = gate * sigmoid(gate) * up.

    ```mlir
    %a = awq.silu_mul %gate, %up : tensor<?x11008xf16>
    ```
  }];
  let arguments = (ins Awq_ActivationTensor:$gate, Awq_ActivationTensor:$up);
  let results = (outs Awq_ActivationTensor:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Awq_AddOp : Awq_Op<"add", [Pure, Commutative, AllTypesMatch<["lhs", "rhs", "result"]>]> {
  let summary = "elementwise sum, e.g. a residual connection";
  let description = [{
    ```mlir
    %r = awq.add %h, %x : tensor<?x4096xf16>
    ```
  }];
  let arguments = (ins Awq_ActivationTensor:$lhs, Awq_ActivationTensor:$rhs);
  let results = (outs Awq_ActivationTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Awq_SplitOp : Awq_Op<"split", [Pure]> {
  let summary = "splits the columns of an activation into consecutive parts";
  let description = [{
    Used when linears sharing an input were merged into one wider linear.

    ```mlir
    %q, %k, %v = awq.split %qkv : tensor<?x12288xf16>
        -> tensor<?x4096xf16>, tensor<?x4096xf16>, tensor<?x4096xf16>
    ```
  }];
  let arguments = (ins Awq_ActivationTensor:$input);
  let results = (outs Variadic<Awq_ActivationTensor>:$results);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Explicit scaling and dequantization
//===----------------------------------------------------------------------===//

def Awq_ScaleActivationOp : Awq_Op<"scale_activation",
    [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "multiplies each input channel of an activation by a scale";
  let description = [{
    y[m, k] = x[m, k] * scale[k]: the activation side of AWQ made explicit.

    ```mlir
    %xs = awq.scale_activation %x, %inv_s : tensor<?x4096xf16>, tensor<4096xf16>
    ```
  }];
  let arguments = (ins Awq_ActivationTensor:$input, Awq_ParamTensor:$scale);
  let results = (outs Awq_ActivationTensor:$result);
  let assemblyFormat = "$input `,` $scale attr-dict `:` type($input) `,` type($scale)";
  let hasVerifier = 1;
}

def Awq_DequantizeOp : Awq_Op<"dequantize", [Pure]> {
  let summary = "expands a quantized weight into an f16 or bf16 K x N matrix";
  let description = [{
    W[k, n] = (q[k, n] - z[k / G, n]) * s[k / G, n] (or q * s - zs for
    `scaled_zero`, or with z = 2^(bits-1) when symmetric).

    ```mlir
    %wf = awq.dequantize %w : !awq.qweight<k = 128, n = 64, bits = 4, group = 32, zero_point, autoawq_gemm> -> tensor<128x64xf16>
    ```
  }];
  let arguments = (ins Awq_QWeightType:$weight);
  let results = (outs Awq_ActivationTensor:$result);
  let assemblyFormat = "$weight attr-dict `:` qualified(type($weight)) `->` type($result)";
  let hasVerifier = 1;
}

def Awq_MatmulOp : Awq_Op<"matmul", [Pure]> {
  let summary = "activation times a K x N matrix of its type, fp32 accumulation";
  let description = [{
    ```mlir
    %y = awq.matmul %x, %wf : tensor<?x128xf16>, tensor<128x64xf16> -> tensor<?x64xf16>
    ```
  }];
  let arguments = (ins Awq_ActivationTensor:$input, Awq_ActivationTensor:$weight);
  let results = (outs Awq_ActivationTensor:$result);
  let assemblyFormat = "$input `,` $weight attr-dict `:` type($input) `,` type($weight) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Weight transforms: evaluated on the CPU when the bundle is written
//===----------------------------------------------------------------------===//

def Awq_VectorMulOp : Awq_Op<"vector_mul", [Pure, AllTypesMatch<["lhs", "rhs", "result"]>]> {
  let summary = "elementwise product of two parameter vectors";
  let description = [{
    Folds an activation scale into a norm weight or bias, e.g.
    `%g2 = awq.vector_mul %g, %inv_s : tensor<4096xf16>`.
  }];
  let arguments = (ins Awq_ParamTensor:$lhs, Awq_ParamTensor:$rhs);
  let results = (outs Awq_ParamTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Awq_ScaleOutputChannelsOp : Awq_Op<"scale_output_channels",
    [Pure, AllTypesMatch<["weight", "result"]>]> {
  let summary = "multiplies every output column of a quantized weight by a factor";
  let description = [{
    Scales the group scales (and zs) of column n by `scale[n]`; the integers
    are unchanged. Folds the next layer's activation scale into this layer.

    ```mlir
    %w2 = awq.scale_output_channels %w, %inv_s : !awq.qweight<k = 4096, n = 4096, bits = 4, group = 128, zero_point, autoawq_gemm>, tensor<4096xf16>
    ```
  }];
  let arguments = (ins Awq_QWeightType:$weight, Awq_ParamTensor:$scale);
  let results = (outs Awq_QWeightType:$result);
  let assemblyFormat = "$weight `,` $scale attr-dict `:` qualified(type($weight)) `,` type($scale)";
  let hasVerifier = 1;
}

def Awq_FoldZeroPointsOp : Awq_Op<"fold_zero_points", [Pure]> {
  let summary = "precomputes z * s per group: (q - z) * s becomes q * s - zs";
  let description = [{
    For an fp16 layer the zero terms are zs = fp16(z * s). A bf16 layer's
    are z itself: bf16(z * s) would be off by up to a quantization step for
    8-bit z, so its GEMM computes (q - z) * s with one rounding, and scaling
    output channels leaves its zero terms unchanged (runtime/kernels/
    GemmLayout.h owns this).

    ```mlir
    %w2 = awq.fold_zero_points %w : !awq.qweight<k = 4096, n = 4096, bits = 4, group = 128, zero_point, autoawq_gemm>
        -> !awq.qweight<k = 4096, n = 4096, bits = 4, group = 128, scaled_zero, autoawq_gemm>
    ```
  }];
  let arguments = (ins Awq_QWeightType:$weight);
  let results = (outs Awq_QWeightType:$result);
  let assemblyFormat = "$weight attr-dict `:` qualified(type($weight)) `->` qualified(type($result))";
  let hasVerifier = 1;
}

def Awq_ConcatWeightsOp : Awq_Op<"concat_weights", [Pure]> {
  let summary = "concatenates quantized weights that share K and quantization along N";
  let description = [{
    Without `interleave`, the columns of the operands follow one another
    (q, k and v become one qkv weight). With `interleave` (exactly two
    operands of equal N) column 2j is column j of the first operand and
    column 2j+1 column j of the second: the layout a fused SiLU(gate) * up
    epilogue reads.

    ```mlir
    %gu = awq.concat_weights %g, %u {interleave} : !awq.qweight<k = 4096, n = 11008, bits = 4, group = 128, zero_point, autoawq_gemm>, !awq.qweight<k = 4096, n = 11008, bits = 4, group = 128, zero_point, autoawq_gemm>
        -> !awq.qweight<k = 4096, n = 22016, bits = 4, group = 128, zero_point, autoawq_gemm>
    ```
  }];
  let arguments = (ins Variadic<Awq_QWeightType>:$inputs, UnitAttr:$interleave);
  let results = (outs Awq_QWeightType:$result);
  let assemblyFormat = "$inputs attr-dict `:` qualified(type($inputs)) `->` qualified(type($result))";
  let hasVerifier = 1;
}

def Awq_ConcatVectorsOp : Awq_Op<"concat_vectors", [Pure]> {
  let summary = "concatenates (or pairwise interleaves) parameter vectors";
  let description = [{
    The bias counterpart of `awq.concat_weights`.

    ```mlir
    %b = awq.concat_vectors %bq, %bk : tensor<64xf16>, tensor<32xf16> -> tensor<96xf16>
    ```
  }];
  let arguments = (ins Variadic<Awq_ParamTensor>:$inputs, UnitAttr:$interleave);
  let results = (outs Awq_ParamTensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` type($inputs) `->` type($result)";
  let hasVerifier = 1;
}

def Awq_RepackOp : Awq_Op<"repack", [Pure]> {
  let summary = "re-lays out a quantized weight for the kernel that reads it";
  let description = [{
    ```mlir
    %w2 = awq.repack %w : !awq.qweight<k = 4096, n = 4096, bits = 4, group = 128, scaled_zero, autoawq_gemm>
        -> !awq.qweight<k = 4096, n = 4096, bits = 4, group = 128, scaled_zero, mma_fragment>
    ```
  }];
  let arguments = (ins Awq_QWeightType:$weight);
  let results = (outs Awq_QWeightType:$result);
  let assemblyFormat = "$weight attr-dict `:` qualified(type($weight)) `->` qualified(type($result))";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Kernel level
//===----------------------------------------------------------------------===//

class Awq_KernelOp<string mnemonic, Attr configAttr, string family,
                   string description_>
    : Awq_Op<mnemonic, [Pure, AttrSizedOperandSegments,
                        Awq_LinearLikeOpInterface, Awq_KernelOpInterface,
                        InferTypeOpAdaptorWithIsCompatible]> {
  let description = description_;
  let arguments = (ins
    Awq_ActivationTensor:$input,
    Awq_QWeightType:$weight,
    Optional<Awq_ActivationTensor>:$bias,
    Optional<Awq_ActivationTensor>:$act_scale,
    Optional<Awq_ActivationTensor>:$residual,
    StrAttr:$kernel_name,
    configAttr:$config,
    DefaultValuedAttr<Awq_Epilogue, "::mlir::awq::Epilogue::none">:$epilogue
  );
  let results = (outs Awq_ActivationTensor:$result);
  let assemblyFormat = [{
    $kernel_name `config` qualified($config) $input `,` $weight
    (`bias` `(` $bias^ `:` type($bias) `)`)?
    (`act_scale` `(` $act_scale^ `:` type($act_scale) `)`)?
    (`residual` `(` $residual^ `:` type($residual) `)`)?
    (`epilogue` $epilogue^)?
    attr-dict `:` type($input) `,` qualified(type($weight)) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    static ::mlir::awq::KernelFamily getKernelFamily() {
      return ::mlir::awq::KernelFamily::}] # family # [{;
    }
    ::mlir::awq::KLoopAttr getKLoop();
    ::mlir::awq::DequantKind getDequantKind();
    int64_t getSharedBytes();
  }];
  // Result type inference is the same for both families: written once here.
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *context,
        ::std::optional<::mlir::Location> location, Adaptor adaptor,
        ::llvm::SmallVectorImpl<::mlir::Type> &inferred) {
      return ::mlir::awq::detail::inferKernelResultType(
          context, location, adaptor.getInput(), adaptor.getWeight(),
          adaptor.getEpilogue(), inferred);
    }
    bool $cppClass::isCompatibleReturnTypes(::mlir::TypeRange lhs,
                                            ::mlir::TypeRange rhs) {
      return ::mlir::awq::detail::kernelResultTypesCompatible(lhs, rhs);
    }
  }];
}

def Awq_GemvKernelOp : Awq_KernelOp<"gemv_kernel", Awq_GemvConfigAttr, "gemv", [{
    One instance of the CUDA-core GEMV kernel (awq/gemv.cuh) computing the
    same function as `awq.linear`, for small row counts. Its weight is in the
    `gemv_interleaved` layout with stored zero points (the kernel subtracts
    z * sum(x) exactly in fp32) or symmetric. The name and the configuration
    are compile-time constants of the emitted kernel; what follows from them
    and the shape (the K loop, `fp32_subnormal` dequantization, the dynamic
    shared memory) is computed by the `KernelOpInterface` methods. The result
    type (input rows x output columns after the epilogue) is inferred, so C++
    builders may omit it.

    ```mlir
    %y = awq.gemv_kernel "l0_gemv" config #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 1, max_rows = 4> %x, %w
        : tensor<?x256xf16>, !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, gemv_interleaved> -> tensor<?x128xf16>
    ```
  }]> {
  let summary = "a CUDA-core GEMV kernel instance for small batches";
}

def Awq_GemmKernelOp : Awq_KernelOp<"gemm_kernel", Awq_GemmConfigAttr, "gemm", [{
    One instance of the tensor-core GEMM kernel (awq/gemm.cuh): cp.async
    pipeline of activation and weight tiles, weights in `mma_fragment` order
    dequantized in registers (w = q * s - zs, or symmetric), mma.sync
    m16n8k16 with fp32 accumulation, then the epilogue. The K loop, the
    dequantization scheme (by bit width) and the dynamic shared memory are
    computed by the `KernelOpInterface` methods; the result type is inferred
    as for `awq.gemv_kernel`.

    ```mlir
    %y = awq.gemm_kernel "l0_gemm" config #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 3, split_k = 1> %x, %w
        : tensor<?x256xf16>, !awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, mma_fragment> -> tensor<?x128xf16>
    ```
  }]> {
  let summary = "a tensor-core GEMM kernel instance for larger batches";
}

def Awq_SelectByRowsOp : Awq_Op<"select_by_rows",
    [Pure, AllTypesMatch<["small", "large", "result"]>]> {
  let summary = "picks the small-batch or the large-batch kernel's result by M";
  let description = [{
    Both operands compute the same function; at run time only the kernel the
    row count of `input` selects is launched: `small` when M < `gemm_min_m`,
    else `large`.

    ```mlir
    %y = awq.select_by_rows %x, %small, %large {gemm_min_m = 5 : i64} : tensor<?x256xf16>, tensor<?x128xf16>
    ```
  }];
  let arguments = (ins Awq_ActivationTensor:$input, Awq_ActivationTensor:$small,
                       Awq_ActivationTensor:$large, I64Attr:$gemm_min_m);
  let results = (outs Awq_ActivationTensor:$result);
  let assemblyFormat = [{
    $input `,` $small `,` $large attr-dict `:` type($input) `,` type($result)
  }];
  let hasVerifier = 1;
}

#endif // AWQ_OPS_TD
