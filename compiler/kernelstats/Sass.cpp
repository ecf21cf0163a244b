//===- Sass.cpp - SASS text: instructions, control flow, loops, pipes -----===//
#include "compiler/kernelstats/Sass.h"

#include "runtime/support/Error.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <regex>
#include <set>

namespace awq::sass {

std::string Instruction::base() const {
  return opcode.substr(0, opcode.find('.'));
}

bool Instruction::hasModifier(const std::string &m) const {
  size_t start = opcode.find('.');
  while (start != std::string::npos) {
    const size_t end = opcode.find('.', start + 1);
    if (opcode.compare(start + 1,
                       end == std::string::npos ? std::string::npos
                                                : end - start - 1,
                       m) == 0)
      return true;
    start = end;
  }
  return false;
}

size_t Function::resolve(const std::string &target) const {
  if (auto it = labels.find(target); it != labels.end())
    return it->second;
  if (target.rfind("0x", 0) == 0) {
    const uint64_t address = std::stoull(target, nullptr, 16);
    for (size_t i = 0; i < code.size(); ++i)
      if (code[i].address == address)
        return i;
  }
  return code.size();
}

namespace {

std::string trim(const std::string &s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b])))
    ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])))
    --e;
  return s.substr(b, e - b);
}

bool isJump(const std::string &base) { return base == "BRA" || base == "JMP"; }

bool isPathEnd(const std::string &base) {
  return base == "EXIT" || base == "RET" || base == "BRX" || base == "JMX" ||
         base == "KILL";
}

/// Whether a branch may fall through: a guard predicate other than PT, or a
/// predicate operand before the target ("BRA.U !UP0, `(.L_x_3)").
bool isConditional(const Instruction &in) {
  if (!in.predicate.empty() && in.predicate != "@PT" && in.predicate != "@UPT")
    return true;
  static const std::regex operandPredicate(R"(^!?U?P[0-6]\s*,)");
  return std::regex_search(in.operands, operandPredicate);
}

} // namespace

std::vector<Function> parseListing(const std::string &text) {
  // nvdisasm: ".section .text.NAME,..."; cuobjdump: "Function : NAME".
  static const std::regex section(R"(^\s*\.section\s+\.text\.([^,\s]+))");
  static const std::regex function(R"(^\s*Function\s*:\s*(\S+))");
  static const std::regex label(R"(^\s*([.$A-Za-z_][\w.$]*):\s*$)");
  static const std::regex instruction(
      R"(^\s*/\*([0-9a-fA-F]+)\*/\s+(@!?U?P[T0-7]\s+)?([A-Z][A-Z0-9_.]*)\s*([^;]*);)");
  static const std::regex labelTarget(R"(`\(([^)]+)\))");
  static const std::regex addressTarget(R"((0x[0-9a-fA-F]+)\s*$)");

  std::vector<Function> functions;
  std::vector<std::string> pendingLabels;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos)
      end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    std::smatch m;
    if (std::regex_search(line, m, section) ||
        std::regex_search(line, m, function)) {
      functions.push_back({});
      functions.back().name = m[1];
      pendingLabels.clear();
      continue;
    }
    if (functions.empty())
      continue;
    Function &f = functions.back();
    if (std::regex_match(line, m, label)) {
      pendingLabels.push_back(m[1]);
      continue;
    }
    if (!std::regex_search(line, m, instruction))
      continue;
    Instruction in;
    in.address = std::stoull(m[1].str(), nullptr, 16);
    in.predicate = trim(m[2]);
    in.opcode = m[3];
    in.operands = trim(m[4]);
    if (isJump(in.base()) || in.base() == "CALL") {
      std::smatch t;
      if (std::regex_search(in.operands, t, labelTarget))
        in.target = t[1];
      else if (std::regex_search(in.operands, t, addressTarget))
        in.target = t[1];
    }
    for (const std::string &name : pendingLabels)
      f.labels[name] = f.code.size();
    pendingLabels.clear();
    f.code.push_back(std::move(in));
  }
  functions.erase(
      std::remove_if(functions.begin(), functions.end(),
                     [](const Function &f) { return f.code.empty(); }),
      functions.end());
  if (functions.empty())
    throw Error("the disassembly holds no SASS instruction (expected the "
                "output of `nvdisasm -c` or `cuobjdump -sass`)");
  return functions;
}

