//===- AwqDialect.cpp - Registration of the awq dialect -------------------===//
#include "dialects/awq/AwqDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::awq;

#include "dialects/awq/AwqDialect.cpp.inc"
#include "dialects/awq/AwqEnums.cpp.inc"
#include "dialects/awq/AwqInterfaces.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "dialects/awq/AwqTypes.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/awq/AwqAttrs.cpp.inc"

void AwqDialect::initialize() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/awq/AwqTypes.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/awq/AwqAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialects/awq/AwqOps.cpp.inc"
      >();
}
