//===- Error.h - The error type of awqc's plain C++ libraries -------------===//
//
// Libraries outside MLIR (formats, reference, quantizer, runtime) report bad
// input by throwing awq::Error with a message that names the file, tensor or
// field and says what was expected. Tools catch it at the top and print it.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_SUPPORT_ERROR_H
#define AWQ_RUNTIME_SUPPORT_ERROR_H

#include <stdexcept>
#include <string>

namespace awq {

class Error : public std::runtime_error {
public:
  explicit Error(const std::string &message) : std::runtime_error(message) {}
};

} // namespace awq

#endif // AWQ_RUNTIME_SUPPORT_ERROR_H
