//===- ModelBuilder.h - awq IR from a model description -------------------===//
//
// Turns a model description (or a checkpoint, through describeCheckpoint) into
// a graph-level awq module: one function `@forward` whose arguments are the
// activations produced outside awqc (norm inputs, attention outputs, residual
// streams) and whose results are the linears' outputs nothing inside reads.
// Arguments and results carry `awq.name` attributes naming what they are.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_BUILDER_MODELBUILDER_H
#define AWQ_COMPILER_BUILDER_MODELBUILDER_H

#include "compiler/formats/ModelDescription.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>

namespace awq {

/// The GPU architecture compiled for when neither the command line nor the
/// module (`awq.target`) names one.
inline constexpr const char *kDefaultTarget = "sm_80";

struct BuildOptions {
  /// The checkpoint file or directory recorded in `awq.external` ops.
  std::string checkpointPath;
  /// The GPU architecture recorded on the module (`awq.target`), e.g. sm_80.
  std::string target = kDefaultTarget;
};

/// Builds the module. The description must have passed validation
/// (parseModelDescription or describeCheckpoint); throws awq::Error if a
/// layer's parameters cannot be represented (e.g. an unsupported group size).
mlir::OwningOpRef<mlir::ModuleOp>
buildModule(mlir::MLIRContext &context, const ModelDescription &description,
            const BuildOptions &options);

} // namespace awq

#endif // AWQ_COMPILER_BUILDER_MODELBUILDER_H
