//===- ReferenceEvaluatorTest.cpp - values of the reference evaluator -----===//

#include "qllm/Analysis/ReferenceEvaluator.h"
#include "qllm/IR/QLLMOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace mlir;
using namespace mlir::qllm;

namespace {

class ReferenceEvaluatorTest : public ::testing::Test {
protected:
  ReferenceEvaluatorTest() {
    context.loadDialect<QLLMDialect, func::FuncDialect>();
  }

  /// Parses a function @f and evaluates its first result with `args` bound.
  std::vector<double> run(const char *ir, std::vector<RefTensor> args,
                          SmallVector<int64_t> *shape = nullptr) {
    module = parseSourceString<ModuleOp>(ir, &context);
    EXPECT_TRUE(module);
    if (!module)
      return {};
    auto func = cast<func::FuncOp>(module->getBody()->front());
    ReferenceEvaluator evaluator;
    for (auto [arg, value] : llvm::zip_equal(func.getArguments(), args))
      evaluator.bind(arg, value);
    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
    FailureOr<RefTensor> result = evaluator.evaluate(ret.getOperand(0));
    EXPECT_TRUE(succeeded(result)) << evaluator.getError();
    if (failed(result))
      return {};
    if (shape)
      *shape = result->shape;
    return result->data;
  }

  static RefTensor tensor(SmallVector<int64_t> shape, std::vector<double> data) {
    RefTensor t;
    t.shape = shape;
    t.data = std::move(data);
    return t;
  }

  MLIRContext context;
  OwningOpRef<ModuleOp> module;
};

TEST_F(ReferenceEvaluatorTest, SliceWithNegativeStepAndClampedEnds) {
  const char *ir = R"mlir(
    func.func @f(%x: tensor<6xf32>) -> tensor<3xf32> {
      %0 = qllm.slice %x axes = [0] starts = [-1] ends = [-9223372036854775807] steps = [-2] : tensor<6xf32> -> tensor<3xf32>
      return %0 : tensor<3xf32>
    })mlir";
  EXPECT_EQ(run(ir, {tensor({6}, {0, 1, 2, 3, 4, 5})}),
            (std::vector<double>{5, 3, 1}));
}

TEST_F(ReferenceEvaluatorTest, SliceStartsClampIntoTheDimension) {
  // Backward from a start far past either end: ONNX clamps it to [0, dim-1].
  const char *ir = R"mlir(
    func.func @f(%x: tensor<6xf32>) -> tensor<1xf32> {
      %0 = qllm.slice %x axes = [0] starts = [-100] ends = [-200] steps = [-1] : tensor<6xf32> -> tensor<1xf32>
      return %0 : tensor<1xf32>
    })mlir";
  EXPECT_EQ(run(ir, {tensor({6}, {0, 1, 2, 3, 4, 5})}),
            (std::vector<double>{0}));
  const char *all = R"mlir(
    func.func @f(%x: tensor<6xf32>) -> tensor<6xf32> {
      %0 = qllm.slice %x axes = [0] starts = [10] ends = [-9223372036854775807] steps = [-1] : tensor<6xf32> -> tensor<6xf32>
      return %0 : tensor<6xf32>
    })mlir";
  EXPECT_EQ(run(all, {tensor({6}, {0, 1, 2, 3, 4, 5})}),
            (std::vector<double>{5, 4, 3, 2, 1, 0}));
}

TEST_F(ReferenceEvaluatorTest, GatherNegativeIndexAndShapeOf) {
  const char *ir = R"mlir(
    func.func @f(%x: tensor<?x5xf32>) -> tensor<2xi64> {
      %s = qllm.shape_of %x : tensor<?x5xf32> -> tensor<2xi64>
      %i = qllm.constant dense<[-1, 0]> : tensor<2xi64>
      %0 = qllm.gather %s[%i] axis = 0 : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
      return %0 : tensor<2xi64>
    })mlir";
  EXPECT_EQ(run(ir, {RefTensor::filled({3, 5}, 0)}),
            (std::vector<double>{5, 3}));
}

