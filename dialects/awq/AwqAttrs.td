//===- AwqAttrs.td - Attributes of the awq dialect ------------------------===//
//
// Kernel configurations chosen by the kernel selection pass. Every field is a
// compile-time constant of the emitted kernel.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_ATTRS_TD
#define AWQ_ATTRS_TD

include "dialects/awq/AwqDialect.td"

class Awq_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Awq_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def Awq_GemvConfigAttr : Awq_Attr<"GemvConfig", "gemv"> {
  let summary = "launch shape of the CUDA-core GEMV kernel of one linear";
  let description = [{
    `threads` per block, `cols` output columns per block, `k_split` blocks
    sharing one column range along K (reduced with fp32 atomics), and
    `max_rows`, the rows of the input handled per pass over the weights.

    ```mlir
    #awq.gemv<threads = 128, cols = 4, k_split = 1, max_rows = 4>
    ```
  }];
  let parameters = (ins "int64_t":$threads, "int64_t":$cols,
                        "int64_t":$kSplit, "int64_t":$maxRows);
  let assemblyFormat = [{
    `<` `threads` `=` $threads `,` `cols` `=` $cols `,` `k_split` `=` $kSplit
    `,` `max_rows` `=` $maxRows `>`
  }];
  let genVerifyDecl = 1;
}

def Awq_GemmConfigAttr : Awq_Attr<"GemmConfig", "gemm"> {
  let summary = "tiling of the tensor-core GEMM kernel of one linear";
  let description = [{
    A block computes a `tile_m` x `tile_n` output tile, stepping `tile_k`
    along K through a `stages`-deep cp.async pipeline, with `warps_m` x
    `warps_n` warps; `split_k` blocks share the K range of one tile.

    ```mlir
    #awq.gemm<tile_m = 64, tile_n = 128, tile_k = 64, warps_m = 2, warps_n = 2, stages = 4, split_k = 1>
    ```
  }];
  let parameters = (ins "int64_t":$tileM, "int64_t":$tileN, "int64_t":$tileK,
                        "int64_t":$warpsM, "int64_t":$warpsN,
                        "int64_t":$stages, "int64_t":$splitK);
  let assemblyFormat = [{
    `<` `tile_m` `=` $tileM `,` `tile_n` `=` $tileN `,` `tile_k` `=` $tileK
    `,` `warps_m` `=` $warpsM `,` `warps_n` `=` $warpsN `,` `stages` `=` $stages
    `,` `split_k` `=` $splitK `>`
  }];
  let genVerifyDecl = 1;
}

#endif // AWQ_ATTRS_TD
