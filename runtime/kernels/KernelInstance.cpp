//===- KernelInstance.cpp - One instance of a device-library kernel -------===//
#include "runtime/kernels/KernelInstance.h"

#include "runtime/kernels/KernelPlan.h"
#include "runtime/support/Error.h"

#include <cctype>

namespace awq {
namespace {

const char *boolText(bool value) { return value ? "true" : "false"; }
std::string str(int64_t value) { return std::to_string(value); }

} // namespace

bool isKernelName(const std::string &name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])))
    return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
      return false;
  // Reserved identifiers (__global__, _Kernel) would clash with the
  // implementation's names.
  return !(name[0] == '_' &&
           (name.size() == 1 || name[1] == '_' ||
            std::isupper(static_cast<unsigned char>(name[1]))));
}

namespace {

/// CUDA's grid limits: 2^31 - 1 blocks along x, 65535 along y and z.
constexpr int64_t kMaxGridX = 0x7fffffff;
constexpr int64_t kMaxGridYZ = 65535;

} // namespace

const char *familyName(KernelFamily family) {
  return family == KernelFamily::Gemv ? "gemv" : "gemm";
}

KernelInstance KernelInstance::makeGemv(const LinearShape &shape,
                                        const GemvParams &params) {
  KernelInstance instance;
  instance.family = KernelFamily::Gemv;
  instance.shape = shape;
  instance.gemv = params;
  return instance;
}

KernelInstance KernelInstance::makeGemm(const LinearShape &shape,
                                        const GemmParams &params) {
  KernelInstance instance;
  instance.family = KernelFamily::Gemm;
  instance.shape = shape;
  instance.gemm = params;
  return instance;
}

bool parseActivationType(const std::string &name, ActivationType &type) {
  for (ActivationType t : {ActivationType::F16, ActivationType::BF16})
    if (name == activationTypeName(t)) {
      type = t;
      return true;
    }
  return false;
}

std::string KernelInstance::check() const {
  return family == KernelFamily::Gemv ? checkGemv(shape, gemv)
                                      : checkGemm(shape, gemm);
}

/// The config's trailing template argument: only bf16 spells it, so fp16
/// instances keep their keys (and cache entries).
static std::string activationArgument(const LinearShape &s,
                                      bool commented = false) {
  if (s.activation == ActivationType::F16)
    return "";
  return std::string(commented ? ",\n    /*Activation=*/" : ", ") +
         "awq::ActivationType::BF16";
}

std::string KernelInstance::configType() const {
  const LinearShape &s = shape;
  std::string text =
      family == KernelFamily::Gemv ? "awq::GemvConfig<" : "awq::GemmConfig<";
  text += str(s.k) + ", " + str(s.n) + ", " + str(s.bits) + ", " +
          str(s.group) + ", " + boolText(s.zeroPoint) + ", ";
  if (family == KernelFamily::Gemv)
    text += str(gemv.threads) + ", " + str(gemv.colsPerWarp) + ", " +
            str(gemv.kSplit) + ", " + str(gemv.maxRows) + ", ";
  else
    text += str(gemm.tileM) + ", " + str(gemm.tileN) + ", " + str(gemm.tileK) +
            ", " + str(gemm.warpsM) + ", " + str(gemm.warpsN) + ", " +
            str(gemm.stages) + ", " + str(gemm.splitK) + ", ";
  text += std::string(boolText(s.actScale)) + ", " + boolText(s.bias) + ", " +
          boolText(s.residual) + ", " + boolText(s.siluMul) +
          activationArgument(s) + ">";
  return text;
}

std::string KernelInstance::suggestedName() const {
  const LinearShape &s = shape;
  std::string name = std::string(familyName(family)) + "_k" + str(s.k) + "_n" +
                     str(s.n) + "_b" + str(s.bits) + "_g" +
                     (s.group == s.k ? std::string("k") : str(s.group)) +
                     (s.zeroPoint ? "_zp" : "_sym");
  if (s.actScale)
    name += "_act";
  if (s.bias)
    name += "_bias";
  if (s.siluMul)
    name += "_silu";
  if (s.residual)
    name += "_res";
  if (s.activation != ActivationType::F16)
    name += std::string("_") + activationTypeName(s.activation);
  if (family == KernelFamily::Gemv)
    name += "_t" + str(gemv.threads) + "c" + str(gemv.colsPerWarp) + "s" +
            str(gemv.kSplit) + "r" + str(gemv.maxRows);
  else
    name += "_m" + str(gemm.tileM) + "n" + str(gemm.tileN) + "k" +
            str(gemm.tileK) + "w" + str(gemm.warpsM) + "x" + str(gemm.warpsN) +
            "s" + str(gemm.stages) + "sk" + str(gemm.splitK);
  return name;
}

