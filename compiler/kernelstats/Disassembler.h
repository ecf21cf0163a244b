//===- Disassembler.h - Find nvdisasm or cuobjdump and disassemble a CUBIN ===//
//
// The CUDA toolkit on the build machines ships NVRTC and ptxas but not the
// disassemblers; a full toolkit (GPU machines) has them, and
// `.ci/bootstrap.sh` installs nvdisasm from the `nvidia-cuda-nvdisasm` wheel
// into the project's `.venv/`. This is the one place that looks for them.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_KERNELSTATS_DISASSEMBLER_H
#define AWQ_COMPILER_KERNELSTATS_DISASSEMBLER_H

#include <string>
#include <vector>

namespace awq {

/// A disassembler found on this machine.
struct Disassembler {
  std::string path;    ///< Executable: nvdisasm or cuobjdump.
  std::string foundBy; ///< "--disassembler", "AWQC_DISASSEMBLER", "CUDA
                       ///< toolkit", "PATH" or "project .venv".
  bool isCuobjdump() const;
};

/// The places looked at, in order: `override` (an option), the environment
/// variable AWQC_DISASSEMBLER, $CUDA_HOME/bin and the toolkit found at
/// configure time, PATH (nvdisasm, then cuobjdump), then the project's
/// `.venv` (nvidia/cu*/bin/nvdisasm under site-packages). An override or the
/// environment variable that names no executable is an error; otherwise
/// returns an empty path when nothing was found.
Disassembler findDisassembler(const std::string &override = "");

/// Where findDisassembler looked, for the error message when it found
/// nothing.
std::string disassemblerSearchDescription();

/// The SASS listing of `cubin` (nvdisasm -c, or cuobjdump -sass). Throws
/// awq::Error with the tool's output when it fails.
std::string disassemble(const Disassembler &tool,
                        const std::vector<char> &cubin,
                        const std::string &what);

} // namespace awq

#endif // AWQ_COMPILER_KERNELSTATS_DISASSEMBLER_H
