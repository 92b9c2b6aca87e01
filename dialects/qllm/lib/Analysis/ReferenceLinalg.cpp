//===- ReferenceLinalg.cpp - reductions, softmax and matmul ---------------===//

#include "ReferenceOps.h"

#include "qllm/IR/QLLMOps.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qllm;

namespace mlir::qllm::ref {
namespace {

using R = FailureOr<RefTensor>;

enum class Reduction { Sum, Mean, Max };

R reduce(OpContext &ctx, Reduction kind, ArrayRef<int64_t> axes,
         bool keepDims) {
  FailureOr<RefTensor> a = ctx.operand(0);
  if (failed(a))
    return failure();
  SmallVector<int64_t> kept(a->shape);
  int64_t count = 1;
  for (int64_t axis : axes) {
    count *= kept[axis];
    kept[axis] = 1;
  }
  bool isMax = kind == Reduction::Max;
  RefTensor acc = RefTensor::filled(kept, isMax ? -INFINITY : 0.0);
  SmallVector<int64_t> sk = stridesOf(kept);
  int64_t n = 0;
  forEachIndex(a->shape, [&](ArrayRef<int64_t> index) {
    double &slot = acc.data[broadcastOffset(index, kept, sk)];
    double v = a->data[n++];
    slot = isMax ? std::max(slot, v) : slot + v;
  });
  if (kind == Reduction::Mean)
    for (double &v : acc.data)
      v /= static_cast<double>(count);
  if (!keepDims) {
    acc.shape.clear();
    for (auto [i, d] : llvm::enumerate(kept))
      if (!llvm::is_contained(axes, static_cast<int64_t>(i)))
        acc.shape.push_back(d);
  }
  return acc;
}

R softmax(OpContext &ctx, SoftmaxOp op) {
  FailureOr<RefTensor> a = ctx.operand(0);
  if (failed(a))
    return failure();
  size_t axis = op.getAxis();
  int64_t len = a->shape[axis],
          inner = product(a->shape, axis + 1, a->shape.size());
  int64_t outer = product(a->shape, 0, axis);
  RefTensor out = *a;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < inner; ++k) {
      auto at = [&](int64_t j) { return (o * len + j) * inner + k; };
      double m = -INFINITY, sum = 0;
      for (int64_t j = 0; j < len; ++j)
        m = std::max(m, a->data[at(j)]);
      for (int64_t j = 0; j < len; ++j)
        sum += std::exp(a->data[at(j)] - m);
      for (int64_t j = 0; j < len; ++j)
        out.data[at(j)] = ctx.round(std::exp(a->data[at(j)] - m) / sum);
    }
  return out;
}

/// Batched a @ b (or a @ b^T), batch dimensions broadcasting.
R matmul(OpContext &ctx, MatmulOp op) {
  FailureOr<RefTensor> a = ctx.operand(0), b = ctx.operand(1);
  if (failed(a) || failed(b))
    return failure();
  bool transposeRhs = op.getTransposeRhs();
  size_t ra = a->shape.size(), rb = b->shape.size();
  int64_t m = a->shape[ra - 2], k = a->shape[ra - 1];
  int64_t n = transposeRhs ? b->shape[rb - 2] : b->shape[rb - 1];
  int64_t kb = transposeRhs ? b->shape[rb - 1] : b->shape[rb - 2];
  if (k != kb)
    return ctx.fail("matmul contraction mismatch");
  SmallVector<int64_t> batchA(a->shape.begin(), a->shape.end() - 2),
      batchB(b->shape.begin(), b->shape.end() - 2), batch;
  if (!broadcastShapes(batchA, batchB, batch))
    return ctx.fail("matmul batch dims do not broadcast");
  RefTensor out;
  out.shape = batch;
  out.shape.append({m, n});
  SmallVector<int64_t> sA = stridesOf(batchA), sB = stridesOf(batchB);
  forEachIndex(batch, [&](ArrayRef<int64_t> index) {
    int64_t oa = broadcastOffset(index, batchA, sA) * m * k;
    int64_t ob = broadcastOffset(index, batchB, sB) * k * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t l = 0; l < k; ++l)
          sum += a->data[oa + i * k + l] *
                 b->data[ob + (transposeRhs ? j * k + l : l * n + j)];
        out.data.push_back(ctx.round(sum));
      }
  });
  return out;
}

} // namespace

Result evaluateLinalg(OpContext &ctx) {
  return llvm::TypeSwitch<Operation *, Result>(ctx.getOp())
      .Case([&](ReduceSumOp op) {
        return reduce(ctx, Reduction::Sum, op.getAxes(), op.getKeepDims());
      })
      .Case([&](ReduceMeanOp op) {
        return reduce(ctx, Reduction::Mean, op.getAxes(), op.getKeepDims());
      })
      .Case([&](ReduceMaxOp op) {
        return reduce(ctx, Reduction::Max, op.getAxes(), op.getKeepDims());
      })
      .Case([&](SoftmaxOp op) { return softmax(ctx, op); })
      .Case([&](MatmulOp op) { return matmul(ctx, op); })
      .Default([](Operation *) { return std::nullopt; });
}

} // namespace mlir::qllm::ref
