//===- Passes.td - The awq compiler passes --------------------------------===//
#ifndef AWQ_PASSES_TD
#define AWQ_PASSES_TD

include "mlir/Pass/PassBase.td"

def FoldActivationScalesPass : Pass<"awq-fold-activation-scales", "::mlir::ModuleOp"> {
  let summary = "Fold activation-aware scales into the ops that produce the activations";
  let description = [{
    A linear with an `act_scale` a computes (x .* a) W. When every user of x
    is a linear with the same scale and x comes from an op whose output is
    linear in its parameters, the scale moves into those parameters:

    * `awq.rms_norm`: its weight becomes `awq.vector_mul %g, %a`;
    * `awq.layer_norm`: its weight and bias are both multiplied;
    * `awq.linear` without residual or epilogue: its output columns are scaled
      with `awq.scale_output_channels` (and its bias with `awq.vector_mul`);
    * `awq.silu_mul %gate, %up` where `%up` is such a linear used only there:
      silu(g) * (u .* a), so the scale moves into the up projection.

    Otherwise the scale stays on the linear, and the kernel multiplies the
    activation tile by it as the tile is loaded. Before:

    ```mlir
    %h = awq.rms_norm %x, %g : tensor<?x256xf16>, tensor<256xf16>
    %y = awq.linear %h, %w act_scale(%a : tensor<256xf16>) : ...
    ```

    After:

    ```mlir
    %g2 = awq.vector_mul %g, %a : tensor<256xf16>
    %h = awq.rms_norm %x, %g2 : tensor<?x256xf16>, tensor<256xf16>
    %y = awq.linear %h, %w : ...
    ```
  }];
  let dependentDialects = ["::mlir::awq::AwqDialect"];
}

def FuseEpiloguesPass : Pass<"awq-fuse-epilogues", "::mlir::ModuleOp"> {
  let summary = "Fuse SiLU(gate) * up and residual adds into the linears' epilogues";
  let description = [{
    * `awq.silu_mul %g, %u` where `%g` and `%u` are linears of one input with
      the same weight type, no residual and no other users becomes one linear
      over `awq.concat_weights %wg, %wu {interleave}` with `epilogue silu_mul`
      (biases interleaved with `awq.concat_vectors {interleave}`).
    * `awq.add %y, %r` (either operand order) where `%y` is a linear without
      residual whose only user is the add becomes that linear with
      `residual(%r)`, provided `%r` is defined before the linear.

    Before:

    ```mlir
    %g = awq.linear %h, %wg : ... -> tensor<?x768xf16>
    %u = awq.linear %h, %wu : ... -> tensor<?x768xf16>
    %a = awq.silu_mul %g, %u : tensor<?x768xf16>
    ```

    After:

    ```mlir
    %wgu = awq.concat_weights %wg, %wu {interleave} : ... -> !awq.qweight<k = 256, n = 1536, ...>
    %a = awq.linear %h, %wgu epilogue silu_mul : ... -> tensor<?x768xf16>
    ```
  }];
  let dependentDialects = ["::mlir::awq::AwqDialect"];
}

def MergeSharedInputLinearsPass : Pass<"awq-merge-shared-input-linears", "::mlir::ModuleOp"> {
  let summary = "Merge linears that read the same input into one wider linear";
  let description = [{
    Linears with the same input, the same quantization (k, bits, group, zero
    mode, layout), the same activation scale (or none), no residual and no
    epilogue, and either all or none with a bias, become one linear over
    `awq.concat_weights` whose result `awq.split` hands back: q, k and v read
    the activation once and launch one kernel.

    ```mlir
    %q = awq.linear %h, %wq : ... -> tensor<?x256xf16>
    %k = awq.linear %h, %wk : ... -> tensor<?x64xf16>
    ```

    becomes

    ```mlir
    %wqk = awq.concat_weights %wq, %wk : ... -> !awq.qweight<k = 256, n = 320, ...>
    %qk = awq.linear %h, %wqk : ... -> tensor<?x320xf16>
    %q, %k = awq.split %qk : tensor<?x320xf16> -> tensor<?x256xf16>, tensor<?x64xf16>
    ```
  }];
  let dependentDialects = ["::mlir::awq::AwqDialect"];
}

