//===- RaiseAttention.cpp - matmul/softmax attention -> qllm.attention ----===//

#include "quant/Passes/Passes.h"

#include "PatternUtils.h"

#include "mlir/IR/PatternMatch.h"

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMRAISEATTENTIONPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

/// Keys or values in [b, heads, t, d] as the score matmul reads them: the
/// new ones appended to a past cache (concat on axis 2) and repeated from
/// fewer KV heads (unsqueeze(2) -> expand -> reshape), each step optional.
struct KeyValues {
  Value fresh;   // [b, kv_heads, s, d], the new keys/values
  Value past;    // [b, kv_heads, p, d] or null
  Value present; // the concat (or `fresh` without a past)
};

std::optional<KeyValues> matchKeyValues(Value v, int64_t heads) {
  KeyValues kv;
  // repeat_kv
  if (auto reshape = v.getDefiningOp<ReshapeOp>()) {
    auto expand = reshape.getInput().getDefiningOp<ExpandOp>();
    auto unsqueeze =
        expand ? expand.getInput().getDefiningOp<UnsqueezeOp>() : UnsqueezeOp();
    if (!unsqueeze || unsqueeze.getAxes() != ArrayRef<int64_t>{2})
      return std::nullopt;
    auto expanded = cast<RankedTensorType>(expand.getType());
    auto source = cast<RankedTensorType>(unsqueeze.getInput().getType());
    int64_t kvHeads = source.getDimSize(1), rep = expanded.getDimSize(2);
    if (ShapedType::isDynamic(kvHeads) || ShapedType::isDynamic(rep) ||
        kvHeads * rep != heads)
      return std::nullopt;
    v = unsqueeze.getInput();
  }
  kv.present = v;
  if (auto concat = v.getDefiningOp<ConcatOp>()) {
    if (concat.getAxis() != 2 || concat.getInputs().size() != 2)
      return std::nullopt;
    kv.past = concat.getInputs()[0];
    kv.fresh = concat.getInputs()[1];
  } else {
    kv.fresh = v;
  }
  if (cast<RankedTensorType>(kv.fresh.getType()).getRank() != 4)
    return std::nullopt;
  return kv;
}

/// softmax(scale * q @ k^T + bias) @ v over [b, heads, s, d].
struct RaiseAttention : OpRewritePattern<MatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatmulOp op,
                                PatternRewriter &rewriter) const override {
    auto outType = cast<RankedTensorType>(op.getType());
    if (outType.getRank() != 4 || op.getTransposeRhs())
      return failure();
    auto softmax = stripFloatCasts(op.getLhs()).getDefiningOp<SoftmaxOp>();
    if (!softmax || softmax.getAxis() != 3)
      return rewriter.notifyMatchFailure(op, "lhs is not a softmax");
    Value logits = stripFloatCasts(softmax.getInput());

    // Optional additive bias (the mask): the operand that is not the scores.
    Value bias;
    auto isScores = [](Value v) {
      return v.getDefiningOp<DivOp>() || v.getDefiningOp<MulOp>() ||
             v.getDefiningOp<MatmulOp>();
    };
    if (auto add = logits.getDefiningOp<AddOp>()) {
      Value scores;
      if (!orderOperands(add, scores, bias, isScores))
        return failure();
      logits = scores;
      if (cast<RankedTensorType>(bias.getType()).getRank() != 4)
        return failure();
    }
    // Optional scale.
    double scale = 1.0;
    if (auto div = logits.getDefiningOp<DivOp>()) {
      std::optional<double> c = scalarFloat(div.getRhs());
      if (!c || *c == 0.0)
        return failure();
      scale = 1.0 / *c;
      logits = div.getLhs();
    } else if (auto mul = logits.getDefiningOp<MulOp>()) {
      Value c, rest;
      if (!orderOperands(mul, c, rest,
                         [](Value v) { return scalarFloat(v).has_value(); }))
        return failure();
      scale = *scalarFloat(c);
      logits = rest;
    }
    auto scores = logits.getDefiningOp<MatmulOp>();
    if (!scores)
      return rewriter.notifyMatchFailure(op, "no q @ k^T");
    Value q = scores.getLhs(), keys = scores.getRhs();
    if (!scores.getTransposeRhs()) {
      auto transpose = keys.getDefiningOp<TransposeOp>();
      if (!transpose || transpose.getPermutation() != ArrayRef<int64_t>{0, 1, 3, 2})
        return failure();
      keys = transpose.getInput();
    }
    auto qType = cast<RankedTensorType>(q.getType());
    int64_t heads = qType.getDimSize(1);
    if (qType.getRank() != 4 || ShapedType::isDynamic(heads))
      return failure();
    std::optional<KeyValues> k = matchKeyValues(keys, heads);
    std::optional<KeyValues> v = matchKeyValues(op.getRhs(), heads);
    if (!k || !v || (k->past != nullptr) != (v->past != nullptr))
      return rewriter.notifyMatchFailure(op, "keys/values not recognized");
    Type element = qType.getElementType();
    for (Value value : {k->fresh, v->fresh, k->past, v->past})
      if (value && getElementTypeOrSelf(value.getType()) != element)
        return failure();

    // Build qllm.attention on [b, s, h, d].
    Location loc = op.getLoc();
    auto swap = rewriter.getDenseI64ArrayAttr({0, 2, 1, 3});
    auto toBshd = [&](Value x) -> Value {
      auto t = cast<RankedTensorType>(x.getType());
      auto type = RankedTensorType::get(
          {t.getDimSize(0), t.getDimSize(2), t.getDimSize(1), t.getDimSize(3)},
          t.getElementType());
      return TransposeOp::create(rewriter, loc, type, x, swap);
    };
    Value qb = toBshd(q), kb = toBshd(k->fresh), vb = toBshd(v->fresh);
    auto kType = cast<RankedTensorType>(k->present.getType());
    auto vType = cast<RankedTensorType>(v->present.getType());
    auto outBshd = RankedTensorType::get(
        {outType.getDimSize(0), outType.getDimSize(2), outType.getDimSize(1),
         outType.getDimSize(3)},
        element);
    auto attention = AttentionOp::create(
        rewriter, loc, outBshd, kType, vType, qb, kb, vb, k->past, v->past,
        /*attention_mask=*/Value(), bias,
        rewriter.getF32FloatAttr(static_cast<float>(scale)), /*causal=*/false);
    if (k->past) {
      // Later users (the graph's `present` outputs) read the attention's
      // presents; earlier ones are the score computation, about to die.
      auto later = [&](OpOperand &use) {
        Operation *user = use.getOwner();
        return user->getBlock() != attention->getBlock() ||
               attention->isBeforeInBlock(user);
      };
      rewriter.replaceUsesWithIf(k->present, attention.getPresentKey(), later);
      rewriter.replaceUsesWithIf(v->present, attention.getPresentValue(), later);
    }
    rewriter.replaceOpWithNewOp<TransposeOp>(op, outType, attention.getOutput(),
                                             swap);
    return success();
  }
};

struct QLLMRaiseAttentionPass
    : qllm::impl::QLLMRaiseAttentionPassBase<QLLMRaiseAttentionPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RaiseAttention>(&getContext());
    if (failed(applyRaisingPatterns(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
