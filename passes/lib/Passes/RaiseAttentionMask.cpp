//===- RaiseAttentionMask.cpp - recognize the causal mask by evaluation ---===//
//
// Exporters build the causal + padding mask in many different subgraphs
// (Range/Less/Where, Trilu, ConstantOfShape/Expand/Tile, ...). Instead of
// matching each, this pass runs the attention bias subgraph with the
// reference evaluator on sample inputs and compares the result with what
// `causal mask(attention_mask)` means.
//
//===----------------------------------------------------------------------===//

#include "quant/Passes/Passes.h"

#include "PatternUtils.h"

#include "qllm/Analysis/ReferenceEvaluator.h"
#include "qllm/IR/QLLMOps.h"
#include "qllm/IR/QLLMPlanAttrs.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMRAISEATTENTIONMASKPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

/// Sizes of the named symbolic dimensions in one sample.
struct Sample {
  int64_t batch, seq, past;
  int64_t total() const { return past + seq; }
  /// Which keys of each batch row are padding (mask value 0).
  std::vector<std::vector<int64_t>> padded;
};

/// The size of a dimension of role `role` (qllm-classify-dims), or nullopt
/// for one that is not a sequence or batch dimension.
std::optional<int64_t> dimByRole(DimRole role, const Sample &sample) {
  switch (role) {
  case DimRole::batch:
    return sample.batch;
  case DimRole::sequence:
    return sample.seq;
  case DimRole::past_sequence:
    return sample.past;
  case DimRole::total_sequence:
    return sample.total();
  case DimRole::other:
    return std::nullopt;
  }
  return std::nullopt;
}

/// The concrete type of argument `index` in a sample.
std::optional<SmallVector<int64_t>> argShape(func::FuncOp func, unsigned index,
                                             const Sample &sample) {
  auto type = dyn_cast<RankedTensorType>(func.getArgument(index).getType());
  if (!type)
    return std::nullopt;
  SmallVector<DimRole> roles = getArgDimRoles(func, index);
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < type.getRank(); ++i) {
    if (!ShapedType::isDynamic(type.getDimSize(i))) {
      shape.push_back(type.getDimSize(i));
      continue;
    }
    std::optional<int64_t> size =
        i < static_cast<int64_t>(roles.size()) ? dimByRole(roles[i], sample)
                                               : std::nullopt;
    if (!size)
      return std::nullopt;
    shape.push_back(*size);
  }
  return shape;
}

/// True when `bias` ([b or 1, h or 1, seq, total]) is 0 where a key is
/// visible and <= -1e4 where it is masked: causal, plus padding if given.
bool matchesMask(const RefTensor &bias, const Sample &sample, bool withPadding) {
  if (bias.shape.size() != 4 || bias.shape[2] != sample.seq ||
      bias.shape[3] != sample.total() ||
      (bias.shape[0] != 1 && bias.shape[0] != sample.batch))
    return false;
  int64_t heads = bias.shape[1];
  for (int64_t b = 0; b < sample.batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < sample.seq; ++i)
        for (int64_t j = 0; j < sample.total(); ++j) {
          bool masked = j > sample.past + i;
          if (withPadding)
            masked |= llvm::is_contained(sample.padded[b], j);
          int64_t bb = bias.shape[0] == 1 ? 0 : b;
          double v = bias.data[((bb * heads + h) * sample.seq + i) *
                                   sample.total() +
                               j];
          if (masked ? !(v <= -1e4) : v != 0.0)
            return false;
        }
  return true;
}

struct QLLMRaiseAttentionMaskPass
    : qllm::impl::QLLMRaiseAttentionMaskPassBase<QLLMRaiseAttentionMaskPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    func.walk([&](AttentionOp op) { raise(func, op); });
  }

  void raise(func::FuncOp func, AttentionOp op) {
    Value bias = op.getAttentionBias();
    if (!bias || op.getAttentionMask() || op.getCausal())
      return;
    // The function arguments the bias depends on, and which of them is the
    // padding mask: an integer argument of dimensions [batch, total].
    llvm::SetVector<BlockArgument> args = argumentsOf(bias);
    std::optional<unsigned> maskArg;
    for (BlockArgument arg : args) {
      auto type = cast<RankedTensorType>(arg.getType());
      if (type.getElementType().isInteger() &&
          getArgDimRoles(func, arg.getArgNumber()) ==
              SmallVector<DimRole>{DimRole::batch, DimRole::total_sequence}) {
        if (maskArg)
          return; // ambiguous
        maskArg = arg.getArgNumber();
      }
    }

    // Samples: prefill, decode, chunks after a past, batches with padding.
    std::vector<Sample> samples = {
        {1, 1, 0, {{}}},          {1, 4, 0, {{}}},
        {1, 3, 2, {{}}},          {1, 1, 5, {{}}},
        {2, 3, 2, {{}, {0, 1}}},  {3, 1, 4, {{0}, {}, {0, 1, 2}}},
    };
    for (bool withPadding : {true, false}) {
      if (withPadding && !maskArg)
        continue;
      bool all = true;
      for (const Sample &sample : samples) {
        if (!withPadding && llvm::any_of(sample.padded, [](const auto &p) {
              return !p.empty();
            }))
          continue; // a causal-only bias cannot know about padding
        if (sample.past > 0 && !op.getPastKey())
          continue; // without a cache there is no past
        // With padding, the mask argument holds the sample's padding and
        // other arguments zeros. Causal only, the bias must not depend on
        // any argument's values: it is evaluated with all zeros and all ones.
        for (double fill : withPadding ? std::vector<double>{0.0}
                                       : std::vector<double>{0.0, 1.0}) {
          ReferenceEvaluator evaluator;
          for (BlockArgument arg : args) {
            std::optional<SmallVector<int64_t>> shape =
                argShape(func, arg.getArgNumber(), sample);
            if (!shape)
              return;
            RefTensor value = RefTensor::filled(*shape, fill);
            if (withPadding && arg.getArgNumber() == *maskArg) {
              value = RefTensor::filled(*shape, 1.0);
              for (int64_t b = 0; b < sample.batch; ++b)
                for (int64_t j : sample.padded[b])
                  value.data[b * sample.total() + j] = 0.0;
            }
            evaluator.bind(arg, std::move(value));
          }
          FailureOr<RefTensor> result = evaluator.evaluate(bias);
          // Prefill (no past) and decode (one token) must work. Some
          // exporters' masks cannot be evaluated for a chunk after a past
          // (ONNX Runtime GenAI's expand [.., seq, seq] to [.., seq, total]);
          // there the raised graph is defined where the original was not.
          bool required = sample.past == 0 || sample.seq == 1;
          if (failed(result) && !required)
            continue;
          if (failed(result) || !matchesMask(*result, sample, withPadding))
            all = false;
        }
        if (!all)
          break;
      }
      if (!all)
        continue;
      OpBuilder builder(op);
      Value mask = withPadding ? func.getArgument(*maskArg) : Value();
      auto raised = AttentionOp::create(
          builder, op.getLoc(), op.getResultTypes(), op.getQuery(), op.getKey(),
          op.getValue(), op.getPastKey(), op.getPastValue(), mask,
          /*attention_bias=*/Value(), op.getScaleAttr(), builder.getUnitAttr());
      op->replaceAllUsesWith(raised->getResults());
      op->erase();
      return;
    }
  }
};

} // namespace
