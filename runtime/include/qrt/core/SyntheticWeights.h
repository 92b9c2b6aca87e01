//===- SyntheticWeights.h - weights of weightless plans ---------*- C++ -*-===//
//
// A weightless plan (Plan.weightless) carries metadata and code but no weight
// bytes; the runtime synthesizes every weight at load, deterministically from
// Plan.weight_seed, in the exact format the plan's steps read it, so the
// kernels run the model at full size and speed where only the small plan
// file is present (e.g. a Llama-2-7B-shaped benchmark). The values are
// chosen to keep activations finite and bounded, not to mean anything: a
// weightless plan measures speed, never quality.
//
// What each weight holds, from the first step that reads it:
//   - embedding tables: uniform in [-1, 1];
//   - RMSNorm weights: 1;
//   - matmul weights [n, k]: uniform in [-1/sqrt(k), 1/sqrt(k)];
//   - rotary cos/sin tables [positions, rotary_dim/2]: the true cos and sin
//     of position * base^(-2i/rotary_dim) (base 10000 when the step has none);
//   - the components of a dequant_matmul weight [rows, cols], a = 1/sqrt(cols):
//     random packed codes (unused high bits of a row's last byte zero);
//     intN scales uniform in [0.5, 1] * 2a / (2^bits - 1) and zero points
//     uniform in [2^(bits-2), 3 * 2^(bits-2)] (symmetric: the implicit
//     2^(bits-1)), so |w| <= 2a; g_idx[c] = c / group_size; NF4 absmax
//     uniform in [a, 2a], or with double quantization random 8-bit codes,
//     scales uniform in [0.25a, 0.5a] and offset 1.5a (absmax in [a, 2a]);
//   - any other weight: floats uniform in [-1/sqrt(d), 1/sqrt(d)] (d its last
//     dimension), integers 0.
// Floats are rounded to the weight's type (f32, f16 or bf16).
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CORE_SYNTHETICWEIGHTS_H
#define QRT_CORE_SYNTHETICWEIGHTS_H

#include "qrt/schema/plan_generated.h"

#include <cstdint>
#include <vector>

namespace qrt {

/// Where the synthesized weights of a plan lie in one block of memory.
struct SyntheticLayout {
  /// Byte offset of each weight (a multiple of kWeightAlignment).
  std::vector<uint64_t> offsets;
  /// Bytes of the whole block.
  uint64_t bytes = 0;
};

/// The layout of `plan`'s weights (their WeightInfo sizes, 64-byte aligned).
SyntheticLayout syntheticLayout(const fb::Plan &plan);

/// Writes every weight of the verified plan `plan` at base + offsets[i] of
/// `layout`, from `seed`. The bytes depend only on the plan and the seed, not
/// on `threads` (0: all cores).
void synthesizeWeights(const fb::Plan &plan, uint64_t seed,
                       const SyntheticLayout &layout, uint8_t *base,
                       unsigned threads = 0);

} // namespace qrt

#endif // QRT_CORE_SYNTHETICWEIGHTS_H
