//===- AwqRunOptions.td - The options of awq-run --------------------------===//

include "llvm/Option/OptParser.td"

// `--name VALUE` and `--name=VALUE`, also with one dash as before; help
// shows the first.
multiclass Value<string name, string metavar, string help> {
  def NAME : Separate<["--", "-"], name>, MetaVarName<metavar>,
             HelpText<help>;
  def NAME # _eq : Joined<["--", "-"], name # "=">, Alias<!cast<Option>(NAME)>;
}

def help : Flag<["--", "-"], "help">, HelpText<"Show this help and exit">;
def : Flag<["-"], "h">, Alias<help>;
def version : Flag<["--", "-"], "version">,
  HelpText<"Print the version and exit">;
defm target : Value<"target", "sm_XY[a]",
  "GPU architecture the kernels are built for (default: the module's "
  "awq.target, else sm_80)">;
defm batch : Value<"batch", "M,M,...",
  "Row counts M to run, comma separated, repeatable (default 1,4,8,33)">;
defm checkpoint : Value<"checkpoint", "DIR",
  "Read weights from this checkpoint instead of random ones">;
defm seed : Value<"seed", "N",
  "Seed of the random weights and activations (default 1)">;
def both_families : Flag<["--", "-"], "both-families">,
  HelpText<"Run both kernel families at every M, not just the one M selects">;
defm families : Value<"families", "both|gemv|gemm",
  "Kernel families to build (default both)">;

// Bundles (INPUT ending in .awqb).
defm device : Value<"device", "cuda|cuda:N|host",
  "Where a bundle runs (default: cuda when a GPU is present, else host)">;
def bench : Flag<["--", "-"], "bench">,
  HelpText<"Bundles: also time every layer (median of runs) and report the "
           "weight bandwidth">;
defm cache_dir : Value<"cache-dir", "DIR",
  "Bundles: the kernel cache (default $AWQC_CACHE_DIR, else "
  "$XDG_CACHE_HOME/awqc/kernels)">;
def no_replan : Flag<["--", "-"], "no-replan">,
  HelpText<"Bundles: keep the bundle's tiling instead of re-planning for the "
           "device">;
defm compile_only : Value<"compile-only", "sm_XY[a],...",
  "Bundles: JIT-compile every kernel for these targets (through the kernel "
  "cache) without a GPU, report, and run nothing">;
