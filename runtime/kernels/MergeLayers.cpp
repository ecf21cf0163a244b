//===- MergeLayers.cpp - Merge quantized layers that share one input ------===//

#include "runtime/kernels/MergeLayers.h"

#include "runtime/support/Error.h"

namespace awq {

namespace {

/// Where output column `column` of the merged layer comes from.
struct ColumnSource {
  const QuantizedLinear *layer;
  int64_t column;
};

/// Builds the merged layer from `sources` (one per output column), after
/// checking that all `parts` agree on K, bits and group size.
QuantizedLinear mergeColumns(const std::vector<const QuantizedLinear *> &parts,
                             const std::vector<ColumnSource> &sources,
                             const std::string &what) {
  const QuantizedLinear &first = *parts.front();
  bool anyZeroPoint = false;
  bool anyBias = false;
  for (size_t i = 0; i < parts.size(); ++i) {
    const QuantizedLinear &part = *parts[i];
    const std::string name = what + " part " + std::to_string(i);
    validate(part, name);
    if (part.k != first.k)
      throw Error(name + ": K = " + std::to_string(part.k) +
                  " differs from part 0's K = " + std::to_string(first.k));
    if (part.params.bits != first.params.bits)
      throw Error(name + ": bits = " + std::to_string(part.params.bits) +
                  " differ from part 0's " + std::to_string(first.params.bits));
    if (part.params.groupSize != first.params.groupSize)
      throw Error(
          name + ": group size " + std::to_string(part.params.groupSize) +
          " differs from part 0's " + std::to_string(first.params.groupSize));
    if (part.activation != first.activation)
      throw Error(name + ": " + activationTypeName(part.activation) +
                  " scales differ from part 0's " +
                  activationTypeName(first.activation));
    anyZeroPoint = anyZeroPoint || part.params.zeroPoint;
    anyBias = anyBias || !part.bias.empty();
  }

  QuantizedLinear out;
  out.k = first.k;
  out.n = static_cast<int64_t>(sources.size());
  out.params = first.params;
  out.params.zeroPoint = anyZeroPoint;
  out.activation = first.activation;
  const int64_t n = out.n;
  const int64_t groups = out.numGroups();
  out.q.resize(static_cast<size_t>(out.k * n));
  out.scales.resize(static_cast<size_t>(groups * n));
  if (anyZeroPoint)
    out.zeros.resize(static_cast<size_t>(groups * n));
  if (anyBias)
    out.bias.assign(static_cast<size_t>(n), 0);

  // Row by row, so both sides are read and written nearly sequentially.
  for (int64_t kk = 0; kk < out.k; ++kk)
    for (int64_t c = 0; c < n; ++c) {
      const ColumnSource &from = sources[static_cast<size_t>(c)];
      out.q[static_cast<size_t>(kk * n + c)] =
          from.layer->q[static_cast<size_t>(kk * from.layer->n + from.column)];
    }
  for (int64_t c = 0; c < n; ++c) {
    const QuantizedLinear &src = *sources[static_cast<size_t>(c)].layer;
    const int64_t sc = sources[static_cast<size_t>(c)].column;
    for (int64_t g = 0; g < groups; ++g) {
      out.scales[static_cast<size_t>(g * n + c)] =
          src.scales[static_cast<size_t>(g * src.n + sc)];
      if (anyZeroPoint)
        out.zeros[static_cast<size_t>(g * n + c)] =
            static_cast<uint8_t>(src.zeroAt(g, sc));
    }
    if (anyBias && !src.bias.empty())
      out.bias[static_cast<size_t>(c)] = src.bias[static_cast<size_t>(sc)];
  }
  return out;
}

} // namespace

QuantizedLinear concatColumns(const std::vector<const QuantizedLinear *> &parts,
                              const std::string &what) {
  if (parts.empty())
    throw Error(what + ": nothing to concatenate");
  std::vector<ColumnSource> sources;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i])
      throw Error(what + ": part " + std::to_string(i) + " is null");
    for (int64_t c = 0; c < parts[i]->n; ++c)
      sources.push_back({parts[i], c});
  }
  return mergeColumns(parts, sources, what);
}

QuantizedLinear interleaveGateUp(const QuantizedLinear &gate,
                                 const QuantizedLinear &up,
                                 const std::string &what) {
  if (gate.n != up.n)
    throw Error(what + ": gate has N = " + std::to_string(gate.n) +
                " columns but up has N = " + std::to_string(up.n));
  std::vector<ColumnSource> sources;
  sources.reserve(static_cast<size_t>(2 * gate.n));
  for (int64_t c = 0; c < gate.n; ++c) {
    sources.push_back({&gate, c});
    sources.push_back({&up, c});
  }
  return mergeColumns({&gate, &up}, sources, what);
}

} // namespace awq
