//===- Sass.h - SASS text: instructions, control flow, loops, pipes -------===//
//
// Reads the disassembly nvdisasm (`nvdisasm -c`) or cuobjdump (`cuobjdump
// -sass`) prints for a CUBIN, rebuilds each function's control-flow graph
// and finds its natural loops, and classifies opcodes by what they do and
// the execution pipe that runs them (docs/kernels.md, "Reading the machine
// code"). Text in, counts out: no CUDA library is needed, so the unit tests
// run on hand-written SASS. MLIR-free.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_KERNELSTATS_SASS_H
#define AWQ_COMPILER_KERNELSTATS_SASS_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace awq::sass {

/// One machine instruction.
struct Instruction {
  uint64_t address = 0;
  std::string predicate; ///< "@P0", "@!UP1"; empty when unconditional.
  std::string opcode;    ///< With modifiers: "LDG.E.NA.128.CONSTANT".
  std::string operands;  ///< The rest, without the trailing ';'.
  /// Branch target: a label (".L_x_3") or an address ("0x1240"); empty when
  /// the instruction names none.
  std::string target;

  /// The opcode without modifiers: "LDG".
  std::string base() const;
  /// Whether `opcode` has modifier `m` ("LDG.E.128" has "128").
  bool hasModifier(const std::string &m) const;
};

/// One function of the disassembly.
struct Function {
  std::string name;
  std::vector<Instruction> code;
  /// Label -> index of the instruction it precedes.
  std::map<std::string, size_t> labels;

  /// Index of the instruction a branch target names, or code.size().
  size_t resolve(const std::string &target) const;
};

/// Every function of an nvdisasm or cuobjdump listing, in order. Throws
/// awq::Error when the text holds no instruction at all (not a listing).
std::vector<Function> parseListing(const std::string &text);

/// A straight-line run of instructions [first, last].
struct Block {
  size_t first = 0, last = 0;
  std::vector<size_t> successors, predecessors;
  bool reachable = false;
};

/// A natural loop: a header that dominates every block of the body, and the
/// back edges into it.
struct Loop {
  size_t header = 0;           ///< Block index.
  std::vector<size_t> blocks;  ///< Sorted block indices, header included.
  std::vector<size_t> latches; ///< Blocks with a back edge to the header.
  int parent = -1;             ///< Index of the innermost enclosing loop.
  int depth = 1;               ///< 1 for a top-level loop.
  size_t instructions = 0;     ///< In its blocks, each counted once.
  uint64_t firstAddress = 0, lastAddress = 0;
};

/// The control-flow graph of one function and its loops.
struct ControlFlow {
  std::vector<Block> blocks;
  std::vector<Loop> loops; ///< Outer loops before the loops they contain.
};

/// Builds the graph. Edges: a branch goes to its target and, when
/// predicated, also falls through; EXIT and RET end a path (fall through
/// when predicated). Two kinds of edges are left out on purpose: BRA.DIV's
/// jump to the out-of-line code that redoes a warp-synchronous operation
/// when the warp diverged (never taken by the converged warps of these
/// kernels), and an unconditional branch to itself (the trap after the last
/// EXIT). Loops come from back edges (the target dominates the source).
ControlFlow analyze(const Function &function);

/// Indices of the instructions of `loop`, in address order.
std::vector<size_t> loopInstructions(const ControlFlow &flow, const Loop &loop);

/// The execution pipe an opcode issues to (the names Nsight Compute uses).
enum class Pipe {
  Alu,      ///< Integer and logic, compares, moves, selects, fp32->fp16 packs.
  Fma,      ///< FP32 FFMA/FADD/FMUL and packed FP16 HFMA2/HADD2/HMUL2.
  FmaHeavy, ///< IMAD, IMUL, VIADD: the FMA pipe's half-rate integer side.
  Tensor,   ///< HMMA, IMMA, HGMMA.
  Lsu,      ///< Global, local, shared memory, atomics, shuffles, S2R.
  Xu,       ///< Transcendentals (MUFU) and int <-> float conversions.
  Fp64,     ///< DFMA, DADD, DMUL.
  Uniform,  ///< U* instructions on the per-warp uniform datapath.
  Adu,      ///< Constant loads (LDC) and address divergence work.
  Control,  ///< Branches, convergence barriers, CTA barriers, NOP.
  Unknown,  ///< An opcode the table does not list.
};
constexpr int kPipeCount = static_cast<int>(Pipe::Unknown) + 1;
const char *pipeName(Pipe pipe);

/// What an instruction does.
enum class Class {
  Fp32,         ///< FFMA, FADD, FMUL, FMNMX, FSETP, FSEL.
  Fp16,         ///< HFMA2, HADD2, HMUL2, HSETP2.
  IntLogic,     ///< LOP3, SHF, PRMT, BMSK, bit manipulation.
  IntArith,     ///< IADD3, LEA, IMNMX, ISETP, IABS.
  IntMultiply,  ///< IMAD (also IMAD.MOV used as a move), IMUL, VIADD.
  Move,         ///< MOV, SEL, CS2R, P2R, R2P, PLOP3.
  Conversion,   ///< F2F, F2FP, I2F, F2I.
  Special,      ///< MUFU.
  GlobalLoad,   ///< LDG, LD.
  AsyncCopy,    ///< LDGSTS (cp.async), LDGDEPBAR.
  GlobalStore,  ///< STG, ST.
  SharedLoad,   ///< LDS, LDSM.
  SharedStore,  ///< STS.
  LocalMemory,  ///< LDL, STL (spills).
  Atomic,       ///< ATOM, ATOMG, ATOMS, RED, REDG.
  Shuffle,      ///< SHFL, VOTE, MATCH, REDUX.
  TensorCore,   ///< HMMA, IMMA, HGMMA.
  ConstantLoad, ///< LDC, ULDC.
  Uniform,      ///< Other U* instructions.
  Control,      ///< BRA, BSSY, BSYNC, EXIT, BAR, WARPSYNC, DEPBAR, NOP.
  Other,        ///< FP64 and anything the table does not list.
};
constexpr int kClassCount = static_cast<int>(Class::Other) + 1;
const char *className(Class c);

/// The pipe and class of an opcode (modifiers allowed: "IMAD.MOV.U32").
Pipe pipeOf(const std::string &opcode);
Class classOf(const std::string &opcode);

/// Bytes one lane moves with a load or store opcode: the width modifier
/// (.U8/.S8 1, .U16/.S16 2, .64 8, .128 16), else 4.
int accessBytes(const std::string &opcode);

} // namespace awq::sass

#endif // AWQ_COMPILER_KERNELSTATS_SASS_H
