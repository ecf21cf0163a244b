//===- AwqOps.cpp - Verifiers and helpers of the awq operations -----------===//
#include "dialects/awq/AwqDialect.h"
#include "dialects/awq/KernelSchedules.h"
#include "runtime/kernels/KernelInstance.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

#include <cctype>
#include <functional>

using namespace mlir;
using namespace mlir::awq;

//===----------------------------------------------------------------------===//
// Shared checks
//===----------------------------------------------------------------------===//

/// Checks that `value` is an activation [M x cols] with a static column count
/// (and equal to `expectedCols` when that is not dynamic).
static LogicalResult
verifyActivation(Operation *op, Value value, StringRef what,
                 int64_t expectedCols = ShapedType::kDynamic) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getRank() != 2)
    return op->emitOpError()
           << what << " must be a 2-D [M x K] tensor, got " << type;
  if (type.isDynamicDim(1))
    return op->emitOpError()
           << what << " must have a static number of columns, got " << type;
  if (!ShapedType::isDynamic(expectedCols) &&
      type.getDimSize(1) != expectedCols)
    return op->emitOpError() << what << " must have " << expectedCols
                             << " columns, got " << type.getDimSize(1);
  return success();
}

/// Checks that `value` is a vector of `expectedLength` elements.
static LogicalResult verifyVector(Operation *op, Value value, StringRef what,
                                  int64_t expectedLength) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getRank() != 1)
    return op->emitOpError() << what << " must be a 1-D tensor, got " << type;
  if (type.getDimSize(0) != expectedLength)
    return op->emitOpError() << what << " must have " << expectedLength
                             << " elements, got " << type.getDimSize(0);
  return success();
}

static Type elementTypeOf(Value value) {
  return cast<ShapedType>(value.getType()).getElementType();
}

/// Checks that `value` (called `what`) has the element type of `reference`
/// (the op's activation, called `referenceWhat`): an op's activations and its
/// 16-bit parameters share one element type, f16 or bf16. Parameters that may
/// be f32 pass `allowF32`.
static LogicalResult verifySameElementType(Operation *op, Value value,
                                           StringRef what, Value reference,
                                           StringRef referenceWhat,
                                           bool allowF32 = false) {
  Type expected = elementTypeOf(reference);
  Type actual = elementTypeOf(value);
  if (actual == expected || (allowF32 && actual.isF32()))
    return success();
  return op->emitOpError() << what << " has element type " << actual
                           << " but the " << referenceWhat << " has "
                           << expected
                           << " (activations and 16-bit parameters share one "
                              "element type)";
}

static bool rowsCompatible(int64_t lhs, int64_t rhs) {
  return ShapedType::isDynamic(lhs) || ShapedType::isDynamic(rhs) || lhs == rhs;
}

static int64_t rowsOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getDimSize(0);
}

static int64_t colsOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getDimSize(1);
}

//===----------------------------------------------------------------------===//
// ExternalOp
//===----------------------------------------------------------------------===//

