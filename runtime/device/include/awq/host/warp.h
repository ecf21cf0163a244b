//===- warp.h - Warp collectives: rendezvous of 32 fibers and their math --===//
//
// A warp collective (shuffle, vote, __syncwarp, mma.sync, ldmatrix) is a
// rendezvous: each lane deposits its operands, the last lane to arrive
// computes every lane's result at once (so ldmatrix reads shared memory at
// one instant, as the hardware's single warp-wide instruction does), and the
// waiting lanes resume with their results. The emulation supports only full
// masks (every existing, non-exited lane of the warp), which is what the
// project's kernels use; anything else is reported as misuse.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_DEVICE_HOST_WARP_H
#define AWQ_DEVICE_HOST_WARP_H

#include "awq/host/scheduler.h"

#include <cstdio>
#include <string>

namespace awq {
namespace host {
namespace detail {

inline std::string hexMask(uint32_t mask) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "0x%08x", mask);
  return buffer;
}

inline std::string laneList(uint32_t mask) {
  std::vector<unsigned> lanes;
  for (unsigned lane = 0; lane < 32; ++lane)
    if (mask >> lane & 1u)
      lanes.push_back(lane);
  return formatRanges(lanes);
}

/// Exact fp16 -> fp32 (every fp16 value is an fp32 value).
inline float halfBitsToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1fu) { // inf / NaN, keeping the payload
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) { // normal: rebias 15 -> 127
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else { // zero or subnormal: mantissa * 2^-24, exact in fp32
    float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    std::memcpy(&bits, &magnitude, sizeof(bits));
    bits |= sign;
  }
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

/// The rendezvous slot of the running lane, after checking that the call
/// may join the warp's open collective.
inline LaneInput &joinWarpOp(BlockState &block, WarpOp op, uint32_t mask,
                             const Site &site) {
  ThreadState &t = block.self();
  WarpState &w = block.warps[t.warp];
  if (mask != w.memberMask) {
    const std::string prefix = site.str() + " with mask " + hexMask(mask) +
                               " in warp " + std::to_string(t.warp) +
                               ", lane " + std::to_string(t.lane) + ": ";
    if (!(mask >> t.lane & 1u))
      raise(prefix + "the calling lane is not in the mask");
    if (mask & ~w.memberMask)
      raise(prefix + "the mask names lanes " + laneList(mask & ~w.memberMask) +
            " that this warp does not have (the block has " +
            std::to_string(block.numThreads) + " threads)");
    raise(prefix +
          "partial masks are not supported by the host emulation; "
          "pass the full mask " +
          hexMask(w.memberMask));
  }
  if (mask & w.exitedMask)
    raise(site.str() + ": the mask names lanes " +
          laneList(mask & w.exitedMask) + " of warp " + std::to_string(t.warp) +
          " that already exited");
  if (w.arrivedMask == 0) {
    w.op = op;
    w.site = site;
  } else if (w.op != op) {
    raise(site.str() + " in warp " + std::to_string(t.warp) + ", lane " +
          std::to_string(t.lane) + " while lanes " + laneList(w.arrivedMask) +
          " wait in " + w.site.str() +
          " (warp divergence: all lanes must execute the same collective)");
  }
  return w.in[t.lane];
}

inline void completeShuffle(WarpState &w, WarpOp op) {
  for (unsigned lane = 0; lane < 32; ++lane) {
    if (!(w.memberMask >> lane & 1u))
      continue;
    // PTX ISA shfl.sync: c packs the segment mask (c[12:8]) and the clamp
    // (c[4:0]); a source outside the clamp reads the lane's own value.
    const LaneInput &in = w.in[lane];
    const int bval = static_cast<int>(in.b & 31u);
    const int cval = static_cast<int>(in.c & 31u);
    const int segmask = static_cast<int>((in.c >> 8) & 31u);
    const int self = static_cast<int>(lane);
    const int maxLane = (self & segmask) | (cval & ~segmask);
    const int minLane = self & segmask;
    int source = self;
    bool valid = true;
    switch (op) {
    case WarpOp::ShflUp:
      source = self - bval;
      valid = source >= maxLane;
      break;
    case WarpOp::ShflDown:
      source = self + bval;
      valid = source <= maxLane;
      break;
    case WarpOp::ShflXor:
      source = self ^ bval;
      valid = source <= maxLane;
      break;
    default: // ShflIdx
      source = minLane | (bval & ~segmask);
      valid = source <= maxLane;
      break;
    }
    if (!valid)
      source = self;
    if (!(w.memberMask >> source & 1u))
      raise(std::string(warpOpName(op)) + ": lane " + std::to_string(lane) +
            " reads lane " + std::to_string(source) +
            ", which this partial warp does not have");
    w.out[w.generation & 1][lane].word[0] =
        static_cast<uint32_t>(w.in[source].value);
    w.out[w.generation & 1][lane].word[1] =
        static_cast<uint32_t>(w.in[source].value >> 32);
  }
}

inline void completeVote(WarpState &w) {
  uint32_t ballot = 0;
  for (unsigned lane = 0; lane < 32; ++lane)
    if ((w.memberMask >> lane & 1u) && w.in[lane].value != 0)
      ballot |= 1u << lane;
  for (unsigned lane = 0; lane < 32; ++lane)
    w.out[w.generation & 1][lane].word[0] = ballot;
}

/// D = A * B + C for m16n8k16 with the PTX fragment layouts (g = lane / 4,
/// t = lane % 4). Each D element is C plus the 16 exact fp16 products summed
/// in double in k order, then rounded once to fp32: at least as accurate as
/// the tensor core, whose internal order and rounding PTX leaves unspecified.
/// With bf16 fragments (every lane must agree) the inputs are bf16 values,
/// exact in fp32 as well.
inline void completeMma(WarpState &w) {
  float a[16][16], b[16][8], c[16][8];
  const bool bf16 = w.in[0].bf16;
  for (unsigned lane = 1; lane < 32; ++lane)
    if (w.in[lane].bf16 != bf16)
      raise("mma.sync: lanes of one warp disagree on the element type "
            "(f16 vs bf16)");
  auto element = [bf16](uint32_t bits) {
    if (!bf16)
      return halfBitsToFloat(static_cast<uint16_t>(bits));
    const uint32_t wide = bits << 16; // bf16 is the top half of an fp32.
    float value;
    std::memcpy(&value, &wide, sizeof(value));
    return value;
  };
  auto lo = [&](uint32_t r) { return element(r & 0xffffu); };
  auto hi = [&](uint32_t r) { return element(r >> 16); };
  for (unsigned lane = 0; lane < 32; ++lane) {
    const LaneInput &in = w.in[lane];
    const unsigned g = lane / 4, t = lane % 4;
    a[g][2 * t] = lo(in.a[0]);
    a[g][2 * t + 1] = hi(in.a[0]);
    a[g + 8][2 * t] = lo(in.a[1]);
    a[g + 8][2 * t + 1] = hi(in.a[1]);
    a[g][2 * t + 8] = lo(in.a[2]);
    a[g][2 * t + 9] = hi(in.a[2]);
    a[g + 8][2 * t + 8] = lo(in.a[3]);
    a[g + 8][2 * t + 9] = hi(in.a[3]);
    b[2 * t][g] = lo(in.bf[0]);
    b[2 * t + 1][g] = hi(in.bf[0]);
    b[2 * t + 8][g] = lo(in.bf[1]);
    b[2 * t + 9][g] = hi(in.bf[1]);
    c[g][2 * t] = in.cf[0];
    c[g][2 * t + 1] = in.cf[1];
    c[g + 8][2 * t] = in.cf[2];
    c[g + 8][2 * t + 1] = in.cf[3];
  }
  float d[16][8];
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 8; ++j) {
      double sum = c[i][j];
      for (int k = 0; k < 16; ++k)
        sum += static_cast<double>(a[i][k]) * static_cast<double>(b[k][j]);
      d[i][j] = static_cast<float>(sum);
    }
  }
  for (unsigned lane = 0; lane < 32; ++lane) {
    const unsigned g = lane / 4, t = lane % 4;
    const float result[4] = {d[g][2 * t], d[g][2 * t + 1], d[g + 8][2 * t],
                             d[g + 8][2 * t + 1]};
    std::memcpy(w.out[w.generation & 1][lane].word, result, sizeof(result));
  }
}

