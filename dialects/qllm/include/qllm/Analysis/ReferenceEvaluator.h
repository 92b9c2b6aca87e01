//===- ReferenceEvaluator.h - evaluate qllm ops on small tensors -*- C++ -*-===//
//
// A reference interpreter of the qllm primitive ops over small concrete
// tensors (values held as doubles, exact for integers up to 2^53). Passes use
// it to decide what a subgraph computes (for example, that an exporter's
// attention bias is the causal mask) by running it on sample inputs; tests use
// it to compare graphs numerically. It is not a runtime: no performance, no
// LLM ops beyond what such subgraphs contain.
//
//===----------------------------------------------------------------------===//

#ifndef QLLM_ANALYSIS_REFERENCEEVALUATOR_H
#define QLLM_ANALYSIS_REFERENCEEVALUATOR_H

#include "mlir/IR/Value.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

#include <string>
#include <vector>

namespace mlir::qllm {

namespace ref {
class OpContext;
} // namespace ref

/// A concrete tensor: a shape and row-major values.
struct RefTensor {
  SmallVector<int64_t> shape;
  std::vector<double> data;

  int64_t numElements() const;
  static RefTensor filled(ArrayRef<int64_t> shape, double value);
};

class ReferenceEvaluator {
public:
  /// Evaluation refuses any intermediate tensor larger than `maxElements`.
  explicit ReferenceEvaluator(int64_t maxElements = 1 << 20)
      : maxElements(maxElements) {}

  /// Gives `value` (typically a function argument) concrete contents.
  void bind(Value value, RefTensor tensor);

  /// Evaluates `value` from the bound values and constants, computing (and
  /// caching) every producer it needs. On failure, getError() says why (an
  /// unbound argument, an unsupported op, a shape mismatch, ...).
  FailureOr<RefTensor> evaluate(Value value);

  const std::string &getError() const { return error; }

private:
  friend class ref::OpContext; // the op families (lib/Analysis/Reference*.cpp)

  FailureOr<RefTensor> compute(Value value);
  LogicalResult fail(const Twine &message);

  int64_t maxElements;
  llvm::DenseMap<Value, RefTensor> values;
  std::string error;
};

} // namespace mlir::qllm

#endif // QLLM_ANALYSIS_REFERENCEEVALUATOR_H
