//===- AwqcOptions.td - The options of awqc and its subcommands -----------===//
//
// One option table for the awqc tool. Each option lists the subcommands that
// accept it; `awqc <command> --help` prints exactly those.
//
//===----------------------------------------------------------------------===//

include "llvm/Option/OptParser.td"

def sc_compile : SubCommand<"compile",
  "model (IR, description or checkpoint) -> kernel bundle (.awqb)",
  "awqc compile INPUT -o model.awqb [options]">;
def sc_quantize : SubCommand<"quantize",
  "FP16 model + calibration activations -> AWQ checkpoint",
  "awqc quantize MODEL [options]">;
def sc_inspect : SubCommand<"inspect",
  "summarise a safetensors file, checkpoint, description or bundle",
  "awqc inspect PATH [options]">;
def sc_synth : SubCommand<"synth",
  "write a synthetic LLaMA-shaped FP16 model and calibration set",
  "awqc synth -o DIR [options]">;

defvar all = [sc_compile, sc_quantize, sc_inspect, sc_synth];

// `--name VALUE` and `--name=VALUE`; help shows the first.
multiclass Value<string name, string metavar, string help,
                 list<SubCommand> commands> {
  def NAME : Separate<["--"], name, commands>, MetaVarName<metavar>,
             HelpText<help>;
  def NAME # _eq : Joined<["--"], name # "=", commands>, Alias<!cast<Option>(NAME)>;
}

// Top level and every subcommand.
def help : Flag<["--"], "help">, HelpText<"Show this help and exit">;
def : Flag<["-"], "h">, Alias<help>;
def version : Flag<["--"], "version">, HelpText<"Print the version and exit">;

// Shared by several subcommands.
defm output : Value<"output", "DIR",
  "Output to create (required): compile writes a bundle for a name ending "
  "in .awqb, else a directory of sources",
  [sc_compile, sc_quantize, sc_synth]>;
def : Separate<["-"], "o", [sc_compile, sc_quantize, sc_synth]>, Alias<output>,
  MetaVarName<"DIR">, HelpText<"Same as --output">;
def force : Flag<["--"], "force", [sc_compile, sc_quantize, sc_synth]>,
  HelpText<"Replace an earlier output of this command (never anything else)">;
def quiet : Flag<["--"], "quiet", [sc_quantize, sc_synth]>,
  HelpText<"Print nothing but errors">;
def : Flag<["-"], "q", [sc_quantize, sc_synth]>, Alias<quiet>,
  HelpText<"Same as --quiet">;
defm calibration : Value<"calibration", "FILE",
  "Calibration activations (.safetensors): quantize reads them (required), "
  "synth writes them (default DIR/calibration.safetensors)",
  [sc_quantize, sc_synth]>;
defm shard_size : Value<"shard-size", "SIZE",
  "Split the safetensors into shards of at most SIZE bytes (e.g. 5GB, 2GiB)",
  [sc_quantize, sc_synth]>;

// awqc compile
defm target : Value<"target", "sm_XY[a]",
  "GPU architecture, sm_80 to sm_121 (default: the module's awq.target, else sm_80)",
  [sc_compile]>;
defm families : Value<"families", "both|gemv|gemm",
  "Kernel families to emit (default both)", [sc_compile]>;
defm gemm_min_m : Value<"gemm-min-m", "N",
  "Smallest row count M that runs the GEMM kernel (default 2)", [sc_compile]>;
defm max_m : Value<"max-m", "N",
  "Largest row count M the bundle runs (default 4096; bundles only)",
  [sc_compile]>;
def no_weights : Flag<["--"], "no-weights", [sc_compile]>,
  HelpText<"Write a bundle without weights (benchmarks fill them on the "
           "device)">;
defm random_weights : Value<"random-weights", "SEED",
  "Fill the bundle's weights with seeded random values when the input names "
  "no checkpoint (tests, demos)", [sc_compile]>;
defm aot : Value<"aot", "sm_XY[a],...",
  "Also embed CUBINs compiled now for these targets (used when the GPU "
  "matches; bundles only)", [sc_compile]>;
def dump_ir_after_all : Flag<["--"], "dump-ir-after-all", [sc_compile]>,
  HelpText<"Print the IR after every pass to stderr">;