TEST_F(ReferenceEvaluatorTest, ReshapeCopiesAndInfersThenExpandAndTile) {
  const char *ir = R"mlir(
    func.func @f(%x: tensor<?x4xf32>) -> tensor<?x?x?xf32> {
      %s = qllm.constant dense<[0, -1, 1]> : tensor<3xi64>
      %r = qllm.reshape %x, %s : (tensor<?x4xf32>, tensor<3xi64>) -> tensor<?x?x1xf32>
      %e = qllm.constant dense<[1, 1, 2]> : tensor<3xi64>
      %x2 = qllm.expand %r, %e : (tensor<?x?x1xf32>, tensor<3xi64>) -> tensor<?x?x2xf32>
      %t = qllm.constant dense<[1, 1, 2]> : tensor<3xi64>
      %y = qllm.tile %x2, %t : (tensor<?x?x2xf32>, tensor<3xi64>) -> tensor<?x?x?xf32>
      return %y : tensor<?x?x?xf32>
    })mlir";
  SmallVector<int64_t> shape;
  std::vector<double> out =
      run(ir, {tensor({1, 4}, {1, 2, 3, 4})}, &shape);
  EXPECT_EQ(shape, (SmallVector<int64_t>{1, 4, 4}));
  ASSERT_EQ(out.size(), 16u);
  EXPECT_EQ(out[0], 1);
  EXPECT_EQ(out[3], 1);
  EXPECT_EQ(out[4], 2);
  EXPECT_EQ(out[15], 4);
}

TEST_F(ReferenceEvaluatorTest, CausalMaskFromRangeCompareSelectTrilu) {
  const char *ir = R"mlir(
    func.func @f(%n: tensor<i64>) -> tensor<?x?xf32> {
      %zero = qllm.constant dense<0> : tensor<i64>
      %one = qllm.constant dense<1> : tensor<i64>
      %r = qllm.range %zero, %n, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
      %c = qllm.unsqueeze %r axes = [1] : tensor<?xi64> -> tensor<?x1xi64>
      %w = qllm.unsqueeze %r axes = [0] : tensor<?xi64> -> tensor<1x?xi64>
      %future = qllm.compare gt, %w, %c : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
      %min = qllm.constant dense<-1.0e4> : tensor<f32>
      %z = qllm.constant dense<0.0> : tensor<f32>
      %m = qllm.select %future, %min, %z : (tensor<?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32>
      %u = qllm.trilu %m upper diagonal = 1 : tensor<?x?xf32>
      return %u : tensor<?x?xf32>
    })mlir";
  EXPECT_EQ(run(ir, {tensor({}, {3})}),
            (std::vector<double>{0, -1e4, -1e4, 0, 0, -1e4, 0, 0, 0}));
}

TEST_F(ReferenceEvaluatorTest, ReduceSoftmaxMatmul) {
  const char *ir = R"mlir(
    func.func @f(%x: tensor<2x2xf32>) -> tensor<2x1xf32> {
      %p = qllm.softmax %x axis = 1 : tensor<2x2xf32>
      %y = qllm.matmul %p, %x transpose_rhs : (tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x2xf32>
      %s = qllm.reduce_sum %y axes = [1] keep_dims : tensor<2x2xf32> -> tensor<2x1xf32>
      return %s : tensor<2x1xf32>
    })mlir";
  // x = [[0, 0], [0, ln 3]]: softmax rows [.5, .5] and [.25, .75].
  double l3 = std::log(3.0);
  std::vector<double> out = run(ir, {tensor({2, 2}, {0, 0, 0, l3})});
  ASSERT_EQ(out.size(), 2u);
  // row 0: p=[.5,.5]; y = [p.x0, p.x1] = [0, .5 ln3]; sum = .5 ln3.
  EXPECT_NEAR(out[0], 0.5 * l3, 1e-6);
  // row 1: p=[.25,.75]; y = [0, .75 ln3].
  EXPECT_NEAR(out[1], 0.75 * l3, 1e-6);
}

