//===- FuseDequantMatmul.cpp - dequantize + matmul -> dequant_matmul ------===//

#include "quant/Passes/Passes.h"

#include "qllm/IR/QLLMOps.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMFUSEDEQUANTMATMULPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

/// matmul(x, dequantize(q)) transpose_rhs (or matmul(x, transpose(
/// dequantize(q)))) -> dequant_matmul(x, q). The
/// dequantized [N, K] weight is rank 2, so the matmul has no batch
/// broadcasting beyond x's and both ops compute the same [..., M, N].
struct FuseDequantIntoMatmul : OpRewritePattern<MatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatmulOp op,
                                PatternRewriter &rewriter) const override {
    Value rhs = op.getRhs();
    if (!op.getTransposeRhs()) {
      // matmul(x, transpose(dequantize(q))): an imported DequantizeLinear
      // weight, [K, N] as ONNX multiplies it.
      auto transpose = rhs.getDefiningOp<TransposeOp>();
      if (!transpose || transpose.getPermutation() != ArrayRef<int64_t>{1, 0})
        return rewriter.notifyMatchFailure(op, "rhs is not a [N, K] weight");
      rhs = transpose.getInput();
    }
    auto dequantize = rhs.getDefiningOp<DequantizeOp>();
    if (!dequantize)
      return rewriter.notifyMatchFailure(op, "rhs is not dequantized");
    rewriter.replaceOpWithNewOp<DequantMatmulOp>(
        op, op.getType(), op.getLhs(), dequantize.getInput(),
        /*outlier_threshold=*/FloatAttr());
    return success();
  }
};

struct QLLMFuseDequantMatmulPass
    : qllm::impl::QLLMFuseDequantMatmulPassBase<QLLMFuseDequantMatmulPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseDequantIntoMatmul>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));

    // Dequantized copies that only fed fused matmuls are now dead.
    IRRewriter rewriter(&getContext());
    getOperation()->walk([&](DequantizeOp op) {
      if (op->use_empty())
        rewriter.eraseOp(op);
    });
  }
};

} // namespace
