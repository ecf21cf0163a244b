//===- GemvKernelConfig.cpp - Plan, check and emit one GEMV kernel --------===//

#include "compiler/repack/GemvKernelConfig.h"

#include "runtime/support/Error.h"

#include <cctype>
#include <limits>
#include <sstream>

namespace awq {

namespace {

bool isPowerOfTwo(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

std::string boolText(bool b) { return b ? "true" : "false"; }

bool isIdentifier(const std::string &s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0])))
    return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
      return false;
  return true;
}

} // namespace

void GemvKernelConfig::validate(const std::string &what) const {
  auto fail = [&](const std::string &field, const std::string &expected) {
    throw Error(what + ": GEMV config field '" + field + "' " + expected);
  };
  constexpr int64_t kIntMax = std::numeric_limits<int>::max();
  if (k <= 0 || k > kIntMax)
    fail("k", "must be in [1, 2^31), got " + std::to_string(k));
  if (n <= 0 || n > kIntMax)
    fail("n", "must be in [1, 2^31), got " + std::to_string(n));
  if (bits != 3 && bits != 4 && bits != 8)
    fail("bits", "must be 3, 4 or 8, got " + std::to_string(bits));
  if (groupSize != k &&
      (groupSize <= 0 || groupSize % 32 != 0 || k % groupSize != 0))
    fail("groupSize", "must be K = " + std::to_string(k) +
                          " or a multiple of 32 dividing K, got " +
                          std::to_string(groupSize));
  if (threadsPerBlock < 32 || threadsPerBlock > 1024 ||
      threadsPerBlock % 32 != 0)
    fail("threadsPerBlock", "must be a multiple of 32 in [32, 1024], got " +
                                std::to_string(threadsPerBlock));
  if (!isPowerOfTwo(colsPerWarp))
    fail("colsPerWarp",
         "must be a power of two, got " + std::to_string(colsPerWarp));
  if (maxRows != 1 && maxRows != 2 && maxRows != 4 && maxRows != 8)
    fail("maxRows", "must be 1, 2, 4 or 8, got " + std::to_string(maxRows));
  if (colsPerWarp * maxRows > 32)
    fail("colsPerWarp", "times maxRows must be <= 32, got " +
                            std::to_string(colsPerWarp) + " * " +
                            std::to_string(maxRows));
  if (siluMul && (n % 2 != 0 || colsPerWarp % 2 != 0))
    fail("siluMul", "needs an even n and an even colsPerWarp, got n = " +
                        std::to_string(n) +
                        ", colsPerWarp = " + std::to_string(colsPerWarp));
  if (kSplit < 1 || kSplit > tiles() ||
      (kSplit - 1) * tilesPerSplit() >= tiles())
    fail("kSplit", "must give every split at least one of the " +
                       std::to_string(tiles()) + " 1024-wide K tiles, got " +
                       std::to_string(kSplit));
  if (gridX() > 0x7fffffff)
    fail("n", "gives too many column blocks");
}

int64_t GemvKernelConfig::weightBytes() const {
  const int64_t groups = groupSize == k ? 1 : k / groupSize;
  return n * units() * bits * 4 + n * groups * 2 * (zeroPoint ? 2 : 1);
}

std::string GemvKernelConfig::typeName() const {
  std::ostringstream s;
  s << "awq::GemvConfig<" << k << ", " << n << ", " << bits << ", " << groupSize
    << ", " << boolText(zeroPoint) << ", " << threadsPerBlock << ", "
    << colsPerWarp << ", " << kSplit << ", " << maxRows << ", "
    << boolText(actScale) << ", " << boolText(bias) << ", "
    << boolText(residual) << ", " << boolText(siluMul) << ">";
  return s.str();
}

std::string
GemvKernelConfig::kernelSource(const std::string &kernelName) const {
  if (!isIdentifier(kernelName))
    throw Error("GEMV kernel name '" + kernelName + "' is not a C identifier");
  validate("GEMV kernel " + kernelName);
  std::ostringstream s;
  s << "// GEMV kernel " << kernelName << ": K = " << k << ", N = " << n << ", "
    << bits << "-bit, group " << groupSize << "\n"
    << "#include \"awq/gemv.cuh\"\n"
    << "AWQ_GEMV_KERNEL(" << kernelName << ", " << typeName() << ")\n";
  return s.str();
}

GemvKernelConfig planGemvTiling(GemvKernelConfig layer, int maxRows,
                                int smCount) {
  if (maxRows < 1 || maxRows > 8)
    throw Error("planGemvTiling: maxRows must be in [1, 8], got " +
                std::to_string(maxRows));
  if (smCount < 1)
    throw Error("planGemvTiling: smCount must be positive, got " +
                std::to_string(smCount));
  int rows = 1;
  while (rows < maxRows)
    rows *= 2;
  layer.maxRows = rows;
  // Registers per thread grow with columns x (rows + weight words): 4
  // columns per warp (each staged x shared by more columns) while that stays
  // near 128 registers without spills, else 2.
  layer.colsPerWarp = (rows <= 2 && layer.bits <= 4) || rows == 1 ? 4 : 2;
  layer.threadsPerBlock = 256;
  layer.kSplit = 1;
  if (layer.n <= 0 || layer.k <= 0) {
    layer.validate("planGemvTiling"); // Reports the bad shape.
  }
  // Small layers: smaller blocks until even the finest split gives every SM
  // two blocks (larger blocks share each staged x over more columns).
  while (layer.gridX() * layer.tiles() < 2LL * smCount &&
         layer.threadsPerBlock > 64)
    layer.threadsPerBlock /= 2;
  // Split K until about four blocks per SM are available.
  const int64_t target = 4LL * smCount;
  int64_t split = (target + layer.gridX() - 1) / layer.gridX();
  if (split > layer.tiles())
    split = layer.tiles();
  if (split < 1)
    split = 1;
  const int64_t perSplit = (layer.tiles() + split - 1) / split;
  layer.kSplit = static_cast<int>((layer.tiles() + perSplit - 1) / perSplit);
  layer.validate("planGemvTiling");
  return layer;
}

} // namespace awq
