//===- ReferenceElementwise.cpp - elementwise reference ops ---------------===//
//
// Unary and binary arithmetic (NumPy broadcasting), comparisons, select and
// swiglu, each result rounded to the result's element type.
//
//===----------------------------------------------------------------------===//

#include "ReferenceOps.h"

#include "qllm/IR/QLLMOps.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qllm;

namespace mlir::qllm::ref {
namespace {

template <typename Fn>
FailureOr<RefTensor> binary(OpContext &ctx, Fn fn) {
  FailureOr<RefTensor> a = ctx.operand(0), b = ctx.operand(1);
  if (failed(a) || failed(b))
    return failure();
  RefTensor out;
  if (!broadcastShapes(a->shape, b->shape, out.shape))
    return ctx.fail("operands do not broadcast");
  SmallVector<int64_t> sa = stridesOf(a->shape), sb = stridesOf(b->shape);
  out.data.reserve(out.numElements());
  forEachIndex(out.shape, [&](ArrayRef<int64_t> index) {
    out.data.push_back(
        ctx.round(fn(a->data[broadcastOffset(index, a->shape, sa)],
                     b->data[broadcastOffset(index, b->shape, sb)])));
  });
  return out;
}

template <typename Fn>
FailureOr<RefTensor> unary(OpContext &ctx, Fn fn) {
  FailureOr<RefTensor> a = ctx.operand(0);
  if (failed(a))
    return failure();
  RefTensor out = *a;
  for (double &v : out.data)
    v = ctx.round(fn(v));
  return out;
}

double compare(ComparePredicate p, double a, double b) {
  switch (p) {
  case ComparePredicate::eq:
    return a == b;
  case ComparePredicate::ne:
    return a != b;
  case ComparePredicate::lt:
    return a < b;
  case ComparePredicate::le:
    return a <= b;
  case ComparePredicate::gt:
    return a > b;
  case ComparePredicate::ge:
    return a >= b;
  }
  return 0;
}

FailureOr<RefTensor> select(OpContext &ctx) {
  FailureOr<RefTensor> c = ctx.operand(0), a = ctx.operand(1),
                       b = ctx.operand(2);
  if (failed(c) || failed(a) || failed(b))
    return failure();
  RefTensor out;
  SmallVector<int64_t> ab;
  if (!broadcastShapes(a->shape, b->shape, ab) ||
      !broadcastShapes(c->shape, ab, out.shape))
    return ctx.fail("select operands do not broadcast");
  SmallVector<int64_t> sc = stridesOf(c->shape), sa = stridesOf(a->shape),
                       sb = stridesOf(b->shape);
  forEachIndex(out.shape, [&](ArrayRef<int64_t> index) {
    bool take = c->data[broadcastOffset(index, c->shape, sc)] != 0.0;
    out.data.push_back(take ? a->data[broadcastOffset(index, a->shape, sa)]
                            : b->data[broadcastOffset(index, b->shape, sb)]);
  });
  return out;
}

} // namespace

Result evaluateElementwise(OpContext &ctx) {
  bool intResult = isa<IntegerType>(ctx.getElement());
  auto div = [intResult](double a, double b) {
    return intResult ? std::trunc(a / b) : a / b;
  };
  using R = FailureOr<RefTensor>;
  return llvm::TypeSwitch<Operation *, Result>(ctx.getOp())
      .Case([&](AddOp) { return binary(ctx, std::plus<double>()); })
      .Case([&](SubOp) { return binary(ctx, std::minus<double>()); })
      .Case([&](MulOp) { return binary(ctx, std::multiplies<double>()); })
      .Case([&](DivOp) { return binary(ctx, div); })
      .Case([&](PowOp) {
        return binary(ctx, [](double a, double b) { return std::pow(a, b); });
      })
      .Case([&](MaximumOp) {
        return binary(ctx, [](double a, double b) { return std::max(a, b); });
      })
      .Case([&](MinimumOp) {
        return binary(ctx, [](double a, double b) { return std::min(a, b); });
      })
      .Case([&](CompareOp cmp) {
        ComparePredicate p = cmp.getPredicate();
        return binary(ctx, [p](double a, double b) { return compare(p, a, b); });
      })
      .Case([&](SelectOp) -> R { return select(ctx); })
      .Case([&](NegOp) { return unary(ctx, [](double v) { return -v; }); })
      .Case([&](SqrtOp) {
        return unary(ctx, [](double v) { return std::sqrt(v); });
      })
      .Case([&](RsqrtOp) {
        return unary(ctx, [](double v) { return 1.0 / std::sqrt(v); });
      })
      .Case([&](ReciprocalOp) {
        return unary(ctx, [](double v) { return 1.0 / v; });
      })
      .Case([&](ExpOp) { return unary(ctx, [](double v) { return std::exp(v); }); })
      .Case([&](LogOp) { return unary(ctx, [](double v) { return std::log(v); }); })
      .Case([&](CosOp) { return unary(ctx, [](double v) { return std::cos(v); }); })
      .Case([&](SinOp) { return unary(ctx, [](double v) { return std::sin(v); }); })
      .Case([&](TanhOp) {
        return unary(ctx, [](double v) { return std::tanh(v); });
      })
      .Case([&](SigmoidOp) {
        return unary(ctx, [](double v) { return 1.0 / (1.0 + std::exp(-v)); });
      })
      .Case([&](SiluOp) {
        return unary(ctx, [](double v) { return v / (1.0 + std::exp(-v)); });
      })
      .Case([&](CastOp) { return unary(ctx, [](double v) { return v; }); })
      .Case([&](SwiGluOp) {
        return binary(ctx, [](double g, double u) {
          return g / (1.0 + std::exp(-g)) * u;
        });
      })
      .Default([](Operation *) { return std::nullopt; });
}

} // namespace mlir::qllm::ref
