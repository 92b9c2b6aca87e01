//===- RaiseRmsNorm.cpp - RMSNorm written with primitive ops -> rms_norm --===//

#include "quant/Passes/Passes.h"

#include "PatternUtils.h"

#include "mlir/IR/PatternMatch.h"

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMRAISERMSNORMPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

/// If `v` is mean(x^2, last axis) + eps, binds x and eps.
bool matchMeanSquarePlusEps(Value v, Value &x, double &eps) {
  auto add = v.getDefiningOp<AddOp>();
  if (!add)
    return false;
  Value mean, epsValue;
  if (!orderOperands(add, mean, epsValue, [](Value m) {
        return m.getDefiningOp<ReduceMeanOp>() != nullptr;
      }))
    return false;
  std::optional<double> epsilon = scalarFloat(epsValue);
  auto reduce = mean.getDefiningOp<ReduceMeanOp>();
  auto inputType = cast<RankedTensorType>(reduce.getInput().getType());
  if (!epsilon || !reduce.getKeepDims() || reduce.getAxes().size() != 1 ||
      reduce.getAxes()[0] != inputType.getRank() - 1)
    return false;
  Value square = reduce.getInput();
  if (auto pow = square.getDefiningOp<PowOp>()) {
    std::optional<double> exponent = scalarFloat(pow.getRhs());
    if (!exponent || *exponent != 2.0)
      return false;
    x = pow.getLhs();
  } else if (auto mul = square.getDefiningOp<MulOp>()) {
    if (mul.getLhs() != mul.getRhs())
      return false;
    x = mul.getLhs();
  } else {
    return false;
  }
  if (x.getType() != square.getType())
    return false;
  eps = *epsilon;
  return true;
}

/// If `v` is x / sqrt(mean(x^2) + eps) in one of its spellings (x / sqrt,
/// x * rsqrt, x * reciprocal(sqrt), x * (1 / sqrt)), binds x, eps.
bool matchNormalized(Value v, Value &x, double &eps) {
  if (auto div = v.getDefiningOp<DivOp>()) {
    auto sqrt = div.getRhs().getDefiningOp<SqrtOp>();
    return sqrt && matchMeanSquarePlusEps(sqrt.getInput(), x, eps) &&
           div.getLhs() == x;
  }
  auto mul = v.getDefiningOp<MulOp>();
  if (!mul)
    return false;
  for (int side = 0; side < 2; ++side) {
    Value factor = mul->getOperand(side), other = mul->getOperand(1 - side);
    Value variance;
    if (auto rsqrt = factor.getDefiningOp<RsqrtOp>())
      variance = rsqrt.getInput();
    else if (auto reciprocal = factor.getDefiningOp<ReciprocalOp>()) {
      if (auto sqrt = reciprocal.getInput().getDefiningOp<SqrtOp>())
        variance = sqrt.getInput();
    } else if (auto div = factor.getDefiningOp<DivOp>()) {
      // 1 / sqrt(v): torch's export of rsqrt.
      std::optional<double> one = scalarFloat(div.getLhs());
      auto sqrt = div.getRhs().getDefiningOp<SqrtOp>();
      if (one && *one == 1.0 && sqrt)
        variance = sqrt.getInput();
    }
    if (variance && matchMeanSquarePlusEps(variance, x, eps) && other == x)
      return true;
  }
  return false;
}

/// weight * normalized(x) -> rms_norm(x, weight). Casts of x to f32 and of
/// the result back (fp16 exports) are absorbed: rms_norm computes in f32.
struct RaiseRmsNorm : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    auto resultType = cast<RankedTensorType>(op.getType());
    if (resultType.getRank() < 1)
      return failure();
    int64_t dim = resultType.getShape().back();
    for (int side = 0; side < 2; ++side) {
      Value weight = op->getOperand(side);
      Value normalized = stripFloatCasts(op->getOperand(1 - side));
      auto weightType = cast<RankedTensorType>(weight.getType());
      if (weightType.getRank() != 1 || weightType.getDimSize(0) != dim ||
          ShapedType::isDynamic(dim))
        continue;
      Value x;
      double eps = 0;
      if (!matchNormalized(normalized, x, eps))
        continue;
      Value input = stripFloatCasts(x);
      if (input.getType() != resultType)
        input = x;
      if (input.getType() != resultType)
        continue;
      rewriter.replaceOpWithNewOp<RmsNormOp>(
          op, resultType, input, weight,
          rewriter.getF32FloatAttr(static_cast<float>(eps)));
      return success();
    }
    return rewriter.notifyMatchFailure(op, "not weight * x / rms(x)");
  }
};

struct QLLMRaiseRmsNormPass
    : qllm::impl::QLLMRaiseRmsNormPassBase<QLLMRaiseRmsNormPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RaiseRmsNorm>(&getContext());
    if (failed(applyRaisingPatterns(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
