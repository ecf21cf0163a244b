//===- Passes.td - The awq compiler passes --------------------------------===//
#ifndef AWQ_PASSES_TD
#define AWQ_PASSES_TD

include "mlir/Pass/PassBase.td"

#endif // AWQ_PASSES_TD