/// ldmatrix .x{count}[.trans]: lanes 8j..8j+7 address the rows of matrix j.
inline void completeLdmatrix(WarpState &w, const BlockState &block) {
  const int count = w.in[0].count;
  const bool transpose = w.in[0].transpose;
  for (unsigned lane = 1; lane < 32; ++lane)
    if (w.in[lane].count != count || w.in[lane].transpose != transpose)
      raise("ldmatrix: lane " + std::to_string(lane) + " asks for .x" +
            std::to_string(w.in[lane].count) +
            (w.in[lane].transpose ? ".trans" : "") + " but lane 0 for .x" +
            std::to_string(count) + (transpose ? ".trans" : "") +
            " (all lanes must execute the same instruction)");
  uint16_t m[4][8][8]; // m[j][r][c]
  const unsigned char *lowest = block.shared();
  const unsigned char *end = lowest + block.sharedBytes();
  for (int row = 0; row < 8 * count; ++row) {
    const unsigned char *p = static_cast<const unsigned char *>(w.in[row].row);
    if (p < lowest || p + 16 > end)
      raise("ldmatrix: lane " + std::to_string(row) +
            " gives a row address outside the block's dynamic shared memory (" +
            std::to_string(block.sharedBytes()) +
            " bytes; declare it with AWQ_DYNAMIC_SHARED)");
    if ((p - lowest) % 16 != 0)
      raise("ldmatrix: lane " + std::to_string(row) +
            " gives a row address at shared offset " +
            std::to_string(p - lowest) + ", not 16-byte aligned");
    std::memcpy(m[row / 8][row % 8], p, 16);
  }
  for (unsigned lane = 0; lane < 32; ++lane) {
    const unsigned r = lane / 4, c = 2 * (lane % 4);
    for (int j = 0; j < count; ++j) {
      const uint16_t low = transpose ? m[j][c][r] : m[j][r][c];
      const uint16_t high = transpose ? m[j][c + 1][r] : m[j][r][c + 1];
      w.out[w.generation & 1][lane].word[j] =
          static_cast<uint32_t>(low) | static_cast<uint32_t>(high) << 16;
    }
  }
}