ControlFlow analyze(const Function &f) {
  ControlFlow flow;
  const size_t n = f.code.size();
  if (n == 0)
    return flow;

  // Leaders: the entry, every jump target, every instruction after a jump or
  // a path end.
  std::vector<bool> leader(n + 1, false);
  leader[0] = true;
  for (size_t i = 0; i < n; ++i) {
    const Instruction &in = f.code[i];
    const std::string base = in.base();
    if (isJump(base) && !in.target.empty()) {
      const size_t t = f.resolve(in.target);
      if (t < n)
        leader[t] = true;
    }
    if (isJump(base) || isPathEnd(base))
      leader[i + 1] = true;
  }
  std::vector<size_t> blockOf(n);
  for (size_t i = 0; i < n; ++i) {
    if (leader[i])
      flow.blocks.push_back({i, i, {}, {}, false});
    flow.blocks.back().last = i;
    blockOf[i] = flow.blocks.size() - 1;
  }

  const size_t count = flow.blocks.size();
  auto addEdge = [&](size_t from, size_t to) {
    auto &s = flow.blocks[from].successors;
    if (std::find(s.begin(), s.end(), to) == s.end()) {
      s.push_back(to);
      flow.blocks[to].predecessors.push_back(from);
    }
  };
  for (size_t b = 0; b < count; ++b) {
    const Instruction &in = f.code[flow.blocks[b].last];
    const std::string base = in.base();
    const bool hasNext = b + 1 < count;
    if (isJump(base)) {
      const size_t t = in.target.empty() ? n : f.resolve(in.target);
      // BRA.DIV enters the divergent-warp fallback: not a path of the warps
      // this report models. A branch to itself unconditionally is the trap.
      const bool fallback = in.hasModifier("DIV");
      const bool conditional = isConditional(in);
      const bool trap = !conditional && t == flow.blocks[b].last;
      if (!fallback && !trap && t < n)
        addEdge(b, blockOf[t]);
      if ((fallback || conditional) && hasNext)
        addEdge(b, b + 1);
    } else if (isPathEnd(base)) {
      if (isConditional(in) && hasNext)
        addEdge(b, b + 1);
    } else if (hasNext) {
      addEdge(b, b + 1);
    }
  }

  // Reverse post-order from the entry.
  std::vector<size_t> postOrder;
  {
    std::vector<std::pair<size_t, size_t>> stack{{0, 0}};
    flow.blocks[0].reachable = true;
    while (!stack.empty()) {
      auto &[b, next] = stack.back();
      if (next < flow.blocks[b].successors.size()) {
        const size_t s = flow.blocks[b].successors[next++];
        if (!flow.blocks[s].reachable) {
          flow.blocks[s].reachable = true;
          stack.push_back({s, 0});
        }
      } else {
        postOrder.push_back(b);
        stack.pop_back();
      }
    }
  }
  std::vector<size_t> order(count, SIZE_MAX); // Post-order number.
  for (size_t i = 0; i < postOrder.size(); ++i)
    order[postOrder[i]] = i;

  // Dominators (Cooper, Harvey, Kennedy: "A Simple, Fast Dominance
  // Algorithm"), over post-order numbers.
  std::vector<size_t> idom(count, SIZE_MAX);
  idom[0] = 0;
  auto intersect = [&](size_t a, size_t b) {
    while (a != b) {
      while (order[a] < order[b])
        a = idom[a];
      while (order[b] < order[a])
        b = idom[b];
    }
    return a;
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (auto it = postOrder.rbegin(); it != postOrder.rend(); ++it) {
      const size_t b = *it;
      if (b == 0)
        continue;
      size_t dom = SIZE_MAX;
      for (size_t p : flow.blocks[b].predecessors)
        if (idom[p] != SIZE_MAX)
          dom = dom == SIZE_MAX ? p : intersect(p, dom);
      if (dom != SIZE_MAX && idom[b] != dom) {
        idom[b] = dom;
        changed = true;
      }
    }
  }
  auto dominates = [&](size_t a, size_t b) {
    for (;;) {
      if (a == b)
        return true;
      if (b == 0 || idom[b] == SIZE_MAX)
        return false;
      b = idom[b];
    }
  };

  // Natural loops, one per header.
  std::map<size_t, Loop> byHeader;
  for (size_t u = 0; u < count; ++u) {
    if (!flow.blocks[u].reachable)
      continue;
    for (size_t h : flow.blocks[u].successors)
      if (dominates(h, u)) {
        Loop &loop = byHeader[h];
        loop.header = h;
        loop.latches.push_back(u);
      }
  }
  std::vector<Loop> loops;
  for (auto &[header, loop] : byHeader) {
    std::set<size_t> body{header};
    std::vector<size_t> work(loop.latches.begin(), loop.latches.end());
    while (!work.empty()) {
      const size_t b = work.back();
      work.pop_back();
      if (!body.insert(b).second)
        continue;
      for (size_t p : flow.blocks[b].predecessors)
        if (flow.blocks[p].reachable && !body.count(p))
          work.push_back(p);
    }
    loop.blocks.assign(body.begin(), body.end());
    loop.firstAddress = UINT64_MAX;
    for (size_t b : loop.blocks) {
      loop.instructions += flow.blocks[b].last - flow.blocks[b].first + 1;
      loop.firstAddress =
          std::min(loop.firstAddress, f.code[flow.blocks[b].first].address);
      loop.lastAddress =
          std::max(loop.lastAddress, f.code[flow.blocks[b].last].address);
    }
    loops.push_back(std::move(loop));
  }

  // Nesting: the parent is the smallest other loop holding the header.
  for (size_t i = 0; i < loops.size(); ++i) {
    size_t best = SIZE_MAX;
    for (size_t j = 0; j < loops.size(); ++j) {
      if (i == j || !std::binary_search(loops[j].blocks.begin(),
                                        loops[j].blocks.end(), loops[i].header))
        continue;
      if (best == SIZE_MAX ||
          loops[j].blocks.size() < loops[best].blocks.size())
        best = j;
    }
    loops[i].parent = best == SIZE_MAX ? -1 : static_cast<int>(best);
  }
  std::function<int(size_t)> depthOf = [&](size_t i) {
    return loops[i].parent < 0 ? 1 : 1 + depthOf(loops[i].parent);
  };
  for (size_t i = 0; i < loops.size(); ++i)
    loops[i].depth = depthOf(i);
  std::vector<size_t> sorted(loops.size());
  for (size_t i = 0; i < sorted.size(); ++i)
    sorted[i] = i;
  std::sort(sorted.begin(), sorted.end(), [&](size_t a, size_t b) {
    if (loops[a].depth != loops[b].depth)
      return loops[a].depth < loops[b].depth;
    return loops[a].firstAddress < loops[b].firstAddress;
  });
  std::vector<int> newIndex(loops.size());
  for (size_t i = 0; i < sorted.size(); ++i)
    newIndex[sorted[i]] = static_cast<int>(i);
  for (size_t i : sorted) {
    Loop loop = loops[i];
    if (loop.parent >= 0)
      loop.parent = newIndex[loop.parent];
    flow.loops.push_back(std::move(loop));
  }
  return flow;
}

