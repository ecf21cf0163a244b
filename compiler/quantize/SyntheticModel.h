//===- SyntheticModel.h - A random LLaMA-shaped model for tests and demos -===//
//
// `awqc synth` writes a Hugging Face LLaMA directory (config.json plus
// safetensors) with random weights shaped like trained ones (about 1/sqrt(K)
// with a heavy tail, norms near 1) and a calibration file whose activations
// have a few outlier input channels 20-100x larger than the rest, as real
// LLM activations do (the effect AWQ exploits). Everything is a function of
// the seed. Nothing large needs to be committed to exercise the quantizer.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_QUANTIZE_SYNTHETICMODEL_H
#define AWQ_COMPILER_QUANTIZE_SYNTHETICMODEL_H

#include "runtime/formats/DType.h"

#include <cstdint>
#include <string>
#include <vector>

namespace awq {

struct SynthOptions {
  std::string output; ///< Directory to create.
  int64_t hidden = 256;
  int64_t intermediate = 512;
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t kvHeads = 0; ///< 0: as many as heads (no GQA).
  int64_t vocab = 512;
  uint64_t seed = 0;
  /// Calibration tokens per input group.
  int64_t tokens = 256;
  /// Outlier input channels per input group.
  int64_t outliers = 4;
  /// Weight dtype: F16, BF16 or F32.
  DType dtype = DType::F16;
  /// Calibration file; empty: `<output>/calibration.safetensors`.
  std::string calibration;
  uint64_t maxShardBytes = 0; ///< 0: a single model.safetensors.
  bool overwrite = false;
};

struct SynthResult {
  std::vector<std::string> files; ///< Written into `output`.
  std::string calibration;        ///< The calibration file's path.
  uint64_t parameters = 0;
  size_t inputGroups = 0;
  /// Per input group (calibration tensor order): its outlier channels.
  std::vector<std::vector<int64_t>> outlierChannels;
};

/// Validates the options (throws awq::Error naming the option) and writes
/// the model through a temporary directory renamed into place, one tensor at
/// a time: there is no limit on the parameters, but the largest tensor must
/// fit in memory and the files on the disk (throws awq::Error before
/// writing otherwise).
SynthResult writeSyntheticModel(const SynthOptions &options);

} // namespace awq

#endif // AWQ_COMPILER_QUANTIZE_SYNTHETICMODEL_H
