//===- Commands.cpp - The awqc subcommands quantize, inspect and synth ----===//

#include "compiler/commands/Commands.h"

#include "compiler/commands/Inspect.h"
#include "compiler/commands/Interrupt.h"
#include "compiler/commands/ProgressDisplay.h"
#include "compiler/frontend/AwqcOptions.h"
#include "compiler/frontend/CommandLine.h"
#include "compiler/frontend/OutputStaging.h"
#include "compiler/quantize/Cancellation.h"
#include "compiler/quantize/QuantizeJournal.h"
#include "compiler/quantize/QuantizeModel.h"
#include "compiler/quantize/QuantizeReport.h"
#include "compiler/quantize/SyntheticModel.h"
#include "runtime/support/Error.h"

#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <new>

namespace awq {

namespace fs = std::filesystem;

namespace {

using namespace awqc_options;

/// A progress line only makes sense on the process's own terminal.
bool isTerminal(const std::ostream &err) {
  return &err == &std::cerr && ::isatty(STDERR_FILENO) == 1;
}

CommandArguments parse(const char *command, const char *subcommand,
                       std::vector<std::string> positionals,
                       const std::vector<std::string> &argv) {
  return CommandArguments(table(),
                          {command, subcommand, OPT_help,
                           std::move(positionals), /*repeatable=*/{}},
                          argv);
}

constexpr const char *kQuantizeSummary =
    "Quantizes an FP16/BF16/F32 LLaMA-style model (a Hugging Face directory "
    "or a\nmodel description JSON) with AWQ into an AutoAWQ-format "
    "checkpoint directory:\nconfig.json with quantization_config, "
    "safetensors, and model.json (the model\ndescription the awqc compiler "
    "reads). Prints a per-layer error report.\n\nThe run keeps its state in "
    "a hidden .OUT.awqc-partial directory next to\nthe output: if it is "
    "killed or interrupted (Ctrl-C) after an input group is\nfinished, "
    "rerun the same command with --resume to continue from there (the\n"
    "inputs and options must be the same; what differs is listed). The "
    "output\nappears only when complete.\n\nMODEL: a Hugging Face "
    "checkpoint directory (LLaMA, Mistral, Qwen2) or a\nmodel description "
    "JSON.";

} // namespace

int runQuantizeCommand(const std::vector<std::string> &argv, std::ostream &out,
                       std::ostream &err) {
  const char *command = "awqc quantize";
  return runGuarded(command, err, [&]() -> int {
    const CommandArguments args = parse(command, "quantize", {"MODEL"}, argv);
    if (args.helpRequested()) {
      args.printHelp(out, "", kQuantizeSummary);
      return 0;
    }

    ModelQuantizeOptions options;
    options.model = args.positionals()[0];
    options.calibration = args.required(OPT_calibration);
    options.output = args.required(OPT_output);
    if (std::optional<std::string> bits =
            args.choiceValue(OPT_weight_bits, {"3", "4", "8"}))
      options.settings.bits = std::stoi(*bits);
    if (std::optional<int64_t> group =
            args.intValue(OPT_group, -1, int64_t(1) << 31)) {
      if (*group == 0)
        throw UsageError("--group must be a positive group size or -1, "
                         "got 0");
      options.settings.groupSize = *group;
    }
    if (std::optional<std::string> target = args.value(OPT_target_bits)) {
      char *end = nullptr;
      const double value = std::strtod(target->c_str(), &end);
      if (target->empty() || end != target->c_str() + target->size() ||
          !std::isfinite(value) || value < 3 || value > 8)
        throw UsageError("--target-bits must be a number from 3 to 8 (the "
                         "narrowest and the widest width), got '" +
                         *target + "'");
      if (options.settings.bits)
        throw UsageError("--target-bits chooses each input group's bits; "
                         "give it or --bits, not both");
      options.targetBits = value;
    }
    options.copyUnlisted = args.flag(OPT_copy_unlisted);
    if (args.flag(OPT_symmetric))
      options.settings.zeroPoint = false;
    if (std::optional<std::string> method =
            args.choiceValue(OPT_method, {"awq", "rtn", "gptq", "awq-gptq"}))
      options.method = *parseQuantizeMethod(*method);
    options.actOrder = args.flag(OPT_act_order);
    if (options.actOrder && !usesGptq(options.method))
      throw UsageError("--act-order applies to --method gptq and awq-gptq, "
                       "not " +
                       std::string(methodName(options.method)));
    if (std::optional<std::string> formula =
            args.choiceValue(OPT_scale_formula, {"duo", "activation"}))
      options.formula =
          *formula == "duo" ? ScaleFormula::Duo : ScaleFormula::ActivationOnly;
    if (std::optional<std::string> scaleSearch =
            args.choiceValue(OPT_scale_search, {"gptq", "rtn"})) {
      if (options.method != QuantizeMethod::AwqGptq)
        throw UsageError("--scale-search applies to --method awq-gptq, not " +
                         std::string(methodName(options.method)));
      options.gptqAwareScales = *scaleSearch == "gptq";
    }
    options.clip = !args.flag(OPT_no_clip);
    if (std::optional<std::string> clipSearch = args.choiceValue(
            OPT_clip_search, {"asymmetric", "exhaustive", "autoawq"})) {
      if (!searchesScales(options.method) || !options.clip)
        throw UsageError("--clip-search applies to --method awq and awq-gptq "
                         "with the clip search on");
      for (ClipSearchKind kind :
           {ClipSearchKind::AutoAwq, ClipSearchKind::Asymmetric,
            ClipSearchKind::Exhaustive})
        if (*clipSearch == clipSearchName(kind))
          options.clipSearch = kind;
    }
    if (std::optional<int64_t> screen =
            args.intValue(OPT_scale_screen_rows, 0, int64_t(1) << 31)) {
      if (!searchesScales(options.method))
        throw UsageError("--scale-screen-rows applies to --method awq and "
                         "awq-gptq, not " +
                         std::string(methodName(options.method)));
      options.scaleScreenRows = *screen;
    }
    options.foldOnly = args.flag(OPT_fold_only);
    if (std::optional<int64_t> threads = args.intValue(OPT_threads, 1, 4096))
      options.threads = static_cast<int>(*threads);
    if (std::optional<uint64_t> shard = args.byteSizeValue(OPT_shard_size))
      options.maxShardBytes = *shard;
    options.overwrite = args.flag(OPT_force);
    options.resume = args.flag(OPT_resume);
    // Tests only: die as a crash would, right after the k-th finished group
    // is journaled (test/lit/awqc/resume.test).
    if (const char *kill = std::getenv("AWQC_TEST_KILL_AFTER_GROUPS")) {
      const size_t after = std::strtoull(kill, nullptr, 10);
      options.afterGroupJournaled = [after](size_t finished) {
        if (finished >= after)
          ::raise(SIGKILL);
      };
    }
    const bool quiet = args.flag(OPT_quiet);
    const std::optional<std::string> reportPath = args.value(OPT_report);
    OutputRules reportRules;
    reportRules.command = command;
    reportRules.force = options.overwrite;
    reportRules.inputs = {options.model, options.calibration, options.output};
    reportRules.isEarlierOutput = [](const fs::path &file) {
      return fileContains(file, "\"awqc_quantize_report\"");
    };
    reportRules.earlierOutput = "a JSON report of awqc quantize";
    if (reportPath)
      checkOutputFile(*reportPath, reportRules);

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
          << options.output;
      const std::string state = QuantizeJournal::directoryFor(options.output);
      std::error_code ec;
      if (fs::exists(state, ec))
        err << "; the finished input groups are kept in " << state
            << ": rerun with --resume to continue";
      err << "\n";
      return interrupt.exitCode();
    }
    if (progress)
      progress->finish();

    if (reportPath)
      writeOutputFile(*reportPath, reportToJson(result).dump(2) + "\n",
                      reportRules);
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
  return runGuarded(command, err, [&]() -> int {
    const CommandArguments args = parse(command, "inspect", {"PATH"}, argv);
    if (args.helpRequested()) {
      args.printHelp(out, "",
                     "Summarises a safetensors file, a checkpoint directory "
                     "(quantized: layers, bits,\ngroup size, zero point, "
                     "sizes; unquantized: tensors) or a model description\n"
                     "(input groups, layers, epilogues).\n\nPATH: a "
                     ".safetensors file, a checkpoint directory or a model "
                     "description JSON.");
      return 0;
    }
    const nlohmann::json summary = inspectPath(args.positionals()[0]);
    if (args.flag(OPT_json))
      out << summary.dump(2) << "\n";
    else
      out << formatInspection(summary);
    return 0;
  });
}

int runSynthCommand(const std::vector<std::string> &argv, std::ostream &out,
                    std::ostream &err) {
  const char *command = "awqc synth";
  return runGuarded(command, err, [&]() -> int {
    const CommandArguments args = parse(command, "synth", {}, argv);
    if (args.helpRequested()) {
      args.printHelp(out, "",
                     "Writes a random LLaMA-shaped FP16 model (config.json + "
                     "safetensors) and a\ncalibration file whose activations "
                     "have a few outlier input channels,\nfor tests and "
                     "examples of awqc quantize.");
      return 0;
    }
    SynthOptions options;
    options.output = args.required(OPT_output);
    constexpr int64_t kBig = int64_t(1) << 40; // Range checks come later.
    options.hidden =
        args.intValue(OPT_hidden, 1, kBig).value_or(options.hidden);
    options.intermediate =
        args.intValue(OPT_intermediate, 1, kBig).value_or(options.intermediate);
    options.layers =
        args.intValue(OPT_layers, 1, kBig).value_or(options.layers);
    options.heads = args.intValue(OPT_heads, 1, kBig).value_or(options.heads);
    options.kvHeads =
        args.intValue(OPT_kv_heads, 1, kBig).value_or(options.kvHeads);
    options.vocab = args.intValue(OPT_vocab, 1, kBig).value_or(options.vocab);
    options.seed = static_cast<uint64_t>(
        args.intValue(OPT_seed, 0, INT64_MAX).value_or(0));
    options.tokens =
        args.intValue(OPT_tokens, 1, kBig).value_or(options.tokens);
    options.outliers =
        args.intValue(OPT_outliers, 0, kBig).value_or(options.outliers);
    if (std::optional<std::string> dtype =
            args.choiceValue(OPT_dtype, {"f16", "bf16", "f32"}))
      options.dtype = *dtype == "f16"    ? DType::F16
                      : *dtype == "bf16" ? DType::BF16
                                         : DType::F32;
    options.calibration = args.value(OPT_calibration).value_or("");
    options.maxShardBytes = args.byteSizeValue(OPT_shard_size).value_or(0);
    options.overwrite = args.flag(OPT_force);
    const SynthResult result = writeSyntheticModel(options);
    if (!args.flag(OPT_quiet))
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
