//===- Calibration.cpp - The calibration activations of awqc quantize -----===//

#include "compiler/quantize/Calibration.h"

#include "compiler/formats/JsonFields.h"
#include "runtime/support/Error.h"

#include <algorithm>

namespace awq {

using nlohmann::json;

CalibrationSet::CalibrationSet(const std::string &path) : file_(path) {
  const auto &metadata = file_.metadata();
  auto format = metadata.find("format");
  if (format != metadata.end() && format->second != kCalibrationFormat)
    throw Error(path + ": __metadata__ format is '" + format->second +
                "', expected '" + kCalibrationFormat +
                "' (is this a model checkpoint rather than calibration "
                "activations?)");
  auto version = metadata.find("version");
  if (version != metadata.end() && version->second != "1")
    throw Error(path + ": __metadata__ version is '" + version->second +
                "', this awqc reads calibration format version 1");
  auto groups = metadata.find("groups");
  if (groups == metadata.end())
    return;
  const std::string where = path + " (__metadata__ groups)";
  const json document = parseJsonText(groups->second, where);
  const JsonField root(document, where, "");
  root.requireObject();
  for (auto it = document.begin(); it != document.end(); ++it) {
    const JsonField list = root.field(it.key());
    const size_t count = list.requireArray();
    std::vector<std::string> names;
    for (size_t i = 0; i < count; ++i)
      names.push_back(list.element(i).asName());
    groups_[it.key()] = std::move(names);
  }
}

const TensorView &CalibrationSet::tensorFor(
    const InputGroup &group,
    const std::vector<const LayerDescription *> &layers) const {
  const std::string &first = layers.front()->name;
  const TensorView *view = file_.find(first);
  if (!view)
    view = file_.find(group.name);
  const int64_t k = layers.front()->k;
  const std::string expected =
      "[tokens, K = " + std::to_string(k) + "] (F16, BF16 or F32)";
  if (!view)
    throw Error(file_.path() + ": no calibration tensor for input group '" +
                group.name + "': expected a tensor named '" + first +
                "' (its first linear) " + expected);
  const std::string where = file_.path() + ": tensor '" + view->name +
                            "' (input group '" + group.name + "')";
  if (view->dtype != DType::F16 && view->dtype != DType::BF16 &&
      view->dtype != DType::F32)
    throw Error(where + ": expected dtype F16, BF16 or F32, got " +
                dtypeName(view->dtype));
  if (view->shape.size() != 2 || view->shape[0] < 1 || view->shape[1] != k)
    throw Error(where + ": expected shape " + expected + ", got " +
                dtypeName(view->dtype) + " " + formatShape(view->shape));
  auto listed = groups_.find(view->name);
  if (listed != groups_.end()) {
    std::vector<std::string> want, have = listed->second;
    for (const LayerDescription *layer : layers)
      want.push_back(layer->name);
    std::sort(want.begin(), want.end());
    std::sort(have.begin(), have.end());
    if (want != have) {
      auto join = [](const std::vector<std::string> &names) {
        std::string text;
        for (const std::string &name : names)
          text += (text.empty() ? "" : ", ") + name;
        return text;
      };
      throw Error(where +
                  ": the file's groups metadata says this tensor "
                  "feeds [" +
                  join(have) +
                  "] but the model's group "
                  "has [" +
                  join(want) + "]");
    }
  }
  return *view;
}

} // namespace awq
