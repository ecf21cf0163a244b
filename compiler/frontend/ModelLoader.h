//===- ModelLoader.h - A model on the command line to an awq module -------===//
//
// Every tool that takes a model (awqc compile, awq-run) accepts the same
// inputs: an awq IR file, a model description (.json) or a quantized
// checkpoint directory (whose model.json, written by awqc quantize, is
// preferred). This is the one place that tells them apart.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_FRONTEND_MODELLOADER_H
#define AWQ_COMPILER_FRONTEND_MODELLOADER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace awq {

struct LoadedModel {
  /// Null when an IR file does not parse (the diagnostics went to the
  /// context's handler).
  mlir::OwningOpRef<mlir::ModuleOp> module;
  /// The checkpoint directory holding the weights (a directory with a
  /// config.json) when the input is or names one; empty otherwise.
  std::string checkpoint;
};

/// Loads `input`. A module built from a description or checkpoint records
/// `target`, or kDefaultTarget when it is empty; an IR file keeps its own
/// `awq.target`. Throws awq::Error naming the input when it does not exist
/// or its description or checkpoint is invalid, and, when the model comes
/// with a checkpoint, when the checkpoint's headers and config.json lack a
/// tensor the model names, give it another dtype, shape or quantization, or
/// hold an activation scale the model does not apply (no weight data read).
LoadedModel loadModel(mlir::MLIRContext &context, llvm::SourceMgr &sourceMgr,
                      const std::string &input, const std::string &target);

/// The MLIR side of a tool that compiles a model: a context with the awq and
/// func dialects whose diagnostics are collected as text for error messages
/// (each names its op and location; the whole module is never printed).
class ModelSession {
public:
  ModelSession();
  ModelSession(const ModelSession &) = delete;
  ModelSession &operator=(const ModelSession &) = delete;

  mlir::MLIRContext &context() { return context_; }
  /// loadModel over this session's context and source manager.
  LoadedModel load(const std::string &input, const std::string &target) {
    return loadModel(context_, sourceMgr_, input, target);
  }
  /// What the diagnostics said so far.
  const std::string &diagnostics() const { return diagnostics_; }

private:
  mlir::MLIRContext context_;
  llvm::SourceMgr sourceMgr_;
  std::string diagnostics_;
  llvm::raw_string_ostream diagnosticStream_;
  mlir::SourceMgrDiagnosticHandler handler_;
};

/// The architecture to compile `module` for: `requested` when given, else
/// the module's `awq.target`, else kDefaultTarget.
std::string resolveTarget(mlir::ModuleOp module, const std::string &requested);

} // namespace awq

#endif // AWQ_COMPILER_FRONTEND_MODELLOADER_H