std::vector<size_t> loopInstructions(const ControlFlow &flow,
                                     const Loop &loop) {
  std::vector<size_t> out;
  for (size_t b : loop.blocks)
    for (size_t i = flow.blocks[b].first; i <= flow.blocks[b].last; ++i)
      out.push_back(i);
  std::sort(out.begin(), out.end());
  return out;
}

//===----------------------------------------------------------------------===//
// Opcode table
//===----------------------------------------------------------------------===//

namespace {

struct OpcodeInfo {
  const char *base;
  Pipe pipe;
  Class cls;
};

/// The classification table (docs/kernels.md reproduces it). Pipes follow
/// Nsight Compute's pipeline descriptions for sm_80..sm_90; entries marked
/// "assumed" have no public statement and follow the closest documented
/// relative.
constexpr OpcodeInfo kOpcodes[] = {
    // FP32 arithmetic: the FMA pipe; compares, min/max, selects: the ALU.
    {"FFMA", Pipe::Fma, Class::Fp32},
    {"FADD", Pipe::Fma, Class::Fp32},
    {"FMUL", Pipe::Fma, Class::Fp32},
    {"FMNMX", Pipe::Alu, Class::Fp32},
    {"FSETP", Pipe::Alu, Class::Fp32},
    {"FSET", Pipe::Alu, Class::Fp32},
    {"FSEL", Pipe::Alu, Class::Fp32},
    {"FCHK", Pipe::Alu, Class::Fp32},
    {"FSWZADD", Pipe::Fma, Class::Fp32},
    // Packed FP16.
    {"HFMA2", Pipe::Fma, Class::Fp16},
    {"HADD2", Pipe::Fma, Class::Fp16},
    {"HMUL2", Pipe::Fma, Class::Fp16},
    {"HSETP2", Pipe::Alu, Class::Fp16},
    {"HSET2", Pipe::Alu, Class::Fp16},
    {"HMNMX2", Pipe::Alu, Class::Fp16},
    // Integer logic and shifts.
    {"LOP3", Pipe::Alu, Class::IntLogic},
    {"LOP", Pipe::Alu, Class::IntLogic},
    {"SHF", Pipe::Alu, Class::IntLogic},
    {"SHL", Pipe::Alu, Class::IntLogic},
    {"SHR", Pipe::Alu, Class::IntLogic},
    {"PRMT", Pipe::Alu, Class::IntLogic},
    {"BMSK", Pipe::Alu, Class::IntLogic},
    {"SGXT", Pipe::Alu, Class::IntLogic},
    {"BREV", Pipe::Xu, Class::IntLogic},
    {"FLO", Pipe::Xu, Class::IntLogic},
    {"POPC", Pipe::Xu, Class::IntLogic},
    // Integer add, compare, address arithmetic.
    {"IADD3", Pipe::Alu, Class::IntArith},
    {"IADD", Pipe::Alu, Class::IntArith},
    {"LEA", Pipe::Alu, Class::IntArith},
    {"ISETP", Pipe::Alu, Class::IntArith},
    {"IMNMX", Pipe::Alu, Class::IntArith},
    {"VIMNMX", Pipe::Alu, Class::IntArith}, // assumed
    {"IABS", Pipe::Alu, Class::IntArith},
    {"VABSDIFF", Pipe::Alu, Class::IntArith},
    // The FMA pipe's integer side (half rate).
    {"IMAD", Pipe::FmaHeavy, Class::IntMultiply},
    {"IMUL", Pipe::FmaHeavy, Class::IntMultiply},
    {"IDP", Pipe::FmaHeavy, Class::IntMultiply},
    {"VIADD", Pipe::FmaHeavy, Class::IntMultiply},     // assumed (sm_90)
    {"VIADDMNMX", Pipe::FmaHeavy, Class::IntMultiply}, // assumed (sm_90)
    // Moves, selects, predicates.
    {"MOV", Pipe::Alu, Class::Move},
    {"SEL", Pipe::Alu, Class::Move},
    {"CS2R", Pipe::Alu, Class::Move},
    {"P2R", Pipe::Alu, Class::Move},
    {"R2P", Pipe::Alu, Class::Move},
    {"PLOP3", Pipe::Alu, Class::Move},
    {"VOTE", Pipe::Alu, Class::Shuffle},
    {"REDUX", Pipe::Alu, Class::Shuffle},
    {"ELECT", Pipe::Alu, Class::Control},
    // Conversions: fp32 -> fp16 packs on the ALU (Ampere on), the rest XU.
    {"F2FP", Pipe::Alu, Class::Conversion},
    {"I2FP", Pipe::Alu, Class::Conversion}, // assumed (sm_90)
    {"F2IP", Pipe::Alu, Class::Conversion}, // assumed (sm_90)
    {"F2F", Pipe::Xu, Class::Conversion},
    {"I2F", Pipe::Xu, Class::Conversion},
    {"F2I", Pipe::Xu, Class::Conversion},
    {"I2I", Pipe::Xu, Class::Conversion},
    {"FRND", Pipe::Xu, Class::Conversion},
    {"MUFU", Pipe::Xu, Class::Special},
    // Memory.
    {"LDG", Pipe::Lsu, Class::GlobalLoad},
    {"LD", Pipe::Lsu, Class::GlobalLoad},
    {"STG", Pipe::Lsu, Class::GlobalStore},
    {"ST", Pipe::Lsu, Class::GlobalStore},
    {"LDGSTS", Pipe::Lsu, Class::AsyncCopy},
    {"LDGDEPBAR", Pipe::Lsu, Class::AsyncCopy},
    {"LDS", Pipe::Lsu, Class::SharedLoad},
    {"LDSM", Pipe::Lsu, Class::SharedLoad},
    {"STS", Pipe::Lsu, Class::SharedStore},
    {"LDL", Pipe::Lsu, Class::LocalMemory},
    {"STL", Pipe::Lsu, Class::LocalMemory},
    {"ATOM", Pipe::Lsu, Class::Atomic},
    {"ATOMG", Pipe::Lsu, Class::Atomic},
    {"ATOMS", Pipe::Lsu, Class::Atomic},
    {"RED", Pipe::Lsu, Class::Atomic},
    {"REDG", Pipe::Lsu, Class::Atomic},
    {"CCTL", Pipe::Lsu, Class::Control},
    {"MEMBAR", Pipe::Lsu, Class::Control},
    {"SHFL", Pipe::Lsu, Class::Shuffle},
    {"MATCH", Pipe::Lsu, Class::Shuffle},
    {"S2R", Pipe::Lsu, Class::Move},
    {"LDC", Pipe::Adu, Class::ConstantLoad},
    // Tensor cores.
    {"HMMA", Pipe::Tensor, Class::TensorCore},
    {"IMMA", Pipe::Tensor, Class::TensorCore},
    {"BMMA", Pipe::Tensor, Class::TensorCore},
    {"HGMMA", Pipe::Tensor, Class::TensorCore},
    {"DMMA", Pipe::Tensor, Class::TensorCore},
    // FP64.
    {"DFMA", Pipe::Fp64, Class::Other},
    {"DADD", Pipe::Fp64, Class::Other},
    {"DMUL", Pipe::Fp64, Class::Other},
    {"DSETP", Pipe::Fp64, Class::Other},
    // Control and synchronisation.
    {"BRA", Pipe::Control, Class::Control},
    {"BRX", Pipe::Control, Class::Control},
    {"JMP", Pipe::Control, Class::Control},
    {"JMX", Pipe::Control, Class::Control},
    {"CALL", Pipe::Control, Class::Control},
    {"RET", Pipe::Control, Class::Control},
    {"EXIT", Pipe::Control, Class::Control},
    {"KILL", Pipe::Control, Class::Control},
    {"BSSY", Pipe::Control, Class::Control},
    {"BSYNC", Pipe::Control, Class::Control},
    {"BREAK", Pipe::Control, Class::Control},
    {"BMOV", Pipe::Control, Class::Control},
    {"BAR", Pipe::Control, Class::Control},
    {"WARPSYNC", Pipe::Control, Class::Control},
    {"ENDCOLLECTIVE", Pipe::Control, Class::Control},
    {"DEPBAR", Pipe::Control, Class::Control},
    {"NOP", Pipe::Control, Class::Control},
    {"YIELD", Pipe::Control, Class::Control},
    {"ERRBAR", Pipe::Control, Class::Control},
    {"CGAERRBAR", Pipe::Control, Class::Control},
    {"NANOSLEEP", Pipe::Control, Class::Control},
    {"SYNCS", Pipe::Lsu, Class::Control},
};

const OpcodeInfo *findOpcode(const std::string &base) {
  for (const OpcodeInfo &info : kOpcodes)
    if (base == info.base)
      return &info;
  return nullptr;
}

std::string baseOf(const std::string &opcode) {
  return opcode.substr(0, opcode.find('.'));
}

} // namespace

