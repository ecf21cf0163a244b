//===- Commands.cpp - The awqc subcommands quantize, inspect and synth ----===//

#include "compiler/driver/Commands.h"

#include "compiler/driver/ArgParser.h"
#include "compiler/driver/Inspect.h"
#include "compiler/driver/Interrupt.h"
#include "compiler/driver/ProgressDisplay.h"
#include "compiler/driver/QuantizeModel.h"
#include "compiler/driver/QuantizeReport.h"
#include "compiler/driver/SyntheticModel.h"
#include "compiler/quantize/Cancellation.h"
#include "runtime/formats/AtomicFile.h"
#include "runtime/support/Error.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <new>

namespace awq {

namespace fs = std::filesystem;

namespace {

/// Runs `body`, turning exceptions into messages and exit codes.
template <typename Body>
int guarded(const char *command, std::ostream &err, Body &&body) {
  try {
    return body();
  } catch (const UsageError &e) {
    err << command << ": error: " << e.what() << "\n";
    return 2;
  } catch (const Error &e) {
    err << command << ": error: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc &) {
    err << command << ": error: out of memory\n";
    return 1;
  } catch (const std::exception &e) {
    err << command << ": internal error: " << e.what() << "\n";
    return 1;
  }
}

/// A progress line only makes sense on the process's own terminal.
bool isTerminal(const std::ostream &err) {
  return &err == &std::cerr && ::isatty(STDERR_FILENO) == 1;
}

void checkReportPath(const std::string &path) {
  fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::is_directory(parent, ec))
    throw Error(path + ": the report's directory '" + parent.string() +
                "' does not exist");
  if (fs::is_directory(path, ec))
    throw Error(path + ": is a directory; --report expects a file name");
}

constexpr const char *kQuantizeSummary =
    "Quantizes an FP16/BF16/F32 LLaMA-style model (a Hugging Face directory "
    "or a\nmodel description JSON) with AWQ into an AutoAWQ-format "
    "checkpoint directory:\nconfig.json with quantization_config, "
    "safetensors, and model.json (the model\ndescription the awqc compiler "
    "reads). Prints a per-layer error report.";

} // namespace