// awqc quantize
defm weight_bits : Value<"bits", "3|4|8", "Weight bits (default 4)", [sc_quantize]>;
defm target_bits : Value<"target-bits", "B",
  "Mixed precision: choose each input group's bits (3, 4 or 8) so the "
  "average code bits per weight is at most B (3 to 8, e.g. 3.5); not with "
  "--bits", [sc_quantize]>;
def copy_unlisted : Flag<["--"], "copy-unlisted", [sc_quantize]>,
  HelpText<"Model description input: also copy (as FP16) the checkpoint's "
           "tensors the description does not name">;
defm group : Value<"group", "32|64|128|-1",
  "Group size; -1 = one group per output column (default 128)", [sc_quantize]>;
def symmetric : Flag<["--"], "symmetric", [sc_quantize]>,
  HelpText<"No zero point (implicit 2^(bits-1))">;
defm method : Value<"method", "awq|rtn|gptq|awq-gptq",
  "awq (default), plain round-to-nearest, gptq (error compensation through "
  "the activations' Hessian), or awq-gptq (AWQ scales and clip, then GPTQ)",
  [sc_quantize]>;
def act_order : Flag<["--"], "act-order", [sc_quantize]>,
  HelpText<"GPTQ: visit input channels by decreasing Hessian diagonal "
           "(groups stay contiguous)">;
defm scale_formula : Value<"scale-formula", "duo|activation",
  "AWQ scale candidates: AutoAWQ's duo scaling (default) or the paper's "
  "x_mean^r", [sc_quantize]>;
def no_clip : Flag<["--"], "no-clip", [sc_quantize]>,
  HelpText<"Skip the clip search">;
defm scale_search : Value<"scale-search", "gptq|rtn",
  "awq-gptq: choose the AWQ scales by the output error after GPTQ "
  "(default) or after round-to-nearest (AutoAWQ's)", [sc_quantize]>;
defm clip_search : Value<"clip-search", "asymmetric|exhaustive|autoawq",
  "Clip candidates: lower and upper bound apart on a grid of every second "
  "step, refined (default for awq); the same over every step (twice the "
  "time, slightly lower error); or AutoAWQ's symmetric grid (default for "
  "awq-gptq)", [sc_quantize]>;
defm scale_screen_rows : Value<"scale-screen-rows", "N",
  "Groups of more than 2N output rows score every scale ratio on N evenly "
  "spaced rows, then the best three on all rows (default 1024; 0: every "
  "ratio on all rows, as AutoAWQ)", [sc_quantize]>;
def fold_only : Flag<["--"], "fold-only", [sc_quantize]>,
  HelpText<"Search scales only where 1/s folds into the producer; no "
           "activation scale tensors (AutoAWQ/vLLM compatible)">;
def resume : Flag<["--"], "resume", [sc_quantize]>,
  HelpText<"Continue an interrupted run (killed, Ctrl-C, crash) from its last "
           "finished input group; same inputs and options, checked">;
defm report : Value<"report", "FILE",
  "Also write the report as JSON", [sc_quantize]>;
defm threads : Value<"threads", "N",
  "Threads (default: all hardware threads)", [sc_quantize]>;

// awqc inspect
def json : Flag<["--"], "json", [sc_inspect]>,
  HelpText<"Print the summary as JSON">;

// awqc synth
defm hidden : Value<"hidden", "N", "hidden_size (default 256)", [sc_synth]>;
defm intermediate : Value<"intermediate", "N",
  "intermediate_size (default 512)", [sc_synth]>;
defm layers : Value<"layers", "N", "num_hidden_layers (default 2)", [sc_synth]>;
defm heads : Value<"heads", "N", "num_attention_heads (default 4)", [sc_synth]>;
defm kv_heads : Value<"kv-heads", "N",
  "num_key_value_heads (default: --heads, no GQA)", [sc_synth]>;
defm vocab : Value<"vocab", "N", "vocab_size (default 512)", [sc_synth]>;
defm seed : Value<"seed", "N", "Random seed (default 0)", [sc_synth]>;
defm tokens : Value<"tokens", "N",
  "Calibration tokens per input group (default 256)", [sc_synth]>;
defm outliers : Value<"outliers", "N",
  "Outlier input channels per input group (default 4)", [sc_synth]>;
defm dtype : Value<"dtype", "f16|bf16|f32", "Weight dtype (default f16)",
  [sc_synth]>;