Pipe pipeOf(const std::string &opcode) {
  const std::string base = baseOf(opcode);
  // HFMA2.MMA (often a constant move) runs on the tensor pipe's FP16 path,
  // which the compiler uses to offload the FMA pipe.
  if (base == "HFMA2" && opcode.find(".MMA") != std::string::npos)
    return Pipe::Tensor;
  if (base.size() > 1 && base[0] == 'U' && !findOpcode(base))
    return Pipe::Uniform; // UIADD3, ULDC, UMOV, ULOP3, ...
  if (base == "S2UR" || base == "R2UR")
    return Pipe::Uniform;
  const OpcodeInfo *info = findOpcode(base);
  return info ? info->pipe : Pipe::Unknown;
}

Class classOf(const std::string &opcode) {
  const std::string base = baseOf(opcode);
  if (base == "IMAD" && opcode.find(".MOV") != std::string::npos)
    return Class::Move; // The compiler's move on the FMA-heavy pipe.
  if (base == "HFMA2" && opcode.find(".MMA") != std::string::npos)
    return Class::Move;
  if (base == "ULDC")
    return Class::ConstantLoad;
  if (base.size() > 1 && base[0] == 'U' && !findOpcode(base))
    return Class::Uniform;
  if (base == "S2UR" || base == "R2UR")
    return Class::Uniform;
  const OpcodeInfo *info = findOpcode(base);
  return info ? info->cls : Class::Other;
}

