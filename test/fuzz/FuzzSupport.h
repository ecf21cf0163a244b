//===- FuzzSupport.h - Scratch files and failure reports for fuzz targets -===//
//
// The fuzz targets feed readers that take paths (safetensors, bundles,
// checkpoint directories, cache entries), so each input is first written to a
// scratch directory private to the process. A violated invariant (a reader
// accepted something its own writer or validator then rejects) is reported
// with fail(), which aborts: libFuzzer and the replay driver both treat that
// as a crash.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_TEST_FUZZ_FUZZSUPPORT_H
#define AWQ_TEST_FUZZ_FUZZSUPPORT_H

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

namespace awq::fuzz {

/// A directory private to this process under $TMPDIR (else /tmp), created on
/// first use and removed at exit.
const std::string &scratchDirectory();

/// A fresh, empty directory `name` inside scratchDirectory().
std::string freshDirectory(const std::string &name);

/// The directory `name` inside scratchDirectory(), created on first use and
/// kept (cheaper per input when a target rewrites the same files).
std::string keptDirectory(const std::string &name);

/// Replaces the file `path` by `size` bytes of `data`; aborts when it cannot.
void writeFile(const std::string &path, const uint8_t *data, size_t size);
void writeFile(const std::string &path, const std::string &text);

/// Prints the error a reader refused an input with when AWQC_FUZZ_VERBOSE
/// is set (to see what the seeds reach), else nothing.
void rejected(const std::exception &error);
void rejected(const std::string &message);

/// Prints "fuzz invariant violated in TARGET: WHAT" and aborts.
[[noreturn]] void fail(const char *target, const std::string &what);

} // namespace awq::fuzz

#endif // AWQ_TEST_FUZZ_FUZZSUPPORT_H
