//===- ReferenceEvaluator.cpp - evaluate qllm ops on small tensors --------===//
//
// The evaluator's bookkeeping (bound values, the cache, the element limit)
// and the dispatch to the op families of ReferenceOps.h.
//
//===----------------------------------------------------------------------===//

#include "ReferenceOps.h"

#include "qllm/IR/QLLMOps.h"

#include "mlir/IR/BuiltinTypes.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qllm;

int64_t RefTensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

RefTensor RefTensor::filled(ArrayRef<int64_t> shape, double value) {
  RefTensor t;
  t.shape.assign(shape.begin(), shape.end());
  t.data.assign(static_cast<size_t>(t.numElements()), value);
  return t;
}

void ReferenceEvaluator::bind(Value value, RefTensor tensor) {
  values[value] = std::move(tensor);
}

LogicalResult ReferenceEvaluator::fail(const Twine &message) {
  if (error.empty())
    error = message.str();
  return failure();
}

FailureOr<RefTensor> ReferenceEvaluator::evaluate(Value value) {
  auto it = values.find(value);
  if (it != values.end())
    return it->second;
  FailureOr<RefTensor> result = compute(value);
  if (failed(result))
    return failure();
  if (result->numElements() > maxElements)
    return fail("a tensor of " + Twine(result->numElements()) +
                " elements exceeds the evaluator's limit");
  values[value] = *result;
  return result;
}

FailureOr<RefTensor> ReferenceEvaluator::compute(Value value) {
  Operation *op = value.getDefiningOp();
  if (!op)
    return fail("an unbound block argument");
  Type type = value.getType(), element;
  if (auto tensor = dyn_cast<RankedTensorType>(type))
    element = tensor.getElementType();
  else if (isa<QTensorType>(type))
    element = Float64Type::get(value.getContext()); // dequantized, unrounded
  else
    return fail("a value that is neither a tensor nor a quantized weight");

  ref::OpContext ctx(*this, op, value, element);
  for (auto family : {ref::evaluateElementwise, ref::evaluateShape,
                      ref::evaluateLinalg, ref::evaluateLLM,
                      ref::evaluateQuantized})
    if (ref::Result result = family(ctx))
      return *result;
  return fail("'" + op->getName().getStringRef() +
              "' has no reference evaluation");
}

//===----------------------------------------------------------------------===//
// OpContext and index arithmetic
//===----------------------------------------------------------------------===//

namespace mlir::qllm::ref {

double roundTo(Type element, double v) {
  if (element.isInteger(1))
    return v != 0.0 ? 1.0 : 0.0;
  if (isa<IntegerType>(element))
    return std::trunc(v);
  if (element.isF16() || element.isBF16()) {
    APFloat f(v);
    bool lost;
    f.convert(element.isF16() ? APFloat::IEEEhalf() : APFloat::BFloat(),
              APFloat::rmNearestTiesToEven, &lost);
    return f.convertToDouble();
  }
  if (element.isF32())
    return static_cast<double>(static_cast<float>(v));
  return v;
}

RefTensor OpContext::rounded(RefTensor t) const {
  for (double &v : t.data)
    v = round(v);
  return t;
}

SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

int64_t broadcastOffset(ArrayRef<int64_t> index, ArrayRef<int64_t> shape,
                        ArrayRef<int64_t> strides) {
  int64_t offset = 0;
  int64_t shift = static_cast<int64_t>(index.size() - shape.size());
  for (size_t d = 0; d < shape.size(); ++d)
    if (shape[d] != 1)
      offset += index[d + shift] * strides[d];
  return offset;
}

bool broadcastShapes(ArrayRef<int64_t> a, ArrayRef<int64_t> b,
                     SmallVectorImpl<int64_t> &out) {
  size_t rank = std::max(a.size(), b.size());
  out.assign(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      return false;
    out[i] = da == 1 ? db : da;
  }
  return true;
}

int64_t product(ArrayRef<int64_t> shape, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < end; ++i)
    n *= shape[i];
  return n;
}

SmallVector<int64_t> shapeFromValues(const RefTensor &dims) {
  SmallVector<int64_t> shape;
  for (double d : dims.data)
    shape.push_back(static_cast<int64_t>(d));
  return shape;
}

} // namespace mlir::qllm::ref
