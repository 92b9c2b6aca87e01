//===- RaiseEmbedding.cpp - gather of weight rows -> qllm.embedding -------===//

#include "quant/Passes/Passes.h"

#include "PatternUtils.h"
#include "qllm/IR/QLLMOps.h"

#include "mlir/IR/PatternMatch.h"

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMRAISEEMBEDDINGPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

/// gather(table [vocab, dim] weight, ids, axis 0) -> embedding(table, ids).
struct RaiseEmbedding : OpRewritePattern<GatherOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GatherOp op,
                                PatternRewriter &rewriter) const override {
    auto table = op.getData().getDefiningOp<WeightOp>();
    auto type = cast<RankedTensorType>(op.getData().getType());
    if (!table || op.getAxis() != 0 || type.getRank() != 2 ||
        !isa<FloatType>(type.getElementType()))
      return rewriter.notifyMatchFailure(op, "not a row lookup in a weight");
    rewriter.replaceOpWithNewOp<EmbeddingOp>(op, op.getType(), op.getData(),
                                             op.getIndices());
    return success();
  }
};

struct QLLMRaiseEmbeddingPass
    : qllm::impl::QLLMRaiseEmbeddingPassBase<QLLMRaiseEmbeddingPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RaiseEmbedding>(&getContext());
    if (failed(applyRaisingPatterns(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
