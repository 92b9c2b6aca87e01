//===- StepRows.h - which token rows each step of a forward needs -*- C++ -*-===//
//
// A prefill chunk of n tokens that only needs the last token's logits (a
// prompt before generation), or none (every chunk of a long prompt but the
// last), need not run every step on all n rows. Row i of most steps depends
// only on row i of their inputs; attention is the one step that mixes rows,
// and it reads them from the KV cache, which every token of every layer must
// enter. So after the last layer's keys and values, only the last row feeds
// the logits: the last layer's query, attention, output projection and MLP,
// the final norm and the output projection run on one row (llama.cpp does the
// same), and without logits they do not run at all.
//
// stepRows finds this for any entry by a backward pass over its steps and
// their arena regions, which may alias: it stays conservative (All) for a
// step it cannot prove row-wise.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_RUNTIME_STEPROWS_H
#define QRT_RUNTIME_STEPROWS_H

#include "qrt/schema/plan_generated.h"

#include <cstdint>
#include <vector>

namespace qrt {

/// The token rows of a step's output that a forward needs.
enum class Rows : uint8_t {
  /// None: the step need not run (an Attention step still appends its keys
  /// and values to the cache).
  None = 0,
  /// Only the chunk's last token.
  Last = 1,
  /// Every token of the chunk.
  All = 2,
};

/// For each step of `entry`, in order, the rows it must compute when the
/// caller wants `logits` rows of the entry's logits. Last only where the
/// step's tensors have contiguous token rows (rowElements > 0) and its
/// output does not partly overlap an input; steps that are not row-wise
/// (Int8MatMul: outlier columns come from every row) need all rows of
/// their inputs.
std::vector<Rows> stepRows(const fb::Entry &entry, Rows logits);

/// Elements of one token row of `tensor`: the product of the dimensions
/// after its token dimension (-1) when every dimension before it is 1 (the
/// rows are then contiguous); 0 otherwise (no token dimension, or rows
/// interleaved).
int64_t rowElements(const fb::TensorInfo &tensor);

} // namespace qrt

#endif // QRT_RUNTIME_STEPROWS_H
