//===- RaiseSwiGlu.cpp - x*sigmoid(x) -> silu, silu(g)*u -> swiglu --------===//

#include "quant/Passes/Passes.h"

#include "PatternUtils.h"

#include "mlir/IR/PatternMatch.h"

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMRAISESWIGLUPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

/// mul(x, sigmoid(x)) -> silu(x), in either operand order.
struct RaiseSilu : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    Value sigmoid, x;
    if (!orderOperands(op, sigmoid, x, [](Value v) {
          return v.getDefiningOp<SigmoidOp>() != nullptr;
        }))
      return rewriter.notifyMatchFailure(op, "no sigmoid operand");
    if (sigmoid.getDefiningOp<SigmoidOp>().getInput() != x ||
        x.getType() != op.getType())
      return rewriter.notifyMatchFailure(op, "not x * sigmoid(x)");
    rewriter.replaceOpWithNewOp<SiluOp>(op, op.getType(), x);
    return success();
  }
};

/// mul(silu(g), u) -> swiglu(g, u), in either operand order.
struct RaiseSwiGlu : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    Value silu, up;
    if (!orderOperands(op, silu, up, [](Value v) {
          return v.getDefiningOp<SiluOp>() != nullptr;
        }))
      return rewriter.notifyMatchFailure(op, "no silu operand");
    Value gate = silu.getDefiningOp<SiluOp>().getInput();
    if (gate.getType() != op.getType() || up.getType() != op.getType())
      return rewriter.notifyMatchFailure(op, "operands broadcast");
    rewriter.replaceOpWithNewOp<SwiGluOp>(op, op.getType(), gate, up);
    return success();
  }
};

struct QLLMRaiseSwiGluPass
    : qllm::impl::QLLMRaiseSwiGluPassBase<QLLMRaiseSwiGluPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RaiseSilu>(&getContext(), /*benefit=*/2);
    patterns.add<RaiseSwiGlu>(&getContext(), /*benefit=*/1);
    if (failed(applyRaisingPatterns(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