int runQuantizeCommand(const std::vector<std::string> &argv, std::ostream &out,
                       std::ostream &err) {
  const char *command = "awqc quantize";
  return guarded(command, err, [&]() -> int {
    ArgParser args(command);
    args.addPositional("MODEL", "Hugging Face checkpoint directory (LLaMA, "
                                "Mistral, Qwen2) or model description JSON");
    args.addOption({"--calibration"}, "FILE",
                   "Calibration activations (.safetensors, one [tokens, K] "
                   "tensor per input group); required");
    args.addOption({"--output", "-o"}, "DIR",
                   "Checkpoint directory to create; required");
    args.addOption({"--bits"}, "3|4|8", "Weight bits (default 4)");
    args.addOption({"--group"}, "32|64|128|-1",
                   "Group size; -1 = one group per output column (default "
                   "128)");
    args.addFlag({"--symmetric"}, "No zero point (implicit 2^(bits-1))");
    args.addOption({"--method"}, "awq|rtn",
                   "awq (default) or plain round-to-nearest");
    args.addOption({"--scale-formula"}, "duo|activation",
                   "AWQ scale candidates: AutoAWQ's duo scaling (default) or "
                   "the paper's x_mean^r");
    args.addFlag({"--no-clip"}, "Skip the clip search");
    args.addFlag({"--fold-only"},
                 "Search scales only where 1/s folds into the producer; no "
                 "activation scale tensors (AutoAWQ/vLLM compatible)");
    args.addOption({"--report"}, "FILE", "Also write the report as JSON");
    args.addOption({"--threads"}, "N",
                   "Threads (default: all hardware threads)");
    args.addOption({"--shard-size"}, "SIZE",
                   "Split the safetensors into shards of at most SIZE bytes "
                   "(e.g. 5GB)");
    args.addFlag({"--force"}, "Replace an existing output directory");
    args.addFlag({"--quiet", "-q"}, "Print nothing but errors");
    args.parse(argv);
    if (args.helpRequested()) {
      out << args.usage(kQuantizeSummary);
      return 0;
    }

    ModelQuantizeOptions options;
    options.model = args.positionals()[0];
    options.calibration = args.required("--calibration");
    options.output = args.required("--output");
    if (std::optional<std::string> bits =
            args.choiceValue("--bits", {"3", "4", "8"}))
      options.settings.bits = std::stoi(*bits);
    if (std::optional<int64_t> group =
            args.intValue("--group", -1, int64_t(1) << 31)) {
      if (*group == 0)
        throw UsageError("--group must be a positive group size or -1, "
                         "got 0");
      options.settings.groupSize = *group;
    }
    if (args.flag("--symmetric"))
      options.settings.zeroPoint = false;
    if (std::optional<std::string> method =
            args.choiceValue("--method", {"awq", "rtn"}))
      options.method =
          *method == "awq" ? QuantizeMethod::Awq : QuantizeMethod::Rtn;
    if (std::optional<std::string> formula =
            args.choiceValue("--scale-formula", {"duo", "activation"}))
      options.formula =
          *formula == "duo" ? ScaleFormula::Duo : ScaleFormula::ActivationOnly;
    options.clip = !args.flag("--no-clip");
    options.foldOnly = args.flag("--fold-only");
    if (std::optional<int64_t> threads = args.intValue("--threads", 1, 4096))
      options.threads = static_cast<int>(*threads);
    if (std::optional<uint64_t> shard = args.byteSizeValue("--shard-size"))
      options.maxShardBytes = *shard;
    options.overwrite = args.flag("--force");
    const bool quiet = args.flag("--quiet");
    const std::optional<std::string> reportPath = args.value("--report");
    if (reportPath)
      checkReportPath(*reportPath);

    ScopedInterruptHandler interrupt;
    options.cancel = interrupt.flag();
    std::unique_ptr<ProgressDisplay> progress;
    if (!quiet) {
      progress = std::make_unique<ProgressDisplay>(err, isTerminal(err));
      options.onProgress = [&](const ModelProgress &p) { progress->update(p); };
    }
    ModelQuantizeResult result;
    try {
      result = quantizeModel(options);
    } catch (const Cancelled &) {
      if (progress)
        progress->finish();
      if (interrupt.signal() == 0)
        throw;
      err << command << ": interrupted; no checkpoint was written to "
          << options.output << "\n";
      return interrupt.exitCode();
    }
    if (progress)
      progress->finish();

    if (reportPath)
      writeFileAtomically(*reportPath, reportToJson(result).dump(2) + "\n");
    if (quiet)
      return 0;
    out << formatReportTable(result);
    size_t explicitScales = 0;
    for (const GroupQuantReport &group : result.groups)
      explicitScales +=
          group.destination == ScaleDestination::ActivationScale ? 1 : 0;
    std::string files;
    for (const std::string &file : result.files)
      files += (files.empty() ? "" : ", ") + file;
    char seconds[32];
    std::snprintf(seconds, sizeof(seconds), "%.1f", result.seconds);
    out << "wrote " << result.output << " (" << files << "; "
        << formatBytes(result.checkpointBytes) << ") in " << seconds << " s\n";
    if (explicitScales > 0)
      err << command << ": note: " << explicitScales
          << " input group(s) keep an explicit activation scale tensor "
             "(listed in model.json); loaders other than awqc ignore it, so "
             "use --fold-only for AutoAWQ/vLLM/transformers\n";
    return 0;
  });
}

int runInspectCommand(const std::vector<std::string> &argv, std::ostream &out,
                      std::ostream &err) {
  const char *command = "awqc inspect";
  return guarded(command, err, [&]() -> int {
    ArgParser args(command);
    args.addPositional("PATH", "A .safetensors file, a checkpoint directory "
                               "or a model description JSON");
    args.addFlag({"--json"}, "Print the summary as JSON");
    args.parse(argv);
    if (args.helpRequested()) {
      out << args.usage("Summarises a safetensors file, a checkpoint "
                        "directory (quantized: layers, bits,\ngroup size, "
                        "zero point, sizes; unquantized: tensors) or a "
                        "model description\n(input groups, layers, "
                        "epilogues).");
      return 0;
    }
    const nlohmann::json summary = inspectPath(args.positionals()[0]);
    if (args.flag("--json"))
      out << summary.dump(2) << "\n";
    else
      out << formatInspection(summary);
    return 0;
  });
}

