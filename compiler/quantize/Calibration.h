//===- Calibration.h - The calibration activations of awqc quantize -------===//
//
// A calibration file (docs/quantization.md) is a safetensors file with one
// [tokens, K] tensor per input group, named after the group's first linear.
// This finds and checks the tensor of every group before any work starts, so
// a wrong or truncated file fails in a second, not after an hour.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_QUANTIZE_CALIBRATION_H
#define AWQ_COMPILER_QUANTIZE_CALIBRATION_H

#include "compiler/formats/ModelDescription.h"
#include "runtime/formats/SafeTensors.h"

#include <map>
#include <string>
#include <vector>

namespace awq {

/// The `format` metadata value of calibration files.
constexpr const char *kCalibrationFormat = "awqc-calibration";

class CalibrationSet {
public:
  /// Opens and validates `path` (throws awq::Error naming it). When present,
  /// the `format` metadata must be "awqc-calibration" and `version` "1".
  explicit CalibrationSet(const std::string &path);

  /// The activations of `group`: the tensor named after the group's first
  /// layer (or, failing that, after the group itself), with dtype F16, BF16
  /// or F32, shape [tokens >= 1, K]. When the file's `groups` metadata lists
  /// that tensor, its layers must be the group's. Throws awq::Error naming
  /// the file, the tensor and what was expected.
  const TensorView &
  tensorFor(const InputGroup &group,
            const std::vector<const LayerDescription *> &layers) const;

  const std::string &path() const { return file_.path(); }

private:
  SafeTensorsFile file_;
  /// From the `groups` metadata: tensor name -> linears of its group.
  std::map<std::string, std::vector<std::string>> groups_;
};

} // namespace awq

#endif // AWQ_COMPILER_QUANTIZE_CALIBRATION_H