LogicalResult ExternalOp::verify() {
  if (getTensor().empty())
    return emitOpError("tensor name must not be empty");
  if (getFile() && getFile()->empty())
    return emitOpError("file name, when given, must not be empty");
  if (auto tensor = dyn_cast<RankedTensorType>(getType()))
    if (!tensor.hasStaticShape())
      return emitOpError() << "parameter tensors must have a static shape, got "
                           << tensor;
  return success();
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

LogicalResult mlir::awq::detail::verifyLinearLikeOp(Operation *operation) {
  auto op = cast<LinearLikeOpInterface>(operation);
  QWeightType weight = op.getWeight().getType();
  if (failed(verifyActivation(op, op.getInput(), "input", weight.getK())))
    return failure();
  Value input = op.getInput();
  if (op.getBias() &&
      (failed(verifyVector(op, op.getBias(), "bias", weight.getN())) ||
       failed(verifySameElementType(op, op.getBias(), "bias", input, "input"))))
    return failure();
  if (op.getActScale() &&
      (failed(verifyVector(op, op.getActScale(), "act_scale", weight.getK())) ||
       failed(verifySameElementType(op, op.getActScale(), "act_scale", input,
                                    "input"))))
    return failure();
  if (op.getEpilogue() == Epilogue::silu_mul && weight.getN() % 2 != 0)
    return op.emitOpError() << "silu_mul epilogue needs interleaved gate/up "
                               "columns, but the weight has an odd n = "
                            << weight.getN();
  Value result = operation->getResult(0);
  int64_t outputCols = op.getOutputColumns();
  if (failed(verifyActivation(op, result, "result", outputCols)) ||
      failed(verifySameElementType(op, result, "result", input, "input")))
    return failure();
  if (!rowsCompatible(rowsOf(op.getInput()), rowsOf(result)))
    return op.emitOpError()
           << "result rows (" << rowsOf(result) << ") differ from input rows ("
           << rowsOf(op.getInput()) << ")";
  if (op.getResidual()) {
    if (failed(
            verifyActivation(op, op.getResidual(), "residual", outputCols)) ||
        failed(verifySameElementType(op, op.getResidual(), "residual", input,
                                     "input")))
      return failure();
    if (!rowsCompatible(rowsOf(op.getResidual()), rowsOf(result)))
      return op.emitOpError()
             << "residual rows (" << rowsOf(op.getResidual())
             << ") differ from result rows (" << rowsOf(result) << ")";
  }
  return success();
}

LogicalResult LinearOp::verify() {
  if (auto minM = getGemmMinM()) {
    if (*minM < 1)
      return emitOpError() << "gemm_min_m must be at least 1, got " << *minM;
    if (!getGemm())
      return emitOpError("gemm_min_m needs a gemm kernel configuration");
    if (*minM > 1 && !getGemv())
      return emitOpError() << "gemm_min_m = " << *minM
                           << " sends small batches to a gemv kernel, but "
                              "no gemv configuration is attached";
  }
  // An attached configuration must fit the layer as the kernel op it lowers
  // to will (awq-lower-to-kernels keeps the shape): the kernel contract is
  // the one rule for both.
  if (GemvConfigAttr gemv = getGemvAttr()) {
    std::string why = ::awq::checkGemv(getLinearShape(), gemvParamsOf(gemv));
    if (!why.empty())
      return emitOpError() << "gemv configuration does not fit the layer: "
                           << why;
  }
  if (GemmConfigAttr gemm = getGemmAttr()) {
    std::string why = ::awq::checkGemm(getLinearShape(), gemmParamsOf(gemm));
    if (!why.empty())
      return emitOpError() << "gemm configuration does not fit the layer: "
                           << why;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Norms and elementwise ops
//===----------------------------------------------------------------------===//

template <typename NormOp> static LogicalResult verifyNorm(NormOp op) {
  if (failed(verifyActivation(op, op.getInput(), "input")))
    return failure();
  int64_t cols = colsOf(op.getInput());
  if (failed(verifyVector(op, op.getWeight(), "weight", cols)) ||
      failed(verifySameElementType(op, op.getWeight(), "weight", op.getInput(),
                                   "input", /*allowF32=*/true)))
    return failure();
  if (!(op.getEpsilon().convertToFloat() > 0.0f))
    return op.emitOpError() << "epsilon must be positive, got "
                            << op.getEpsilon().convertToFloat();
  return success();
}

LogicalResult RMSNormOp::verify() { return verifyNorm(*this); }

LogicalResult LayerNormOp::verify() {
  if (failed(verifyNorm(*this)))
    return failure();
  if (getBias() &&
      (failed(verifyVector(*this, getBias(), "bias", colsOf(getInput()))) ||
       failed(verifySameElementType(*this, getBias(), "bias", getInput(),
                                    "input", /*allowF32=*/true))))
    return failure();
  return success();
}

LogicalResult SiluMulOp::verify() {
  return verifyActivation(*this, getGate(), "gate");
}

LogicalResult AddOp::verify() {
  return verifyActivation(*this, getLhs(), "operand");
}

LogicalResult SplitOp::verify() {
  if (failed(verifyActivation(*this, getInput(), "input")))
    return failure();
  if (getResults().empty())
    return emitOpError("must have at least one result");
  int64_t total = 0;
  for (Value result : getResults()) {
    if (failed(verifyActivation(*this, result, "each result")) ||
        failed(verifySameElementType(*this, result, "a result", getInput(),
                                     "input")))
      return failure();
    if (!rowsCompatible(rowsOf(result), rowsOf(getInput())))
      return emitOpError() << "result rows (" << rowsOf(result)
                           << ") differ from input rows (" << rowsOf(getInput())
                           << ")";
    total += colsOf(result);
  }
  if (total != colsOf(getInput()))
    return emitOpError() << "result columns add up to " << total
                         << " but the input has " << colsOf(getInput());
  return success();
}

//===----------------------------------------------------------------------===//
// Explicit scaling and dequantization
//===----------------------------------------------------------------------===//

LogicalResult ScaleActivationOp::verify() {
  if (failed(verifyActivation(*this, getInput(), "input")) ||
      failed(verifyVector(*this, getScale(), "scale", colsOf(getInput()))))
    return failure();
  return verifySameElementType(*this, getScale(), "scale", getInput(), "input",
                               /*allowF32=*/true);
}

LogicalResult DequantizeOp::verify() {
  QWeightType weight = getWeight().getType();
  auto result = cast<RankedTensorType>(getResult().getType());
  if (result.getRank() != 2 || result.getDimSize(0) != weight.getK() ||
      result.getDimSize(1) != weight.getN())
    return emitOpError() << "result must be a " << weight.getK() << "x"
                         << weight.getN() << " tensor, got " << result;
  return success();
}

LogicalResult MatmulOp::verify() {
  if (failed(verifyActivation(*this, getInput(), "input")))
    return failure();
  auto weight = cast<RankedTensorType>(getWeight().getType());
  if (weight.getRank() != 2 || !weight.hasStaticShape())
    return emitOpError() << "weight must be a static 2-D [K x N] tensor, got "
                         << weight;
  if (weight.getDimSize(0) != colsOf(getInput()))
    return emitOpError() << "weight has " << weight.getDimSize(0)
                         << " rows but the input has " << colsOf(getInput())
                         << " columns";
  if (failed(verifySameElementType(*this, getWeight(), "weight", getInput(),
                                   "input")))
    return failure();
  if (failed(verifyActivation(*this, getResult(), "result",
                              weight.getDimSize(1))) ||
      failed(verifySameElementType(*this, getResult(), "result", getInput(),
                                   "input")))
    return failure();
  if (!rowsCompatible(rowsOf(getInput()), rowsOf(getResult())))
    return emitOpError() << "result rows (" << rowsOf(getResult())
                         << ") differ from input rows (" << rowsOf(getInput())
                         << ")";
  return success();
}

//===----------------------------------------------------------------------===//
// Weight transforms
//===----------------------------------------------------------------------===//

LogicalResult VectorMulOp::verify() {
  auto type = cast<RankedTensorType>(getType());
  if (type.getRank() != 1)
    return emitOpError() << "operands must be 1-D tensors, got " << type;
  return success();
}

LogicalResult ScaleOutputChannelsOp::verify() {
  QWeightType weight = getWeight().getType();
  return verifyVector(*this, getScale(), "scale", weight.getN());
}

LogicalResult FoldZeroPointsOp::verify() {
  QWeightType weight = getWeight().getType();
  if (weight.getZeroMode() != ZeroMode::zero_point)
    return emitOpError() << "expects a weight with stored zero points "
                            "(zero_point), got "
                         << stringifyZeroMode(weight.getZeroMode());
  if (getResult().getType() != weight.withZeroMode(ZeroMode::scaled_zero))
    return emitOpError() << "result must be "
                         << weight.withZeroMode(ZeroMode::scaled_zero);
  return success();
}

LogicalResult ConcatWeightsOp::verify() {
  if (getInputs().size() < 2)
    return emitOpError("needs at least two weights to concatenate");
  auto first = cast<QWeightType>(getInputs().front().getType());
  int64_t totalN = 0;
  for (auto [index, input] : llvm::enumerate(getInputs())) {
    auto type = cast<QWeightType>(input.getType());
    if (type.getK() != first.getK() || type.getBits() != first.getBits() ||
        type.getGroup() != first.getGroup() ||
        type.getZeroMode() != first.getZeroMode() ||
        type.getLayout() != first.getLayout())
      return emitOpError() << "weight #" << index
                           << " differs from weight #0 in k, bits, group, "
                              "zero mode or layout: "
                           << type << " vs " << first;
    totalN += type.getN();
    // Each N is at most 2^30 (the type's verifier): no overflow here.
    if (totalN > ::awq::kMaxFeatures)
      return emitOpError() << "the concatenated weight has more than 2^30 "
                              "columns (N = "
                           << totalN << " after weight #" << index << ")";
  }
  if (getInterleave() && (getInputs().size() != 2 ||
                          getInputs()[0].getType() != getInputs()[1].getType()))
    return emitOpError("interleave needs exactly two weights of the same type");
  // Compared field by field: first.withN(totalN) need not be a valid type.
  QWeightType result = getResult().getType();
  if (result.getK() != first.getK() || result.getN() != totalN ||
      result.getBits() != first.getBits() ||
      result.getGroup() != first.getGroup() ||
      result.getZeroMode() != first.getZeroMode() ||
      result.getLayout() != first.getLayout())
    return emitOpError() << "result must be weight #0's type with n = "
                         << totalN << ", got " << result;
  return success();
}

LogicalResult ConcatVectorsOp::verify() {
  if (getInputs().size() < 2)
    return emitOpError("needs at least two vectors to concatenate");
  int64_t total = 0;
  Type elementType =
      cast<RankedTensorType>(getInputs().front().getType()).getElementType();
  for (Value input : getInputs()) {
    auto type = cast<RankedTensorType>(input.getType());
    if (type.getRank() != 1 || type.getElementType() != elementType)
      return emitOpError() << "operands must be 1-D tensors of one element "
                              "type, got "
                           << type;
    if (type.isDynamicDim(0))
      return emitOpError() << "operands must have a static length, got "
                           << type;
    total += type.getDimSize(0);
    if (total > ::awq::kMaxFeatures)
      return emitOpError() << "the concatenated vector has more than 2^30 "
                              "elements";
  }
  if (getInterleave() && (getInputs().size() != 2 ||
                          getInputs()[0].getType() != getInputs()[1].getType()))
    return emitOpError("interleave needs exactly two vectors of the same type");
  auto result = cast<RankedTensorType>(getType());
  if (result.getRank() != 1 || result.getDimSize(0) != total ||
      result.getElementType() != elementType)
    return emitOpError() << "result must be a 1-D tensor of " << total
                         << " elements of " << elementType << ", got "
                         << result;
  return success();
}

LogicalResult RepackOp::verify() {
  QWeightType source = getWeight().getType();
  QWeightType result = getResult().getType();
  if (result.getLayout() == Layout::autoawq_gemm)
    return emitOpError("result layout must be a kernel layout "
                       "(gemv_interleaved or mma_fragment)");
  if (result != source.withLayout(result.getLayout()))
    return emitOpError() << "repacking changes only the layout; expected "
                         << source.withLayout(result.getLayout());
  return success();
}

//===----------------------------------------------------------------------===//
// Kernel level
//===----------------------------------------------------------------------===//

namespace mlir::awq {

::awq::GemvParams gemvParamsOf(GemvConfigAttr config) {
  ::awq::GemvParams params;
  params.threads = config.getThreads();
  params.colsPerWarp = config.getColsPerWarp();
  params.kSplit = config.getKSplit();
  params.maxRows = config.getMaxRows();
  return params;
}

::awq::GemmParams gemmParamsOf(GemmConfigAttr config) {
  ::awq::GemmParams params;
  params.tileM = config.getTileM();
  params.tileN = config.getTileN();
  params.tileK = config.getTileK();
  params.warpsM = config.getWarpsM();
  params.warpsN = config.getWarpsN();
  params.stages = config.getStages();
  params.splitK = config.getSplitK();
  return params;
}

KernelOperands getKernelOperands(Operation *op) {
  auto kernel = cast<KernelOpInterface>(op);
  return {kernel.getInput(),     kernel.getWeight(),   kernel.getBias(),
          kernel.getActScale(),  kernel.getResidual(), kernel.getEpilogue(),
          kernel.getKernelName()};
}

} // namespace mlir::awq

SmallVector<std::string> mlir::awq::getSourceTensors(Value weight) {
  SmallVector<std::string> names;
  std::function<void(Value)> collect = [&](Value value) {
    Operation *def = value.getDefiningOp();
    if (!def)
      return;
    if (auto external = dyn_cast<ExternalOp>(def)) {
      names.push_back(external.getTensor().str());
      return;
    }
    for (Value operand : def->getOperands())
      if (isa<QWeightType>(operand.getType()))
        collect(operand);
  };
  collect(weight);
  return names;
}

::awq::ActivationType mlir::awq::activationTypeOf(Type elementType) {
  return elementType.isBF16() ? ::awq::ActivationType::BF16
                              : ::awq::ActivationType::F16;
}

std::string mlir::awq::getWeightActivationType(Value weight,
                                               ::awq::ActivationType &type) {
  std::optional<::awq::ActivationType> found;
  bool mixed = false;
  auto note = [&](Type element) {
    ::awq::ActivationType seen = activationTypeOf(element);
    mixed = mixed || (found && *found != seen);
    found = seen;
  };
  std::function<void(Value)> visit = [&](Value value) {
    for (Operation *user : value.getUsers()) {
      if (auto linear = dyn_cast<LinearLikeOpInterface>(user)) {
        note(linear.getInput().getType().getElementType());
        continue;
      }
      // A 16-bit factor is in the type of the scales it multiplies.
      if (auto scale = dyn_cast<ScaleOutputChannelsOp>(user)) {
        Type element = elementTypeOf(scale.getScale());
        if (element.isF16() || element.isBF16())
          note(element);
      }
      for (Value result : user->getResults())
        if (isa<QWeightType>(result.getType()))
          visit(result);
    }
  };
  visit(weight);
  if (mixed)
    return "a quantized weight is read by both f16 and bf16 linears (or "
           "scaled by factors of both types); its scales have one type";
  // A weight nothing reads as either type (a function result) keeps the
  // default.
  type = found.value_or(::awq::ActivationType::F16);
  return {};
}

/// Where group boundaries fall in a loop of `tiles` steps of `tileK`.
static KLoopAttr makeKLoop(MLIRContext *context, int64_t tileK, int64_t tiles,
                           int64_t splits, int64_t group, int64_t groupEff) {
  int64_t tilesPerSplit = ::awq::ceilDiv(tiles, splits);
  int64_t tilesPerGroup = groupEff >= tileK ? groupEff / tileK : 1;
  int64_t groupsPerTile = groupEff >= tileK ? 1 : tileK / groupEff;
  return KLoopAttr::get(context, tileK, tiles, splits, tilesPerSplit, group,
                        tilesPerGroup, groupsPerTile);
}

/// Checks shared by both kernel ops once the family-specific layout and zero
/// mode are known to be right.
static LogicalResult verifyKernel(KernelOpInterface op, StringRef constraint) {
  if (!::awq::isKernelName(op.getKernelName().str()))
    return op.emitOpError() << "kernel_name must be a C identifier that is "
                               "not reserved (no leading '__' or '_' and a "
                               "capital), got '"
                            << op.getKernelName() << "'";
  if (!constraint.empty())
    return op.emitOpError()
           << "configuration does not fit the layer: " << constraint;
  return success();
}

namespace mlir::awq::detail {

/// A kernel op's result: tensor<M x N_out x T>, M the rows of the input, N_out
/// the weight's columns after the epilogue and T the input's element type.
LogicalResult inferKernelResultType(MLIRContext *context,
                                    std::optional<Location> location,
                                    Value input, Value weight,
                                    Epilogue epilogue,
                                    SmallVectorImpl<Type> &inferred) {
  auto inputType = dyn_cast<RankedTensorType>(input.getType());
  auto weightType = dyn_cast<QWeightType>(weight.getType());
  if (!inputType || inputType.getRank() != 2 || !weightType)
    return emitOptionalError(
        location,
        "expected a 2-D [M x K] input and a quantized weight to "
        "infer the result type, got ",
        input.getType(), " and ", weight.getType());
  int64_t n = weightType.getN();
  int64_t cols = epilogue == Epilogue::silu_mul ? n / 2 : n;
  inferred.push_back(RankedTensorType::get({inputType.getDimSize(0), cols},
                                           inputType.getElementType()));
  return success();
}

/// The result may be more or less static in its rows than the inferred type
/// (the verifier checks rows and columns with precise messages).
bool kernelResultTypesCompatible(TypeRange lhs, TypeRange rhs) {
  if (lhs.size() != 1 || rhs.size() != 1)
    return false;
  auto a = dyn_cast<RankedTensorType>(lhs.front());
  auto b = dyn_cast<RankedTensorType>(rhs.front());
  return a && b && a.getRank() == 2 && b.getRank() == 2 &&
         a.getElementType() == b.getElementType() &&
         a.getDimSize(1) == b.getDimSize(1) &&
         rowsCompatible(a.getDimSize(0), b.getDimSize(0));
}

} // namespace mlir::awq::detail

KLoopAttr GemvKernelOp::getKLoop() {
  ::awq::LinearShape shape = getLinearShape();
  ::awq::GemvParams params = gemvParamsOf(getConfig());
  ::awq::GemvGeometry geometry = ::awq::gemvGeometry(shape, params);
  // One group per column: the loop sees one group spanning every tile.
  int64_t groupEff = shape.group == shape.k
                         ? geometry.tiles * ::awq::kGemvValuesPerTile
                         : shape.group;
  return makeKLoop(getContext(), ::awq::kGemvValuesPerTile, geometry.tiles,
                   params.kSplit, shape.group, groupEff);
}

DequantKind GemvKernelOp::getDequantKind() {
  return *symbolizeDequantKind(
      ::awq::gemvDequantName(getWeight().getType().getBits()));
}

int64_t GemvKernelOp::getSharedBytes() {
  return ::awq::gemvGeometry(getLinearShape(), gemvParamsOf(getConfig()))
      .sharedBytes;
}

LogicalResult GemvKernelOp::verify() {
  QWeightType weight = getWeight().getType();
  if (weight.getLayout() != Layout::gemv_interleaved)
    return emitOpError()
           << "weight must be in the gemv_interleaved layout, got "
           << stringifyLayout(weight.getLayout());
  if (weight.getZeroMode() == ZeroMode::scaled_zero)
    return emitOpError("the gemv kernel reads stored zero points (zero_point) "
                       "or none (symmetric), not scaled_zero");
  return verifyKernel(
      *this, ::awq::checkGemv(getLinearShape(), gemvParamsOf(getConfig())));
}

KLoopAttr GemmKernelOp::getKLoop() {
  ::awq::LinearShape shape = getLinearShape();
  ::awq::GemmParams params = gemmParamsOf(getConfig());
  ::awq::GemmGeometry geometry = ::awq::gemmGeometry(shape, params);
  return makeKLoop(getContext(), params.tileK, geometry.kTiles, params.splitK,
                   shape.group, geometry.groupEff);
}

DequantKind GemmKernelOp::getDequantKind() {
  return *symbolizeDequantKind(
      ::awq::gemmDequantName(getWeight().getType().getBits()));
}

int64_t GemmKernelOp::getSharedBytes() {
  return ::awq::gemmGeometry(getLinearShape(), gemmParamsOf(getConfig()))
      .sharedBytes;
}

LogicalResult GemmKernelOp::verify() {
  QWeightType weight = getWeight().getType();
  if (weight.getLayout() != Layout::mma_fragment)
    return emitOpError() << "weight must be in the mma_fragment layout, got "
                         << stringifyLayout(weight.getLayout());
  if (weight.getZeroMode() == ZeroMode::zero_point)
    return emitOpError("the gemm kernel reads zs = z * s (scaled_zero) or no "
                       "zero point (symmetric), not zero_point");
  return verifyKernel(
      *this, ::awq::checkGemm(getLinearShape(), gemmParamsOf(getConfig())));
}

LogicalResult SelectByRowsOp::verify() {
  if (failed(verifyActivation(*this, getInput(), "input")) ||
      failed(verifySameElementType(*this, getResult(), "result", getInput(),
                                   "input")))
    return failure();
  if (getGemmMinM() < 2)
    return emitOpError() << "gemm_min_m must be at least 2 for a choice to "
                            "exist, got "
                         << getGemmMinM();
  if (!rowsCompatible(rowsOf(getInput()), rowsOf(getResult())))
    return emitOpError() << "result rows (" << rowsOf(getResult())
                         << ") differ from input rows (" << rowsOf(getInput())
                         << ")";
  return success();
}

#define GET_OP_CLASSES
#include "dialects/awq/AwqOps.cpp.inc"
