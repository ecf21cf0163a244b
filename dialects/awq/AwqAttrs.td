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
    The template parameters of `awq::GemvConfig` (awq/gemv.cuh): `threads`
    per block, `cols_per_warp` output columns per warp, `k_split` blocks
    sharing one column range along K (reduced with fp32 atomics), and
    `max_rows`, the rows of the input one block handles per pass over the
    weights (larger M takes several blocks along grid z).

    ```mlir
    #awq.gemv<threads = 128, cols_per_warp = 8, k_split = 1, max_rows = 4>
    ```
  }];
  let parameters = (ins "int64_t":$threads, "int64_t":$colsPerWarp,
                        "int64_t":$kSplit, "int64_t":$maxRows);
  let assemblyFormat = [{
    `<` `threads` `=` $threads `,` `cols_per_warp` `=` $colsPerWarp `,`
    `k_split` `=` $kSplit `,` `max_rows` `=` $maxRows `>`
  }];
  let genVerifyDecl = 1;
}

def Awq_GemmConfigAttr : Awq_Attr<"GemmConfig", "gemm"> {
  let summary = "tiling of the tensor-core GEMM kernel of one linear";
  let description = [{
    The template parameters of `awq::GemmConfig` (awq/gemm.cuh). A block
    computes a `tile_m` x `tile_n` output tile, stepping `tile_k` along K
    through a `stages`-deep cp.async pipeline, with `warps_m` x `warps_n`
    warps; `split_k` blocks share the K range of one tile.

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

def Awq_KLoopAttr : Awq_Attr<"KLoop", "k_loop"> {
  let summary = "the K loop of a kernel: tiles, split-K and where groups change";
  let description = [{
    A kernel walks K in `tiles` steps of `tile_k` values. `splits` blocks
    share one output tile, each taking `tiles_per_split` consecutive steps.
    Quantization groups of `group` values change every `tiles_per_group`
    steps (group >= tile_k), or `groups_per_tile` times within a step
    (group < tile_k): that is where the kernel loads the next scales and
    zero terms, while the weight tile is dequantized in registers on its way
    from memory to the multiply.

    ```mlir
    #awq.k_loop<tile_k = 64, tiles = 64, splits = 1, tiles_per_split = 64, group = 128, tiles_per_group = 2, groups_per_tile = 1>
    ```
  }];
  let parameters = (ins "int64_t":$tileK, "int64_t":$tiles, "int64_t":$splits,
                        "int64_t":$tilesPerSplit, "int64_t":$group,
                        "int64_t":$tilesPerGroup, "int64_t":$groupsPerTile);
  let assemblyFormat = [{
    `<` `tile_k` `=` $tileK `,` `tiles` `=` $tiles `,` `splits` `=` $splits `,`
    `tiles_per_split` `=` $tilesPerSplit `,` `group` `=` $group `,`
    `tiles_per_group` `=` $tilesPerGroup `,` `groups_per_tile` `=` $groupsPerTile `>`
  }];
}

def Awq_TargetAttr : Awq_Attr<"Target", "target"> {
  let summary = "the GPU a module's kernels are selected and tiled for";
  let description = [{
    A compilation target: an architecture of the kernel contract's table
    (`awq/contract.h`, sm_75 through sm_121, with an `a` suffix where the
    architecture has arch-specific features) and the number of SMs the
    planner fills, by default that of the architecture's representative
    part. Everything else the planner needs (shared memory per block,
    features) is derived from the table, not stored.

    ```mlir
    module attributes {awq.target = #awq.target<"sm_90", sms = 132>} {}
    ```
  }];
  let parameters = (ins StringRefParameter<"sm_XY or sm_XYa">:$name,
                        "int64_t":$smCount);
  let assemblyFormat = "`<` $name `,` `sms` `=` $smCount `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The architecture of the kernel contract's table (never null for a
    /// verified attribute).
    const ::awq::ArchInfo *getArch() const;
    /// Dynamic shared memory one block may opt in to.
    int64_t getMaxSharedBytes() const;
  }];
}

#endif // AWQ_ATTRS_TD