int runSynthCommand(const std::vector<std::string> &argv, std::ostream &out,
                    std::ostream &err) {
  const char *command = "awqc synth";
  return guarded(command, err, [&]() -> int {
    ArgParser args(command);
    args.addOption({"--output", "-o"}, "DIR",
                   "Model directory to create; required");
    args.addOption({"--hidden"}, "N", "hidden_size (default 256)");
    args.addOption({"--intermediate"}, "N", "intermediate_size (default 512)");
    args.addOption({"--layers"}, "N", "num_hidden_layers (default 2)");
    args.addOption({"--heads"}, "N", "num_attention_heads (default 4)");
    args.addOption({"--kv-heads"}, "N",
                   "num_key_value_heads (default: --heads, no GQA)");
    args.addOption({"--vocab"}, "N", "vocab_size (default 512)");
    args.addOption({"--seed"}, "N", "Random seed (default 0)");
    args.addOption({"--tokens"}, "N",
                   "Calibration tokens per input group (default 256)");
    args.addOption({"--outliers"}, "N",
                   "Outlier input channels per input group (default 4)");
    args.addOption({"--dtype"}, "f16|bf16|f32", "Weight dtype (default f16)");
    args.addOption({"--calibration"}, "FILE",
                   "Calibration file (default DIR/calibration.safetensors)");
    args.addOption({"--shard-size"}, "SIZE",
                   "Split the weights into shards of at most SIZE bytes");
    args.addFlag({"--force"}, "Replace an existing output directory");
    args.addFlag({"--quiet", "-q"}, "Print nothing but errors");
    args.parse(argv);
    if (args.helpRequested()) {
      out << args.usage(
          "Writes a random LLaMA-shaped FP16 model (config.json + "
          "safetensors) and a\ncalibration file whose activations have a few "
          "outlier input channels,\nfor tests and examples of awqc "
          "quantize.");
      return 0;
    }
    SynthOptions options;
    options.output = args.required("--output");
    constexpr int64_t kBig = int64_t(1) << 40; // Range checks come later.
    options.hidden =
        args.intValue("--hidden", 1, kBig).value_or(options.hidden);
    options.intermediate =
        args.intValue("--intermediate", 1, kBig).value_or(options.intermediate);
    options.layers =
        args.intValue("--layers", 1, kBig).value_or(options.layers);
    options.heads = args.intValue("--heads", 1, kBig).value_or(options.heads);
    options.kvHeads =
        args.intValue("--kv-heads", 1, kBig).value_or(options.kvHeads);
    options.vocab = args.intValue("--vocab", 1, kBig).value_or(options.vocab);
    options.seed = static_cast<uint64_t>(
        args.intValue("--seed", 0, INT64_MAX).value_or(0));
    options.tokens =
        args.intValue("--tokens", 1, kBig).value_or(options.tokens);
    options.outliers =
        args.intValue("--outliers", 0, kBig).value_or(options.outliers);
    if (std::optional<std::string> dtype =
            args.choiceValue("--dtype", {"f16", "bf16", "f32"}))
      options.dtype = *dtype == "f16"    ? DType::F16
                      : *dtype == "bf16" ? DType::BF16
                                         : DType::F32;
    options.calibration = args.value("--calibration").value_or("");
    options.maxShardBytes = args.byteSizeValue("--shard-size").value_or(0);
    options.overwrite = args.flag("--force");
    const SynthResult result = writeSyntheticModel(options);
    if (!args.flag("--quiet"))
      out << "wrote " << options.output << ": LlamaForCausalLM, "
          << result.parameters << " parameters, hidden " << options.hidden
          << ", intermediate " << options.intermediate << ", " << options.layers
          << " layers; calibration " << result.calibration << " ("
          << result.inputGroups << " input groups x " << options.tokens
          << " tokens)\n";
    return 0;
  });
}

} // namespace awq