int64_t KernelInstance::threads() const {
  return family == KernelFamily::Gemv ? gemv.threads
                                      : gemmGeometry(shape, gemm).threads;
}

int64_t KernelInstance::sharedBytes() const {
  return family == KernelFamily::Gemv ? gemvGeometry(shape, gemv).sharedBytes
                                      : gemmGeometry(shape, gemm).sharedBytes;
}

WeightBuffers weightBuffers(KernelFamily family, const LinearShape &shape) {
  return family == KernelFamily::Gemv ? gemvBuffers(shape) : gemmBuffers(shape);
}

int64_t KernelInstance::weightBytes() const {
  return family == KernelFamily::Gemv ? gemvGeometry(shape, gemv).weightBytes
                                      : gemmGeometry(shape, gemm).weightBytes;
}

KernelLaunch KernelInstance::launch(int64_t m) const {
  if (m < 1)
    throw Error("kernel launch: M must be at least 1, got " + str(m));
  KernelLaunch launch;
  if (family == KernelFamily::Gemv) {
    const GemvGeometry g = gemvGeometry(shape, gemv);
    launch.gridX = g.gridX;
    launch.gridY = g.gridY;
    launch.gridZ = g.gridZ(m);
    launch.threads = g.threads;
    launch.sharedBytes = g.sharedBytes;
    launch.workspaceFloats = g.workspaceFloats(m);
    launch.counters = g.counterCount(m);
  } else {
    const GemmGeometry g = gemmGeometry(shape, gemm);
    launch.gridX = g.gridX;
    launch.gridY = g.gridY(m);
    launch.gridZ = g.gridZ(m);
    launch.threads = g.threads;
    launch.sharedBytes = g.sharedBytes;
    launch.workspaceFloats = g.workspaceFloats(m);
    launch.counters = g.counterCount(m);
  }
  if (launch.gridX > kMaxGridX || launch.gridY > kMaxGridYZ ||
      launch.gridZ > kMaxGridYZ)
    throw Error("kernel launch: M = " + str(m) + " needs a grid of (" +
                str(launch.gridX) + ", " + str(launch.gridY) + ", " +
                str(launch.gridZ) +
                ") blocks, beyond CUDA's limits (2^31 - 1, 65535, 65535)");
  return launch;
}

KernelInstance::LaunchFormula KernelInstance::launchFormula() const {
  // launch(m) is the one geometry computation; M = 1 gives the dimensions
  // that do not depend on M.
  const KernelLaunch one = launch(1);
  LaunchFormula formula;
  formula.grid[0] = one.gridX;
  formula.grid[1] = one.gridY;
  formula.grid[2] = one.gridZ;
  formula.rowAxis = family == KernelFamily::Gemv ? 2 : 1;
  formula.rowsPerBlock =
      family == KernelFamily::Gemv ? gemv.maxRows : gemm.tileM;
  formula.splitK = family == KernelFamily::Gemv ? gemv.kSplit : gemm.splitK;
  formula.splitShrinksWithM = family == KernelFamily::Gemm && gemm.splitK > 1;
  formula.threads = one.threads;
  formula.sharedBytes = one.sharedBytes;
  return formula;
}

std::string KernelInstance::LaunchFormula::rowText() const {
  return rowsPerBlock == 1 ? std::string("M")
                           : "ceil(M / " + str(rowsPerBlock) + ")";
}

std::string KernelInstance::LaunchFormula::splitText() const {
  return splitShrinksWithM ? "max(1, floor(" + str(splitK) + " / ceil(M / " +
                                 str(rowsPerBlock) + ")))"
                           : str(grid[2]);
}

int64_t KernelInstance::LaunchFormula::splits(int64_t m) const {
  return splitShrinksWithM ? gemmSplits(splitK, rowsPerBlock, m) : splitK;
}

std::string KernelInstance::describeLaunch() const {
  const LaunchFormula f = launchFormula();
  std::string grid;
  for (int axis = 0; axis < 3; ++axis)
    grid += (axis ? ", " : "") + (axis == f.rowAxis ? f.rowText()
                                  : axis == 2       ? f.splitText()
                                                    : str(f.grid[axis]));
  return "grid (" + grid + "), block " + str(f.threads) + ", " +
         str(f.sharedBytes) + " bytes of dynamic shared memory" +
         (f.splitK > 1 ? std::string("; split-K workspace M x N floats and "
                                     "one counter per block column and row "
                                     "block, all zero") +
                             (f.splitShrinksWithM ? ", while grid z > 1" : "")
                       : "");
}

