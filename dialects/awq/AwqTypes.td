//===- AwqTypes.td - Types of the awq dialect -----------------------------===//
#ifndef AWQ_TYPES_TD
#define AWQ_TYPES_TD

include "dialects/awq/AwqDialect.td"

class Awq_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Awq_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def Awq_QWeightType : Awq_Type<"QWeight", "qweight"> {
  let summary = "a grouped, quantized K x N weight matrix";
  let description = [{
    A weight matrix with K input features (the reduction dimension) and N
    output features, stored as `bits`-bit integers with one scale (and,
    unless symmetric, one zero point) per group of `group` consecutive input
    features of each output column. `group` is 32, 64, 128, or K for one
    group per column. The layout names how the integers are packed: the
    AutoAWQ GEMM checkpoint layout, or a kernel layout picked by the compiler.
    The scales (and zero terms) are in the activation type of the linears
    that read the weight, f16 or bf16 (`getWeightActivationType`).

    ```mlir
    !awq.qweight<k = 4096, n = 11008, bits = 4, group = 128, zero_point, autoawq_gemm>
    ```
  }];
  let parameters = (ins
    "int64_t":$k,
    "int64_t":$n,
    "unsigned":$bits,
    "int64_t":$group,
    EnumParameter<Awq_ZeroMode>:$zeroMode,
    EnumParameter<Awq_Layout>:$layout
  );
  let assemblyFormat = [{
    `<` `k` `=` $k `,` `n` `=` $n `,` `bits` `=` $bits `,` `group` `=` $group
    `,` $zeroMode `,` $layout `>`
  }];
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Number of quantization groups along K.
    int64_t getNumGroups() const { return getK() / getGroup(); }
    /// The same weight with other parameters.
    QWeightType withN(int64_t n) const;
    QWeightType withZeroMode(ZeroMode mode) const;
    QWeightType withLayout(Layout layout) const;
  }];
}

#endif // AWQ_TYPES_TD
