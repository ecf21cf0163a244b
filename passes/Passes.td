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

#endif // AWQ_PASSES_TD