def FoldZeroPointsPass : Pass<"awq-fold-zero-points", "::mlir::ModuleOp"> {
  let summary = "Precompute z * s per group so dequantization is one FMA";
  let description = [{
    Every linear whose weight stores zero points reads it through
    `awq.fold_zero_points`: W = (q - z) * s becomes q * s - zs with zs = z * s
    computed once per group when the bundle is written.

    ```mlir
    %y = awq.linear %x, %w : tensor<?x256xf16>, !awq.qweight<..., zero_point, autoawq_gemm> -> ...
    ```

    becomes

    ```mlir
    %wz = awq.fold_zero_points %w : !awq.qweight<..., zero_point, ...> -> !awq.qweight<..., scaled_zero, ...>
    %y = awq.linear %x, %wz : tensor<?x256xf16>, !awq.qweight<..., scaled_zero, autoawq_gemm> -> ...
    ```
  }];
  let dependentDialects = ["::mlir::awq::AwqDialect"];
}

def SelectKernelsPass : Pass<"awq-select-kernels", "::mlir::ModuleOp"> {
  let summary = "Choose the kernels, tiles and pipeline of every linear for a GPU";
  let description = [{
    Attaches to each `awq.linear` the kernel configurations derived from its
    shape and the target architecture (the module's `awq.target` attribute
    unless `target` is given):

    * `gemv`: the CUDA-core kernel for M < `gemm_min_m`. 128 threads, 8
      columns per warp (4 for 8-bit weights), row bodies up to
      `gemm_min_m - 1` rows (at most 4) per block; K is split across blocks
      until the grid covers twice the SM count.
    * `gemm`: the tensor-core kernel. A 64 x 128 tile (64 x 64 when N is
      small) on 2 x 2 warps, a 128-deep K tile (64 or 32 for groups it does
      not divide), 3 cp.async stages where the architecture's shared memory
      holds them, and split-K while a launch of one M tile still fits the
      blocks the SMs hold at once (launches of more M tiles split less).
    * `gemm_min_m`: the row count from which the GEMM kernel runs (default
      2: the GEMM's small-M body beats the GEMV from two rows on;
      `awq::kDefaultGemmMinM`).

    `families` restricts the choice to one kernel family (`gemv` or `gemm`).
    A bf16 linear on a target without bf16 arithmetic (sm_75) is an error
    naming the op and the target (`awq::activationViolation`).

    ```mlir
    %y = awq.linear %x, %w : tensor<?x4096xf16>, !awq.qweight<...> -> tensor<?x4096xf16>
    ```

    becomes, for sm_80,

    ```mlir
    %y = awq.linear %x, %w {gemm = #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 128, warps_m = 2, warps_n = 2, stages = 3, split_k = 6>,
                            gemm_min_m = 2 : i64,
                            gemv = #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 2, max_rows = 1>} : ...
    ```
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"\"",
           "GPU architecture, sm_80 to sm_121 with an a suffix where it exists (awq/contract.h); default: the module's awq.target">,
    Option<"smCount", "sm-count", "int64_t", /*default=*/"0",
           "SMs to fill (default: the representative part of the architecture)">,
    Option<"families", "families", "std::string", /*default=*/"\"both\"",
           "Kernel families to build: both, gemv or gemm">,
    Option<"gemmMinM", "gemm-min-m", "int64_t",
           /*default=*/"::awq::kDefaultGemmMinM",
           "Rows from which the tensor-core kernel runs when both exist">
  ];
  let dependentDialects = ["::mlir::awq::AwqDialect"];
}

def LowerToKernelsPass : Pass<"awq-lower-to-kernels", "::mlir::ModuleOp"> {
  let summary = "Turn each configured linear into kernel instances over repacked weights";
  let description = [{
    Every `awq.linear` carrying kernel configurations becomes:

    * an `awq.gemv_kernel` over `awq.repack` of its weight into the
      `gemv_interleaved` layout (with the stored zero points: the GEMV kernel
      subtracts z * sum(x) exactly in fp32, so a folded `awq.fold_zero_points`
      is looked through);
    * an `awq.gemm_kernel` over the weight repacked into `mma_fragment`
      order, with zs = z * s (zero points folded here if no earlier pass did);
    * when both exist, `awq.select_by_rows` picking one by M.

    Each kernel op stores its name and configuration; its K loop, its
    dequantization and its shared memory are computed from them and the shape
    (`KernelOpInterface`). Kernel names come from the linear's `awq.name` (or its position) and are
    unique in the module.

    ```mlir
    %y = awq.linear %x, %w {gemv = #awq.gemv<...>} : ...
    ```

    becomes

    ```mlir
    %wr = awq.repack %w : !awq.qweight<..., autoawq_gemm> -> !awq.qweight<..., gemv_interleaved>
    %y = awq.gemv_kernel "layer_gemv" config #awq.gemv<...> %x, %wr : ...
    ```
  }];
  let dependentDialects = ["::mlir::awq::AwqDialect"];
}

#endif // AWQ_PASSES_TD