TEST_F(ReferenceEvaluatorTest, RotaryInterleavedAndRotateHalf) {
  const char *ir = R"mlir(
    func.func @f(%x: tensor<1x1x1x4xf32>, %p: tensor<1x1xi64>) -> tensor<1x1x1x4xf32> {
      %0 = qllm.rotary interleaved %x, %p {base = 1.0e4 : f32} : (tensor<1x1x1x4xf32>, tensor<1x1xi64>) -> tensor<1x1x1x4xf32>
      %1 = qllm.rotary rotate_half %0, %p {base = 1.0e4 : f32, rotary_dim = 2 : i64} : (tensor<1x1x1x4xf32>, tensor<1x1xi64>) -> tensor<1x1x1x4xf32>
      return %1 : tensor<1x1x1x4xf32>
    })mlir";
  // Position 1. Interleaved pairs (0,1) by 1 rad and (2,3) by 10000^-0.5;
  // then rotate-half over the first 2 dims, pair (0,1), by 1 rad again.
  std::vector<double> out =
      run(ir, {tensor({1, 1, 1, 4}, {1, 0, 1, 0}), tensor({1, 1}, {1})});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_NEAR(out[0], std::cos(2.0), 1e-6);
  EXPECT_NEAR(out[1], std::sin(2.0), 1e-6);
  EXPECT_NEAR(out[2], std::cos(0.01), 1e-6);
  EXPECT_NEAR(out[3], std::sin(0.01), 1e-6);
}

TEST_F(ReferenceEvaluatorTest, CausalGroupedAttentionWithPast) {
  // 2 query heads share 1 KV head; one past key. Query 0 (position 1) sees
  // keys 0..1; values are one-hot so the output is the attention weights.
  const char *ir = R"mlir(
    func.func @f(%q: tensor<1x1x2x1xf32>, %k: tensor<1x1x1x1xf32>, %v: tensor<1x1x1x2xf32>,
                 %pk: tensor<1x1x1x1xf32>, %pv: tensor<1x1x1x2xf32>) -> tensor<1x1x2x2xf32> {
      %o, %pk2, %pv2 = qllm.attention %q, %k, %v past(%pk, %pv) causal {scale = 1.0 : f32}
        : (tensor<1x1x2x1xf32>, tensor<1x1x1x1xf32>, tensor<1x1x1x2xf32>, tensor<1x1x1x1xf32>, tensor<1x1x1x2xf32>)
        -> (tensor<1x1x2x2xf32>, tensor<1x1x2x1xf32>, tensor<1x1x2x2xf32>)
      return %o : tensor<1x1x2x2xf32>
    })mlir";
  std::vector<double> out =
      run(ir, {tensor({1, 1, 2, 1}, {0, std::log(2.0)}),
               tensor({1, 1, 1, 1}, {1}), tensor({1, 1, 1, 2}, {0, 1}),
               tensor({1, 1, 1, 1}, {0}), tensor({1, 1, 1, 2}, {1, 0})});
  ASSERT_EQ(out.size(), 4u);
  // Head 0: scores [0, 0] -> [.5, .5]. Head 1: scores [0, ln2] -> [1/3, 2/3]
  // (rounded to f32, the result type).
  EXPECT_NEAR(out[0], 0.5, 1e-9);
  EXPECT_NEAR(out[1], 0.5, 1e-9);
  EXPECT_NEAR(out[2], 1.0 / 3.0, 1e-7);
  EXPECT_NEAR(out[3], 2.0 / 3.0, 1e-7);
}

TEST_F(ReferenceEvaluatorTest, ReportsUnboundArguments) {
  module = parseSourceString<ModuleOp>(R"mlir(
    func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
      %0 = qllm.neg %x : tensor<2xf32>
      return %0 : tensor<2xf32>
    })mlir", &context);
  ASSERT_TRUE(module);
  auto func = cast<func::FuncOp>(module->getBody()->front());
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  ReferenceEvaluator evaluator;
  EXPECT_TRUE(failed(evaluator.evaluate(ret.getOperand(0))));
  EXPECT_EQ(evaluator.getError(), "an unbound block argument");
}

} // namespace
