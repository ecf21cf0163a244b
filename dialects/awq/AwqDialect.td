//===- AwqDialect.td - The awq dialect and its shared definitions --------===//
//
// The `awq` dialect represents AWQ-scaled, grouped, quantized linear layers
// and the ops around them in LLaMA-style blocks.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_DIALECT_TD
#define AWQ_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Awq_Dialect : Dialect {
  let name = "awq";
  let cppNamespace = "::mlir::awq";
  let summary = "Activation-aware weight-quantized (AWQ) linear layers";
  let description = [{
    The `awq` dialect models grouped, weight-only quantized linear layers
    (3, 4 or 8-bit weights, fp16 activations) at three levels:

    * graph level: `awq.linear` with its optional activation-aware scale,
      bias and residual, the norms that feed linears, and `awq.external`
      references to weights held in a checkpoint (never weight bytes);
    * explicit level: activation scaling, dequantization and the weight
      transforms (scale folding, zero-point folding, concatenation, repacking)
      that the bundle writer evaluates on the CPU;
    * kernel level: linears annotated with the kernel family, tiles and
      pipeline chosen for one GPU architecture, ready for CUDA emission.
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  // Discardable attributes the awq tools set and read. `awq.name` names what an
  // op, argument or result is (a layer, a tensor); `awq.target` is the GPU
  // architecture a module is compiled for (sm_80...); `awq.model` is the name
  // of the model a module was built from.
  let discardableAttrs = (ins
    "::mlir::StringAttr":$name,
    "::mlir::Attribute":$target,
    "::mlir::StringAttr":$model
  );
  let extraClassDeclaration = [{
    /// "awq.name", "awq.target", "awq.model": the discardable attribute names,
    /// usable without a context (typed access: get<X>AttrHelper()).
    static constexpr ::llvm::StringLiteral getNameAttrName() {
      return NameAttrHelper::getNameStr();
    }
    static constexpr ::llvm::StringLiteral getTargetAttrName() {
      return TargetAttrHelper::getNameStr();
    }
    static constexpr ::llvm::StringLiteral getModelAttrName() {
      return ModelAttrHelper::getNameStr();
    }
  }];
}

class Awq_Op<string mnemonic, list<Trait> traits = []>
    : Op<Awq_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Awq_ZeroMode : I32EnumAttr<"ZeroMode", "how a quantized weight encodes its zero point", [
    I32EnumAttrCase<"symmetric", 0>,
    I32EnumAttrCase<"zero_point", 1>,
    I32EnumAttrCase<"scaled_zero", 2>
  ]> {
  let cppNamespace = "::mlir::awq";
  let genSpecializedAttr = 0;
  let description = [{
    `symmetric`: W = (q - 2^(bits-1)) * s. `zero_point`: W = (q - z) * s with
    a stored zero z per group. `scaled_zero`: W = q * s - zs with zs = z * s
    precomputed per group, one FMA per weight.
  }];
}

def Awq_Layout : I32EnumAttr<"Layout", "how quantized values are packed", [
    I32EnumAttrCase<"autoawq_gemm", 0>,
    I32EnumAttrCase<"gemv_interleaved", 1>,
    I32EnumAttrCase<"mma_fragment", 2>
  ]> {
  let cppNamespace = "::mlir::awq";
  let genSpecializedAttr = 0;
}

def Awq_Epilogue : I32EnumAttr<"Epilogue", "what a linear applies to its output", [
    I32EnumAttrCase<"none", 0>,
    I32EnumAttrCase<"silu_mul", 1>
  ]> {
  let cppNamespace = "::mlir::awq";
}

def Awq_DequantKind : I32EnumAttr<"DequantKind", "how a kernel turns packed integers into arithmetic values", [
    I32EnumAttrCase<"fp16_magic_lop3", 0>,
    I32EnumAttrCase<"fp16_magic_prmt", 1>,
    I32EnumAttrCase<"fp16_magic_planes", 2>,
    I32EnumAttrCase<"fp32_subnormal", 3>
  ]> {
  let cppNamespace = "::mlir::awq";
  let description = [{
    `fp16_magic_lop3`: 4-bit nibbles OR-ed into the mantissa of fp16 1024 with
    lop3, then one hsub2/hfma2 (the tensor-core kernel). `fp16_magic_prmt`:
    8-bit bytes placed with prmt under the same magic exponent.
    `fp16_magic_planes`: 3-bit values from 2-bit and 1-bit planes.
    `fp32_subnormal`: a field masked in place is an fp32 subnormal q * 2^-p
    multiplied by a pre-scaled activation: one integer op and one FMA per
    weight (the GEMV kernel).
  }];
}

def Awq_KernelFamily : I32EnumAttr<"KernelFamily", "a family of generated kernels", [
    I32EnumAttrCase<"gemv", 0>,
    I32EnumAttrCase<"gemm", 1>
  ]> {
  let cppNamespace = "::mlir::awq";
  let genSpecializedAttr = 0;
}

def Awq_KernelFamilyAttr : EnumAttr<Awq_Dialect, Awq_KernelFamily, "family">;

#endif // AWQ_DIALECT_TD