/// Records the running lane's arrival. The last lane computes all results;
/// the others sleep until then. Returns the lane's result.
inline const LaneOutput &arriveWarpOp(BlockState &block, const Site &site) {
  ThreadState &t = block.self();
  WarpState &w = block.warps[t.warp];
  const uint32_t generation = w.generation;
  const uint32_t bit = 1u << t.lane;
  w.arrivedMask |= bit;
  if (w.arrivedMask == w.memberMask) {
    switch (w.op) {
    case WarpOp::ShflIdx:
    case WarpOp::ShflUp:
    case WarpOp::ShflDown:
    case WarpOp::ShflXor:
      completeShuffle(w, w.op);
      break;
    case WarpOp::VoteBallot:
    case WarpOp::VoteAny:
    case WarpOp::VoteAll:
      completeVote(w);
      break;
    case WarpOp::Mma:
      completeMma(w);
      break;
    case WarpOp::Ldmatrix:
      completeLdmatrix(w, block);
      break;
    default:
      break;
    }
    const uint32_t waiting = w.arrivedMask & ~bit;
    w.arrivedMask = 0;
    w.op = WarpOp::None;
    ++w.generation;
    for (unsigned lane = 0; lane < 32; ++lane)
      if (waiting >> lane & 1u)
        block.makeReady(t.warp * 32 + lane);
  } else {
    t.wait = ThreadWait::Warp;
    t.site = site;
    block.blockRunningThread();
  }
  return w.out[generation & 1][t.lane];
}

} // namespace detail
} // namespace host
} // namespace awq

#endif // AWQ_DEVICE_HOST_WARP_H