std::string KernelInstance::source(const std::string &name) const {
  if (!isKernelName(name))
    throw Error("kernel name '" + name +
                "' is not a C identifier (letters, digits and '_', not "
                "starting with a digit, '__' or '_' and a capital)");
  if (std::string why = check(); !why.empty())
    throw Error("kernel " + name + ": " + why);
  const LinearShape &s = shape;
  std::string text = "// awqc kernel " + name + "\n// " + familyName(family) +
                     ": K = " + str(s.k) + ", N = " + str(s.n) +
                     " (output columns " + str(s.nOut()) + "), " + str(s.bits) +
                     "-bit, ";
  text += s.group == s.k ? "one group per column" : "group " + str(s.group);
  text += s.zeroPoint ? ", zero point" : ", symmetric";
  if (s.activation != ActivationType::F16)
    text +=
        std::string(", ") + activationTypeName(s.activation) + " activations";
  if (s.actScale)
    text += ", activation scale";
  if (s.bias)
    text += ", bias";
  if (s.siluMul)
    text += ", SiLU(gate) * up";
  if (s.residual)
    text += ", residual add";
  text += "\n// Launch: " + describeLaunch() + "\n";
  const std::string config = name + "_config";
  if (family == KernelFamily::Gemv) {
    const GemvParams &p = gemv;
    text += "#include \"awq/gemv.cuh\"\n\nusing " + config +
            " = awq::GemvConfig<\n    /*K=*/" + str(s.k) + ", /*N=*/" +
            str(s.n) + ", /*Bits=*/" + str(s.bits) + ", /*GroupSize=*/" +
            str(s.group) + ",\n    /*HasZeroPoint=*/" + boolText(s.zeroPoint) +
            ", /*ThreadsPerBlock=*/" + str(p.threads) + ", /*ColsPerWarp=*/" +
            str(p.colsPerWarp) + ",\n    /*KSplit=*/" + str(p.kSplit) +
            ", /*MaxRows=*/" + str(p.maxRows) + ", /*HasActScale=*/" +
            boolText(s.actScale) + ",\n    /*HasBias=*/" + boolText(s.bias) +
            ", /*HasResidual=*/" + boolText(s.residual) + ", /*SiluMul=*/" +
            boolText(s.siluMul) + activationArgument(s, true) +
            ">;\n\nAWQ_GEMV_KERNEL(" + name + ", " + config + ")\n";
    return text;
  }
  const GemmParams &p = gemm;
  const GemmGeometry g = gemmGeometry(s, p);
  const int64_t smallRows = gemmSmallBodyRows(s, p);
  text += "// K loop: " + str(g.kTiles) + " tiles of " + str(p.tileK) + ", " +
          str(p.stages) + "-stage cp.async pipeline, dequantization: " +
          gemmDequantName(s.bits) + "\n// Row bodies: " +
          (smallRows ? "M <= " + str(smallRows) + " (warp rows share K), "
                     : std::string()) +
          str(p.tileM) +
          " rows per block\n#include \"awq/gemm.cuh\"\n\nusing " + config +
          " = awq::GemmConfig<\n    /*K=*/" + str(s.k) + ", /*N=*/" + str(s.n) +
          ", /*Bits=*/" + str(s.bits) + ", /*GroupSize=*/" + str(s.group) +
          ",\n    /*HasZeroPoint=*/" + boolText(s.zeroPoint) + ", /*TileM=*/" +
          str(p.tileM) + ", /*TileN=*/" + str(p.tileN) + ", /*TileK=*/" +
          str(p.tileK) + ",\n    /*WarpsM=*/" + str(p.warpsM) +
          ", /*WarpsN=*/" + str(p.warpsN) + ", /*Stages=*/" + str(p.stages) +
          ", /*SplitK=*/" + str(p.splitK) + ",\n    /*HasActScale=*/" +
          boolText(s.actScale) + ", /*HasBias=*/" + boolText(s.bias) +
          ", /*HasResidual=*/" + boolText(s.residual) + ", /*SiluMul=*/" +
          boolText(s.siluMul) + activationArgument(s, true) +
          ">;\n\nAWQ_GEMM_KERNEL(" + name + ", " + config + ")\n";
  return text;
}

} // namespace awq