const char *pipeName(Pipe pipe) {
  switch (pipe) {
  case Pipe::Alu:
    return "alu";
  case Pipe::Fma:
    return "fma";
  case Pipe::FmaHeavy:
    return "fma_heavy";
  case Pipe::Tensor:
    return "tensor";
  case Pipe::Lsu:
    return "lsu";
  case Pipe::Xu:
    return "xu";
  case Pipe::Fp64:
    return "fp64";
  case Pipe::Uniform:
    return "uniform";
  case Pipe::Adu:
    return "adu";
  case Pipe::Control:
    return "control";
  case Pipe::Unknown:
    return "unknown";
  }
  return "unknown";
}

const char *className(Class c) {
  static const char *const names[kClassCount] = {
      "fp32",         "fp16",          "int_logic",    "int_arith",
      "int_multiply", "move",          "conversion",   "special",
      "global_load",  "async_copy",    "global_store", "shared_load",
      "shared_store", "local_memory",  "atomic",       "shuffle",
      "tensor_core",  "constant_load", "uniform",      "control",
      "other"};
  return names[static_cast<int>(c)];
}

int accessBytes(const std::string &opcode) {
  Instruction in;
  in.opcode = opcode;
  if (in.hasModifier("128"))
    return 16;
  if (in.hasModifier("64"))
    return 8;
  if (in.hasModifier("U16") || in.hasModifier("S16"))
    return 2;
  if (in.hasModifier("U8") || in.hasModifier("S8"))
    return 1;
  return 4;
}

} // namespace awq::sass
