//===- primitives.h - Host emulation of the inline PTX the kernels use ----===//
//
// The `#else` branch of every inline-PTX site in the device library calls one
// of these (signatures fixed by the device library contract). Semantics follow
// the PTX ISA as summarized in shared/notes/ptx-semantics.md:
//   mmaM16N8K16  mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
//   mmaM16N8K8   mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32
//   mmaM16N8K16Bf16  mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
//   ldmatrix     ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].shared.b16
//   cpAsync*     cp.async.{ca,cg}.shared.global (+ src-size), commit_group,
//                wait_group
//   lop3         lop3.b32 with any immLut
//   prmt         prmt.b32 default mode, including sign replication
// The first three need the running block (they are warp-collective or
// per-thread state) and throw when called outside a kernel launch; lop3 and
// prmt are pure functions.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_DEVICE_HOST_PRIMITIVES_H
#define AWQ_DEVICE_HOST_PRIMITIVES_H

#include "awq/host/warp.h"

#include <cstdint>
#include <cstring>
#include <string>

namespace awq {
namespace host {

/// Raises unless the emulated architecture (AWQ_HOST_SM) has `instruction`:
/// a kernel built for sm_75 must never reach an sm_80 instruction, which the
/// GPU would refuse to assemble.
inline void requireFeature(bool present, const char *instruction) {
  if (!present)
    detail::raise(std::string(instruction) +
                  " is not available on the emulated architecture "
                  "(AWQ_HOST_SM); the kernel must take its other path");
}

/// Warp-collective (all 32 lanes call it): D = A*B + C, m16n8k16, f16
/// inputs, f32 accumulate, PTX fragment layouts. The sum of the 16 exact
/// products and C is formed in double in k order and rounded once to fp32.
inline void mmaM16N8K16(float d[4], const uint32_t a[4], const uint32_t b[2],
                        const float c[4], bool bf16 = false) {
  detail::BlockState &block = detail::activeBlock("mma.sync.m16n8k16");
  const detail::Site site{"mma.sync.m16n8k16", "", 0};
  detail::LaneInput &in =
      detail::joinWarpOp(block, detail::WarpOp::Mma, 0xffffffffu, site);
  std::memcpy(in.a, a, sizeof(in.a));
  std::memcpy(in.bf, b, sizeof(in.bf));
  std::memcpy(in.cf, c, sizeof(in.cf));
  in.bf16 = bf16;
  const detail::LaneOutput &out = detail::arriveWarpOp(block, site);
  std::memcpy(d, out.word, 4 * sizeof(float));
}

/// Warp-collective: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
/// (sm_80+), the same fragment layouts with bf16 pairs. Every bf16 product is
/// exact in double; the 16 products and C are summed in double in k order
/// and rounded once to fp32, as for fp16.
inline void mmaM16N8K16Bf16(float d[4], const uint32_t a[4],
                            const uint32_t b[2], const float c[4]) {
  mmaM16N8K16(d, a, b, c, true);
}

/// Warp-collective: mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32, A
/// registers a[0..1], B register b, PTX fragment layouts. The m16n8k16
/// emulation with the K = 8..15 registers zero: the 8 products and C are
/// summed in double and rounded once to fp32, as there.
inline void mmaM16N8K8(float d[4], const uint32_t a[2], uint32_t b,
                       const float c[4]) {
  const uint32_t a16[4] = {a[0], a[1], 0u, 0u};
  const uint32_t b16[2] = {b, 0u};
  mmaM16N8K16(d, a16, b16, c);
}

/// Warp-collective: ldmatrix.sync.aligned.m8n8.x{count}[.trans].shared.b16;
/// count in {1,2,4}; rowAddress = this lane's 16-byte row start in shared
/// memory (only lanes 0 .. 8*count-1 supply rows). Writes dst[0, count).
inline void ldmatrix(uint32_t *dst, int count, bool transpose,
                     const void *rowAddress) {
  detail::BlockState &block = detail::activeBlock("ldmatrix");
  if (count != 1 && count != 2 && count != 4)
    detail::raise("ldmatrix: count must be 1, 2 or 4, got " +
                  std::to_string(count));
  const detail::Site site{"ldmatrix", "", 0};
  detail::LaneInput &in =
      detail::joinWarpOp(block, detail::WarpOp::Ldmatrix, 0xffffffffu, site);
  in.row = rowAddress;
  in.count = count;
  in.transpose = transpose;
  const detail::LaneOutput &out = detail::arriveWarpOp(block, site);
  std::memcpy(dst, out.word, static_cast<size_t>(count) * sizeof(uint32_t));
}

/// cp.async: copy `bytes` (4, 8, 16) from global to shared; bytes at and
/// beyond srcBytes are zero-filled. The source is read now; the destination
/// is written only when a later cpAsyncWait covers the copy's group, so
/// reading it earlier shows the old (poisoned) contents. Visible to this
/// thread only until a barrier, as on the GPU.
inline void cpAsync(void *sharedDst, const void *globalSrc, int bytes,
                    int srcBytes) {
  detail::BlockState &block = detail::activeBlock("cp.async");
  if (bytes != 4 && bytes != 8 && bytes != 16)
    detail::raise("cp.async: copy size must be 4, 8 or 16 bytes, got " +
                  std::to_string(bytes));
  if (srcBytes < 0 || srcBytes > bytes)
    detail::raise("cp.async: src-size must be in [0, " + std::to_string(bytes) +
                  "], got " + std::to_string(srcBytes));
  unsigned char *dst = static_cast<unsigned char *>(sharedDst);
  const unsigned char *lowest = block.shared();
  if (dst < lowest || dst + bytes > lowest + block.sharedBytes())
    detail::raise("cp.async: destination is outside the block's dynamic "
                  "shared memory (" +
                  std::to_string(block.sharedBytes()) +
                  " bytes; declare it with AWQ_DYNAMIC_SHARED)");
  if ((dst - lowest) % bytes != 0)
    detail::raise("cp.async: destination shared offset " +
                  std::to_string(dst - lowest) + " is not aligned to " +
                  std::to_string(bytes) + " bytes");
  if (srcBytes > 0 && reinterpret_cast<uintptr_t>(globalSrc) % bytes != 0)
    detail::raise("cp.async: global source address is not aligned to " +
                  std::to_string(bytes) + " bytes");
  detail::CpAsyncState &state = block.self().cp;
  state.copies.emplace_back();
  detail::PendingCopy &copy = state.copies.back();
  copy.dst = dst;
  copy.bytes = bytes;
  std::memset(copy.data, 0, sizeof(copy.data));
  if (srcBytes > 0)
    std::memcpy(copy.data, globalSrc, static_cast<size_t>(srcBytes));
}

/// cp.async.commit_group: closes this thread's uncommitted copies into a
/// group (possibly empty; an empty group is complete at once).
inline void cpAsyncCommit() {
  detail::BlockState &block = detail::activeBlock("cp.async.commit_group");
  detail::CpAsyncState &state = block.self().cp;
  state.groupEnds.push_back(state.copies.size());
}

/// cp.async.wait_group N: completes this thread's oldest committed groups
/// until at most maxPendingGroups remain pending; groups complete in commit
/// order. Uncommitted copies are not affected.
inline void cpAsyncWait(int maxPendingGroups) {
  detail::BlockState &block = detail::activeBlock("cp.async.wait_group");
  if (maxPendingGroups < 0)
    detail::raise("cp.async.wait_group: N must be >= 0, got " +
                  std::to_string(maxPendingGroups));
  detail::CpAsyncState &state = block.self().cp;
  while (state.pendingGroups() > static_cast<size_t>(maxPendingGroups))
    state.landOldestGroup();
}

/// lop3.b32: bit k of the result is bit (4*a_k + 2*b_k + c_k) of immLut.
inline uint32_t lop3(uint32_t a, uint32_t b, uint32_t c, uint32_t immLut) {
  uint32_t result = 0;
  // One minterm per LUT bit: index 4a + 2b + c selects a's, b's, c's value.
  for (unsigned index = 0; index < 8; ++index) {
    if (!(immLut >> index & 1u))
      continue;
    const uint32_t ma = (index & 4u) ? a : ~a;
    const uint32_t mb = (index & 2u) ? b : ~b;
    const uint32_t mc = (index & 1u) ? c : ~c;
    result |= ma & mb & mc;
  }
  return result;
}

/// prmt.b32 (default mode): source bytes 0-7 are {b, a} = (b << 32) | a;
/// nibble i of the selector picks result byte i (low 3 bits: which byte;
/// bit 3: replicate that byte's sign bit instead). Only selector[15:0] is used.
inline uint32_t prmt(uint32_t a, uint32_t b, uint32_t selector) {
  const uint64_t source = static_cast<uint64_t>(b) << 32 | a;
  uint32_t result = 0;
  for (unsigned i = 0; i < 4; ++i) {
    const uint32_t nibble = (selector >> (4 * i)) & 0xfu;
    uint32_t byte =
        static_cast<uint32_t>(source >> (8 * (nibble & 7u))) & 0xffu;
    if (nibble & 8u)
      byte = (byte & 0x80u) ? 0xffu : 0x00u;
    result |= byte << (8 * i);
  }
  return result;
}

} // namespace host
} // namespace awq

#endif // AWQ_DEVICE_HOST_PRIMITIVES_H
