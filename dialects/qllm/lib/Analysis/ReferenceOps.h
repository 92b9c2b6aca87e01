//===- ReferenceOps.h - the reference evaluator's op families ---*- C++ -*-===//
//
// Internal to QLLMAnalysis. ReferenceEvaluator::compute hands each op to the
// families below in turn; a family answers std::nullopt for ops it does not
// own. Each family lives in its own file, one short function per op:
//
//   ReferenceElementwise.cpp  unary, binary (broadcasting), compare, select,
//                             swiglu
//   ReferenceShape.cpp        constants, shape arithmetic, data movement
//   ReferenceLinalg.cpp       reductions, softmax, matmul
//   ReferenceLLM.cpp          embedding, rms_norm, rotary, attention
//   ReferenceQuantized.cpp    quantized_weight, dequantize, dequant_matmul
//
//===----------------------------------------------------------------------===//

#ifndef QLLM_LIB_ANALYSIS_REFERENCEOPS_H
#define QLLM_LIB_ANALYSIS_REFERENCEOPS_H

#include "qllm/Analysis/ReferenceEvaluator.h"

#include "mlir/IR/Operation.h"

#include <optional>

namespace mlir::qllm::ref {

/// Rounds `v` like a conversion to `element` (integer truncation, i1 test,
/// f16/bf16/f32 rounding to nearest even).
double roundTo(Type element, double v);

/// What an op's reference function sees: its operands' values (evaluated on
/// demand), the element type its result rounds to, the value that was asked
/// for and a way to fail with a message.
class OpContext {
public:
  OpContext(ReferenceEvaluator &evaluator, Operation *op, Value requested,
            Type element)
      : evaluator(evaluator), op(op), requested(requested), element(element) {}

  Operation *getOp() const { return op; }
  Value getRequested() const { return requested; }
  Type getElement() const { return element; }
  int64_t getMaxElements() const { return evaluator.maxElements; }

  FailureOr<RefTensor> operand(unsigned i) {
    return evaluator.evaluate(op->getOperand(i));
  }
  FailureOr<RefTensor> evaluate(Value value) {
    return evaluator.evaluate(value);
  }
  /// Records the value of another result of a multi-result op.
  void bind(Value result, RefTensor tensor) {
    evaluator.values[result] = std::move(tensor);
  }
  LogicalResult fail(const Twine &message) { return evaluator.fail(message); }

  /// Rounds `v` like a conversion to the result's element type.
  double round(double v) const { return roundTo(element, v); }
  /// Rounds every element of `t`.
  RefTensor rounded(RefTensor t) const;

private:
  ReferenceEvaluator &evaluator;
  Operation *op;
  Value requested;
  Type element;
};

using Result = std::optional<FailureOr<RefTensor>>;

Result evaluateElementwise(OpContext &ctx);
Result evaluateShape(OpContext &ctx);
Result evaluateLinalg(OpContext &ctx);
Result evaluateLLM(OpContext &ctx);
Result evaluateQuantized(OpContext &ctx);

//===----------------------------------------------------------------------===//
// Row-major index arithmetic shared by the families.
//===----------------------------------------------------------------------===//

SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape);

/// Offset into `shape` (right-aligned, broadcasting dims of 1) of the
/// multi-index `index` of a tensor of rank index.size().
int64_t broadcastOffset(ArrayRef<int64_t> index, ArrayRef<int64_t> shape,
                        ArrayRef<int64_t> strides);

/// NumPy broadcasting of two shapes; false if they do not broadcast.
bool broadcastShapes(ArrayRef<int64_t> a, ArrayRef<int64_t> b,
                     SmallVectorImpl<int64_t> &out);

/// Product of shape[begin, end).
int64_t product(ArrayRef<int64_t> shape, size_t begin, size_t end);

/// Calls fn(index) for every multi-index of `shape`, in row-major order.
template <typename Fn>
void forEachIndex(ArrayRef<int64_t> shape, Fn fn) {
  SmallVector<int64_t> index(shape.size(), 0);
  int64_t total = product(shape, 0, shape.size());
  for (int64_t n = 0; n < total; ++n) {
    fn(ArrayRef<int64_t>(index));
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      if (++index[d] < shape[d])
        break;
      index[d] = 0;
    }
  }
}

/// The shape a 1-D tensor of dimension sizes describes.
SmallVector<int64_t> shapeFromValues(const RefTensor &dims);

} // namespace mlir::qllm::ref

#endif // QLLM_LIB_ANALYSIS_REFERENCEOPS_H
