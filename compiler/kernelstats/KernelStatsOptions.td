//===- KernelStatsOptions.td - The options of awq-kernel-stats ------------===//

include "llvm/Option/OptParser.td"

// `--name VALUE` and `--name=VALUE`; help shows the first.
multiclass Value<string name, string metavar, string help> {
  def NAME : Separate<["--"], name>, MetaVarName<metavar>, HelpText<help>;
  def NAME # _eq : Joined<["--"], name # "=">, Alias<!cast<Option>(NAME)>;
}

def help : Flag<["--"], "help">, HelpText<"Show this help and exit">;
def : Flag<["-"], "h">, Alias<help>;
def version : Flag<["--"], "version">, HelpText<"Print the version and exit">;
defm target : Value<"target", "sm_XY[a],...",
  "Architectures to plan, compile and report, comma separated, repeatable "
  "(default sm_90)">;
def json : Flag<["--"], "json">,
  HelpText<"Print the tables as JSON: one object per kernel and row body "
  "(\"kind\": \"kernel\") and per layer and row count M (\"kind\": "
  "\"rows\")">;
defm rows : Value<"rows", "M,...",
  "Row counts M to cost per layer: the kernel and row bodies the plan runs "
  "for M, comma separated, repeatable (default 1,2,4,8,16)">;
defm disassembler : Value<"disassembler", "PATH",
  "nvdisasm or cuobjdump to use (default: $AWQC_DISASSEMBLER, the CUDA "
  "toolkit, PATH, then the project's .venv)">;
defm families : Value<"families", "both|gemv|gemm",
  "Kernel families to emit and report (default both)">;
defm nvrtc_option : Value<"nvrtc-option", "OPTION",
  "Pass OPTION to NVRTC after the project's own options, repeatable (to "
  "see what a compile option does to the machine code; the runtime passes "
  "none)">;
defm activation : Value<"activation", "f16|bf16",
  "Activation type of every kernel (default: the model's, fp16 unless it "
  "says otherwise); bf16 needs sm_80 or newer">;
