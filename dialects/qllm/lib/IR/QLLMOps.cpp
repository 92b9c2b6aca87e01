//===- QLLMOps.cpp - qllm operation verifiers -----------------------------===//

#include "qllm/IR/QLLMOps.h"

#include "mlir/Dialect/Traits.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/Sequence.h"
#include "llvm/ADT/SmallSet.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qllm;

#define GET_OP_CLASSES
#include "qllm/IR/QLLMOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

namespace {

/// Two dimensions that may be equal at run time.
bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

/// A dimension (or `?`) for messages.
std::string dimStr(int64_t dim) {
  return ShapedType::isDynamic(dim) ? "?" : std::to_string(dim);
}

/// A shape written [a, b, ?] for messages.
std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(shape)) {
    if (i)
      s += ", ";
    s += dimStr(d);
  }
  return s + "]";
}

RankedTensorType rankedType(Value value) {
  return cast<RankedTensorType>(value.getType());
}

/// Checks that `axes` are distinct and in [0, rank).
LogicalResult verifyAxes(Operation *op, ArrayRef<int64_t> axes, int64_t rank,
                         StringRef what) {
  llvm::SmallSet<int64_t, 8> seen;
  for (int64_t axis : axes) {
    if (axis < 0 || axis >= rank)
      return op->emitOpError() << what << " " << axis << " is out of range [0, "
                               << rank << ")";
    if (!seen.insert(axis).second)
      return op->emitOpError() << what << " " << axis << " appears twice";
  }
  return success();
}

LogicalResult verifyAxis(Operation *op, int64_t axis, int64_t rank) {
  return verifyAxes(op, {axis}, rank, "axis");
}

/// Checks that `actual` may be `expected` at run time, dimension by dimension.
LogicalResult verifyShape(Operation *op, StringRef what,
                          ArrayRef<int64_t> actual,
                          ArrayRef<int64_t> expected) {
  if (actual.size() != expected.size() ||
      !llvm::all_of(llvm::zip_equal(actual, expected), [](auto pair) {
        return compatible(std::get<0>(pair), std::get<1>(pair));
      }))
    return op->emitOpError() << what << " must be " << shapeStr(expected)
                             << ", got " << shapeStr(actual);
  return success();
}

/// The axes and steps of a slice of operand 0 (input) of `op`, and its
/// result shape: the input's, with `size(i, dim)` on the i-th sliced axis.
LogicalResult
verifySlicedShape(Operation *op, ArrayRef<int64_t> axes, ArrayRef<int64_t> steps,
                  llvm::function_ref<int64_t(size_t, int64_t)> size) {
  auto input = rankedType(op->getOperand(0));
  if (failed(verifyAxes(op, axes, input.getRank(), "axis")))
    return failure();
  SmallVector<int64_t> expected(input.getShape());
  for (auto [i, axis] : llvm::enumerate(axes)) {
    if (steps[i] == 0)
      return op->emitOpError() << "step on axis " << axis << " must be nonzero";
    expected[axis] = size(i, input.getDimSize(axis));
  }
  return verifyShape(op, "result shape", rankedType(op->getResult(0)).getShape(),
                     expected);
}

} // namespace

//===----------------------------------------------------------------------===//
// ConstantOp / WeightOp
//===----------------------------------------------------------------------===//

LogicalResult ConstantOp::verify() {
  if (!isa<DenseElementsAttr>(getValue()))
    return emitOpError() << "holds inline dense data only; model weights are "
                            "qllm.weight ops with dense_resource blobs";
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError() << "needs a non-empty name";
  auto resource = dyn_cast<DenseResourceElementsAttr>(getValue());
  if (!resource)
    return emitOpError() << "weight '" << getName()
                         << "' must be a dense_resource blob, not inline data";
  AsmResourceBlob *blob = resource.getRawHandle().getBlob();
  if (!blob)
    return success(); // Elided or weightless: nothing to check.
  auto type = cast<ShapedType>(resource.getType());
  uint64_t elementBytes =
      (static_cast<uint64_t>(type.getElementTypeBitWidth()) + 7) / 8;
  uint64_t count = static_cast<uint64_t>(type.getNumElements());
  // 4-bit integers (ONNX int4/uint4 initializers) are packed two per byte.
  uint64_t expected = type.getElementTypeBitWidth() == 4 ? (count + 1) / 2
                                                         : elementBytes * count;
  uint64_t actual = blob->getData().size();
  if (actual != expected)
    return emitOpError() << "weight '" << getName() << "' blob holds " << actual
                         << " bytes but " << type << " needs " << expected;
  return success();
}

//===----------------------------------------------------------------------===//
// Quantized weights
//===----------------------------------------------------------------------===//

LogicalResult QuantizedWeightOp::verify() {
  QTensorType type = getResult().getType();
  ::qrt::WeightLayout layout = type.getLayout();
  struct Slot {
    ::qrt::ComponentRole role;
    Value value;
    const char *whenNeeded;
    const char *whenUnexpected;
  };
  Slot slots[] = {
      {::qrt::ComponentRole::Data, getData(), "", ""},
      {::qrt::ComponentRole::Scales, getScales(), "", ""},
      {::qrt::ComponentRole::ZeroPoints, getZeroPoints(),
       "the scheme is asymmetric", "the scheme has no stored zero points"},
      {::qrt::ComponentRole::GroupIndex, getGIdx(), "the scheme uses act_order",
       "the scheme does not use act_order"},
      {::qrt::ComponentRole::DoubleQuantScales, getDoubleQuantScales(),
       "the scheme uses double quantization",
       "the scheme has no double quantization"},
      {::qrt::ComponentRole::DoubleQuantOffset, getDoubleQuantOffset(),
       "the scheme uses double quantization",
       "the scheme has no double quantization"},
  };
  for (const Slot &slot : slots) {
    const ::qrt::Component *component = layout.find(slot.role);
    const char *name = ::qrt::componentRoleName(slot.role);
    if (component && !slot.value)
      return emitOpError() << "needs " << name << ": " << slot.whenNeeded;
    if (!component && slot.value)
      return emitOpError() << "has " << name << " but " << slot.whenUnexpected;
    if (!component)
      continue;
    auto expected = RankedTensorType::get(
        component->shape, componentElementType(getContext(), component->element));
    if (slot.value.getType() != expected)
      return emitOpError() << name << " must be " << expected << " for a "
                           << type.getRows() << "x" << type.getCols()
                           << " weight in " << type.getScheme() << ", got "
                           << slot.value.getType();
  }
  return success();
}

LogicalResult DequantizeOp::verify() {
  QTensorType input = getInput().getType();
  return verifyShape(*this, "result shape", getResult().getType().getShape(),
                     input.getShape());
}

LogicalResult DequantMatmulOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType result = getResult().getType();
  QTensorType weight = getWeight().getType();
  if (input.getRank() < 1)
    return emitOpError() << "input must have rank >= 1";
  if (!compatible(input.getShape().back(), weight.getCols()))
    return emitOpError() << "input's last dimension ("
                         << dimStr(input.getShape().back())
                         << ") must equal the weight's cols ("
                         << weight.getCols() << ")";
  SmallVector<int64_t> expected(input.getShape());
  expected.back() = weight.getRows();
  if (failed(verifyShape(*this, "result shape", result.getShape(), expected)))
    return failure();
  if (result.getElementType() != input.getElementType())
    return emitOpError() << "result element type " << result.getElementType()
                         << " must match the input's "
                         << input.getElementType();
  if (std::optional<APFloat> thresholdAttr = getOutlierThreshold()) {
    float threshold = thresholdAttr->convertToFloat();
    auto intq = dyn_cast<IntQuantAttr>(weight.getScheme());
    if (!intq || intq.getBits() != 8 || !intq.isPerChannel() ||
        !intq.getSymmetric())
      return emitOpError() << "outlier_threshold (LLM.int8) needs an 8-bit "
                              "per-channel symmetric weight, got "
                           << weight.getScheme();
    if (!(threshold >= 0.0f) || std::isinf(threshold))
      return emitOpError() << "outlier_threshold must be finite and >= 0, got "
                           << threshold;
  }
  if (getInt8Activations()) {
    if (getOutlierThreshold())
      return emitOpError() << "int8_activations and outlier_threshold "
                              "exclude each other";
    if (!int8ActivationsSupported(weight.getScheme()))
      return emitOpError()
             << "int8_activations: " << weight.getScheme()
             << " has no 8-bit-activation kernel (4 or 8 bits, groups of 32, "
                "64, a multiple of 128 or whole rows, no act order)";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// LLM operations
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  ArrayRef<int64_t> tableShape;
  Type tableElement;
  if (auto q = dyn_cast<QTensorType>(getTable().getType())) {
    tableShape = q.getShape();
  } else {
    auto t = cast<RankedTensorType>(getTable().getType());
    tableShape = t.getShape();
    tableElement = t.getElementType();
  }
  if (tableShape.size() != 2)
    return emitOpError() << "table must be [vocab, dim], got rank "
                         << tableShape.size();
  SmallVector<int64_t> expected(getIndices().getType().getShape());
  expected.push_back(tableShape[1]);
  RankedTensorType result = getResult().getType();
  if (failed(verifyShape(*this, "result shape", result.getShape(), expected)))
    return failure();
  if (tableElement && result.getElementType() != tableElement)
    return emitOpError() << "result element type " << result.getElementType()
                         << " must match the table's " << tableElement;
  return success();
}

LogicalResult RmsNormOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType weight = getWeight().getType();
  if (input.getRank() < 1)
    return emitOpError() << "input must have rank >= 1";
  if (weight.getRank() != 1)
    return emitOpError() << "weight must be 1-D, got rank " << weight.getRank();
  int64_t dim = input.getShape().back();
  if (!compatible(weight.getDimSize(0), dim))
    return emitOpError() << "weight has " << weight.getDimSize(0)
                         << " elements but the normalized (last) dimension is "
                         << dimStr(dim);
  if (getResult().getType() != input)
    return emitOpError() << "result type " << getResult().getType()
                         << " must equal the input type " << input;
  if (!(getEpsilon().convertToFloat() >= 0.0f))
    return emitOpError() << "epsilon must be non-negative";
  return success();
}

LogicalResult RotaryOp::verify() {
  RankedTensorType input = getInput().getType();
  if (input.getRank() != 4)
    return emitOpError() << "input must be [batch, seq, heads, head_dim], got rank "
                         << input.getRank();
  if (getResult().getType() != input)
    return emitOpError() << "result type " << getResult().getType()
                         << " must equal the input type " << input;
  RankedTensorType positions = getPositions().getType();
  if (positions.getRank() != 2 ||
      !(compatible(positions.getDimSize(0), input.getDimSize(0)) ||
        positions.getDimSize(0) == 1) ||
      !compatible(positions.getDimSize(1), input.getDimSize(1)))
    return emitOpError() << "positions must be [batch or 1, seq] = ["
                         << dimStr(input.getDimSize(0)) << " or 1, "
                         << dimStr(input.getDimSize(1)) << "], got "
                         << shapeStr(positions.getShape());
  int64_t headDim = input.getDimSize(3);
  int64_t rotaryDim = getRotaryDim().value_or(headDim);
  if (!ShapedType::isDynamic(rotaryDim)) {
    if (rotaryDim <= 0 || rotaryDim % 2 != 0 ||
        (!ShapedType::isDynamic(headDim) && rotaryDim > headDim))
      return emitOpError() << "rotary_dim (" << rotaryDim
                           << ") must be positive, even and at most head_dim ("
                           << dimStr(headDim) << ")";
  }
  bool hasCache = getCosCache() != nullptr;
  if (hasCache != (getSinCache() != nullptr))
    return emitOpError() << "cos and sin caches come together";
  if (hasCache && getBase())
    return emitOpError() << "has both base and cache(cos, sin); give one";
  if (!hasCache && !getBase())
    return emitOpError() << "needs either base or cache(cos, sin)";
  if (std::optional<APFloat> base = getBase();
      base && !(base->convertToFloat() > 0.0f))
    return emitOpError() << "base must be positive, got "
                         << base->convertToFloat();
  if (hasCache) {
    RankedTensorType cos = getCosCache().getType();
    if (getSinCache().getType() != cos)
      return emitOpError() << "cos and sin caches must have the same type";
    int64_t half = ShapedType::isDynamic(rotaryDim) ? ShapedType::kDynamic
                                                    : rotaryDim / 2;
    if (cos.getRank() != 2 || !compatible(cos.getDimSize(1), half))
      return emitOpError() << "cache tables must be [max_positions, rotary_dim/2 = "
                           << dimStr(half) << "], got "
                           << shapeStr(cos.getShape());
  }
  return success();
}

LogicalResult AttentionOp::verify() {
  RankedTensorType q = getQuery().getType();
  RankedTensorType k = getKey().getType();
  RankedTensorType v = getValue().getType();
  for (auto [name, t] : {std::pair<const char *, RankedTensorType>{"query", q},
                         {"key", k},
                         {"value", v}})
    if (t.getRank() != 4)
      return emitOpError() << name
                           << " must be [batch, seq, heads, head_dim], got rank "
                           << t.getRank();
  Type element = q.getElementType();
  int64_t batch = q.getDimSize(0), seq = q.getDimSize(1);
  int64_t heads = q.getDimSize(2), headDim = q.getDimSize(3);
  int64_t kvHeads = k.getDimSize(2), valueDim = v.getDimSize(3);
  if (failed(verifyShape(*this, "key shape", k.getShape(),
                         {batch, seq, kvHeads, headDim})) ||
      failed(verifyShape(*this, "value shape", v.getShape(),
                         {batch, seq, kvHeads, valueDim})))
    return failure();
  if (!ShapedType::isDynamic(heads) && !ShapedType::isDynamic(kvHeads) &&
      (kvHeads <= 0 || heads % kvHeads != 0))
    return emitOpError() << "query heads (" << heads
                         << ") must be a multiple of KV heads (" << kvHeads
                         << ")";

  int64_t past = 0;
  if ((getPastKey() != nullptr) != (getPastValue() != nullptr))
    return emitOpError() << "past_key and past_value come together";
  if (getPastKey()) {
    RankedTensorType pk = getPastKey().getType();
    RankedTensorType pv = getPastValue().getType();
    if (pk.getRank() != 4 || pv.getRank() != 4)
      return emitOpError()
             << "past caches must be [batch, kv_heads, past, head_dim]";
    past = pk.getDimSize(2);
    if (failed(verifyShape(*this, "past_key shape", pk.getShape(),
                           {batch, kvHeads, past, headDim})) ||
        failed(verifyShape(*this, "past_value shape", pv.getShape(),
                           {batch, kvHeads, past, valueDim})))
      return failure();
    if (pk.getElementType() != element || pv.getElementType() != element)
      return emitOpError() << "past caches must have the query's element type "
                           << element;
  }
  int64_t total = (ShapedType::isDynamic(past) || ShapedType::isDynamic(seq))
                      ? ShapedType::kDynamic
                      : past + seq;

  if (failed(verifyShape(*this, "output shape",
                         getOutput().getType().getShape(),
                         {batch, seq, heads, valueDim})) ||
      failed(verifyShape(*this, "present_key shape",
                         getPresentKey().getType().getShape(),
                         {batch, kvHeads, total, headDim})) ||
      failed(verifyShape(*this, "present_value shape",
                         getPresentValue().getType().getShape(),
                         {batch, kvHeads, total, valueDim})))
    return failure();
  for (Type t : {k.getElementType(), v.getElementType(),
                 getOutput().getType().getElementType(),
                 getPresentKey().getType().getElementType(),
                 getPresentValue().getType().getElementType()})
    if (t != element)
      return emitOpError() << "keys, values and results must have the query's "
                              "element type "
                           << element << ", got " << t;

  if (Value mask = getAttentionMask()) {
    if (failed(verifyShape(*this, "attention mask shape",
                           rankedType(mask).getShape(), {batch, total})))
      return failure();
  }
  if (Value bias = getAttentionBias()) {
    RankedTensorType b = rankedType(bias);
    int64_t full[] = {batch, heads, seq, total};
    bool ok = b.getRank() == 4;
    for (int i = 0; ok && i < 4; ++i)
      ok = b.getDimSize(i) == 1 || compatible(b.getDimSize(i), full[i]);
    if (!ok)
      return emitOpError() << "attention bias must broadcast to [batch, heads, "
                              "seq, past + seq] = "
                           << shapeStr(full) << ", got "
                           << shapeStr(b.getShape());
  }
  if (std::optional<APFloat> scale = getScale();
      scale && !(scale->convertToFloat() > 0.0f))
    return emitOpError() << "scale must be positive, got "
                         << scale->convertToFloat();
  return success();
}

LogicalResult AllGatherOp::verify() {
  auto in = cast<RankedTensorType>(getInput().getType());
  auto out = cast<RankedTensorType>(getType());
  int64_t ranks = getWorldSize();
  if (ranks < 1)
    return emitOpError() << "world_size must be positive, got " << ranks;
  if (in.getRank() != out.getRank() || in.getRank() == 0 ||
      in.getShape().drop_back() != out.getShape().drop_back() ||
      in.getElementType() != out.getElementType())
    return emitOpError() << "gathers the last dimension only: " << in
                         << " cannot become " << out;
  int64_t n = in.getShape().back(), m = out.getShape().back();
  if (ShapedType::isDynamic(n) || ShapedType::isDynamic(m) ||
      m <= (ranks - 1) * n || m > ranks * n)
    return emitOpError() << "makes " << ranks << " parts of " << n
                         << " into " << m << " (needs (world_size - 1) * n < "
                         << "m <= world_size * n)";
  return success();
}

LogicalResult MatmulOp::verify() {
  RankedTensorType lhs = getLhs().getType();
  RankedTensorType rhs = getRhs().getType();
  RankedTensorType result = getResult().getType();
  if (lhs.getRank() < 2 || rhs.getRank() < 2)
    return emitOpError() << "operands must have rank >= 2, got "
                         << lhs.getRank() << " and " << rhs.getRank();
  if (lhs.getElementType() != rhs.getElementType() ||
      result.getElementType() != lhs.getElementType())
    return emitOpError() << "operands and result must share one element type";
  ArrayRef<int64_t> l = lhs.getShape(), r = rhs.getShape();
  int64_t m = l[l.size() - 2], k = l.back();
  int64_t rk = getTransposeRhs() ? r.back() : r[r.size() - 2];
  int64_t n = getTransposeRhs() ? r[r.size() - 2] : r.back();
  if (!compatible(k, rk))
    return emitOpError() << "contraction dimensions differ: lhs has K = "
                         << dimStr(k) << ", rhs has " << dimStr(rk);
  SmallVector<int64_t> batch;
  if (!OpTrait::util::getBroadcastedShape(l.drop_back(2), r.drop_back(2), batch))
    return emitOpError() << "batch dimensions " << shapeStr(l.drop_back(2))
                         << " and " << shapeStr(r.drop_back(2))
                         << " do not broadcast";
  batch.push_back(m);
  batch.push_back(n);
  return verifyShape(*this, "result shape", result.getShape(), batch);
}

LogicalResult SoftmaxOp::verify() {
  return verifyAxis(*this, getAxis(), getInput().getType().getRank());
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

LogicalResult SelectOp::verify() {
  Type element = rankedType(getOnTrue()).getElementType();
  if (rankedType(getOnFalse()).getElementType() != element ||
      rankedType(getResult()).getElementType() != element)
    return emitOpError() << "on_true, on_false and result must share one "
                            "element type";
  return success();
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

template <typename ReduceOp>
static LogicalResult verifyReduce(ReduceOp op) {
  RankedTensorType input = op.getInput().getType();
  ArrayRef<int64_t> axes = op.getAxes();
  if (axes.empty())
    return op.emitOpError() << "needs at least one axis";
  if (failed(verifyAxes(op, axes, input.getRank(), "axis")))
    return failure();
  SmallVector<int64_t> expected;
  for (auto [i, dim] : llvm::enumerate(input.getShape())) {
    bool reduced = llvm::is_contained(axes, static_cast<int64_t>(i));
    if (!reduced)
      expected.push_back(dim);
    else if (op.getKeepDims())
      expected.push_back(1);
  }
  return verifyShape(op, "result shape", op.getResult().getType().getShape(),
                     expected);
}

LogicalResult ReduceMeanOp::verify() { return verifyReduce(*this); }
LogicalResult ReduceSumOp::verify() { return verifyReduce(*this); }
LogicalResult ReduceMaxOp::verify() { return verifyReduce(*this); }

//===----------------------------------------------------------------------===//
// Shape and data movement
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::verify() {
  auto input = rankedType(getInput());
  auto result = rankedType(getResult());
  if (input.getElementType() != result.getElementType())
    return emitOpError() << "cannot change the element type";
  if (Value shape = getShape()) {
    int64_t entries = rankedType(shape).getDimSize(0);
    if (!ShapedType::isDynamic(entries) && entries != result.getRank())
      return emitOpError() << "shape operand has " << entries
                           << " entries but the result has rank "
                           << result.getRank();
    return success();
  }
  if (!result.hasStaticShape())
    return emitOpError() << "a reshape to " << result
                         << " (dynamic dimensions) needs a shape operand";
  if (input.hasStaticShape() &&
      input.getNumElements() != result.getNumElements())
    return emitOpError() << "element count changes from "
                         << input.getNumElements() << " to "
                         << result.getNumElements();
  return success();
}

LogicalResult UnsqueezeOp::verify() {
  auto input = rankedType(getInput());
  auto result = rankedType(getResult());
  ArrayRef<int64_t> axes = getAxes();
  if (result.getRank() != input.getRank() + static_cast<int64_t>(axes.size()))
    return emitOpError() << "result rank must be " << input.getRank() << " + "
                         << axes.size() << ", got " << result.getRank();
  if (failed(verifyAxes(*this, axes, result.getRank(), "axis")))
    return failure();
  SmallVector<int64_t> expected;
  int64_t next = 0;
  for (int64_t i = 0; i < result.getRank(); ++i)
    expected.push_back(llvm::is_contained(axes, i) ? 1
                                                   : input.getDimSize(next++));
  return verifyShape(*this, "result shape", result.getShape(), expected);
}

LogicalResult SqueezeOp::verify() {
  auto input = rankedType(getInput());
  auto result = rankedType(getResult());
  ArrayRef<int64_t> axes = getAxes();
  if (failed(verifyAxes(*this, axes, input.getRank(), "axis")))
    return failure();
  SmallVector<int64_t> expected;
  for (auto [i, dim] : llvm::enumerate(input.getShape())) {
    if (!llvm::is_contained(axes, static_cast<int64_t>(i))) {
      expected.push_back(dim);
      continue;
    }
    if (!compatible(dim, 1))
      return emitOpError() << "cannot squeeze dimension " << i << " of size "
                           << dim;
  }
  return verifyShape(*this, "result shape", result.getShape(), expected);
}

LogicalResult TransposeOp::verify() {
  auto input = rankedType(getInput());
  ArrayRef<int64_t> perm = getPermutation();
  SmallVector<int64_t> sorted(perm);
  llvm::sort(sorted);
  if (static_cast<int64_t>(perm.size()) != input.getRank() ||
      !llvm::equal(sorted, llvm::seq<int64_t>(0, input.getRank())))
    return emitOpError() << "permutation must be a permutation of 0.."
                         << input.getRank() - 1;
  SmallVector<int64_t> expected;
  for (int64_t p : perm)
    expected.push_back(input.getDimSize(p));
  return verifyShape(*this, "result shape",
                     rankedType(getResult()).getShape(), expected);
}

LogicalResult ConcatOp::verify() {
  auto first = rankedType(getInputs().front());
  int64_t rank = first.getRank();
  int64_t axis = getAxis();
  if (failed(verifyAxis(*this, axis, rank)))
    return failure();
  SmallVector<int64_t> expected(first.getShape());
  expected[axis] = 0;
  for (Value input : getInputs()) {
    auto type = rankedType(input);
    if (type.getRank() != rank)
      return emitOpError() << "inputs must share one rank, got " << rank
                           << " and " << type.getRank();
    for (int64_t i = 0; i < rank; ++i) {
      int64_t dim = type.getDimSize(i);
      if (i == axis) {
        expected[i] = (ShapedType::isDynamic(expected[i]) ||
                       ShapedType::isDynamic(dim))
                          ? ShapedType::kDynamic
                          : expected[i] + dim;
      } else if (!compatible(expected[i], dim)) {
        return emitOpError() << "inputs differ in dimension " << i << " ("
                             << dimStr(expected[i]) << " vs " << dimStr(dim)
                             << ")";
      } else if (ShapedType::isDynamic(expected[i])) {
        expected[i] = dim;
      }
    }
  }
  return verifyShape(*this, "result shape",
                     rankedType(getResult()).getShape(), expected);
}

int64_t SliceOp::getStartIndex(int64_t dim, int64_t start, int64_t step) {
  if (dim == 0)
    return 0;
  if (start < 0)
    start += dim;
  return std::clamp<int64_t>(start, 0, step > 0 ? dim : dim - 1);
}

int64_t SliceOp::getResultDimSize(int64_t dim, int64_t start, int64_t end,
                                  int64_t step) {
  if (dim == 0)
    return 0;
  start = getStartIndex(dim, start, step);
  if (end < 0)
    end += dim;
  if (step > 0) {
    end = std::clamp<int64_t>(end, 0, dim);
    return end > start ? (end - start + step - 1) / step : 0;
  }
  end = std::clamp<int64_t>(end, -1, dim - 1);
  return start > end ? (start - end + (-step) - 1) / (-step) : 0;
}

LogicalResult SliceOp::verify() {
  ArrayRef<int64_t> axes = getAxes(), starts = getStarts(), ends = getEnds(),
                    steps = getSteps();
  if (starts.size() != axes.size() || ends.size() != axes.size() ||
      steps.size() != axes.size())
    return emitOpError() << "axes, starts, ends and steps must have the same "
                            "length";
  return verifySlicedShape(*this, axes, steps, [&](size_t i, int64_t dim) {
    return ShapedType::isDynamic(dim)
               ? ShapedType::kDynamic
               : getResultDimSize(dim, starts[i], ends[i], steps[i]);
  });
}

LogicalResult DynamicSliceOp::verify() {
  ArrayRef<int64_t> axes = getAxes(), steps = getSteps();
  auto starts = rankedType(getStarts()), ends = rankedType(getEnds());
  if (steps.size() != axes.size())
    return emitOpError() << "axes and steps must have the same length";
  for (auto [what, type] : {std::pair{"starts", starts}, {"ends", ends}})
    if (type.getRank() != 1 ||
        (!ShapedType::isDynamic(type.getDimSize(0)) &&
         type.getDimSize(0) != static_cast<int64_t>(axes.size())))
      return emitOpError() << what << " must be a 1-D tensor of "
                           << axes.size() << " entries (one per axis)";
  return verifySlicedShape(*this, axes, steps, [](size_t, int64_t) {
    return ShapedType::kDynamic;
  });
}

LogicalResult ScatterNdOp::verify() {
  auto data = rankedType(getData()), indices = rankedType(getIndices()),
       updates = rankedType(getUpdates());
  if (data.getElementType() != updates.getElementType() ||
      rankedType(getResult()).getElementType() != data.getElementType())
    return emitOpError() << "data, updates and result must have one element "
                            "type";
  if (failed(verifyShape(*this, "result shape",
                         rankedType(getResult()).getShape(), data.getShape())))
    return failure();
  if (indices.getRank() < 1)
    return emitOpError() << "indices must have rank >= 1";
  int64_t k = indices.getShape().back();
  if (ShapedType::isDynamic(k) || k < 1 || k > data.getRank())
    return emitOpError() << "the last dimension of indices must be static "
                            "and in [1, rank of data]";
  SmallVector<int64_t> expected(indices.getShape().drop_back());
  llvm::append_range(expected, data.getShape().drop_front(k));
  return verifyShape(*this, "updates shape", updates.getShape(), expected);
}

LogicalResult SplitOp::verify() {
  auto input = rankedType(getInput());
  int64_t axis = getAxis();
  if (failed(verifyAxis(*this, axis, input.getRank())))
    return failure();
  ArrayRef<int64_t> sizes = getSizes();
  if (sizes.size() != getResults().size())
    return emitOpError() << "has " << sizes.size() << " sizes but "
                         << getResults().size() << " results";
  int64_t sum = 0;
  for (int64_t size : sizes) {
    if (size < 0)
      return emitOpError() << "sizes must be non-negative, got " << size;
    sum += size;
  }
  int64_t dim = input.getDimSize(axis);
  if (!compatible(dim, sum))
    return emitOpError() << "sizes add up to " << sum << " but dimension "
                         << axis << " is " << dim;
  for (auto [size, result] : llvm::zip_equal(sizes, getResults())) {
    SmallVector<int64_t> expected(input.getShape());
    expected[axis] = size;
    if (failed(verifyShape(*this, "result shape", rankedType(result).getShape(),
                           expected)))
      return failure();
  }
  return success();
}

LogicalResult GatherOp::verify() {
  auto data = rankedType(getData());
  int64_t axis = getAxis();
  if (failed(verifyAxis(*this, axis, data.getRank())))
    return failure();
  SmallVector<int64_t> expected(data.getShape().take_front(axis));
  llvm::append_range(expected, getIndices().getType().getShape());
  llvm::append_range(expected, data.getShape().drop_front(axis + 1));
  if (rankedType(getResult()).getElementType() != data.getElementType())
    return emitOpError() << "result element type must match the data's";
  return verifyShape(*this, "result shape",
                     rankedType(getResult()).getShape(), expected);
}

LogicalResult ExpandOp::verify() {
  auto input = rankedType(getInput());
  auto result = rankedType(getResult());
  if (input.getElementType() != result.getElementType())
    return emitOpError() << "result element type must match the input's";
  int64_t entries = rankedType(getShape()).getDimSize(0);
  if (!ShapedType::isDynamic(entries) &&
      result.getRank() != std::max(entries, input.getRank()))
    return emitOpError() << "result rank must be max(input rank "
                         << input.getRank() << ", shape entries " << entries
                         << "), got " << result.getRank();
  return success();
}

LogicalResult TileOp::verify() {
  auto input = rankedType(getInput());
  auto result = rankedType(getResult());
  if (input.getElementType() != result.getElementType() ||
      input.getRank() != result.getRank())
    return emitOpError() << "result must have the input's rank and element "
                            "type";
  int64_t entries = rankedType(getRepeats()).getDimSize(0);
  if (!ShapedType::isDynamic(entries) && entries != input.getRank())
    return emitOpError() << "repeats has " << entries
                         << " entries but the input has rank "
                         << input.getRank();
  return success();
}

LogicalResult ShapeOfOp::verify() {
  int64_t rank = rankedType(getInput()).getRank();
  int64_t entries = rankedType(getResult()).getDimSize(0);
  if (!compatible(entries, rank))
    return emitOpError() << "result must have one entry per input dimension ("
                         << rank << "), got " << entries;
  return success();
}

LogicalResult FillOp::verify() {
  auto result = rankedType(getResult());
  auto value = cast<TypedAttr>(getValue());
  if (!isa<IntegerAttr, FloatAttr>(value))
    return emitOpError() << "value must be an integer or float scalar";
  if (value.getType() != result.getElementType())
    return emitOpError() << "value type " << value.getType()
                         << " must be the result's element type "
                         << result.getElementType();
  int64_t entries = rankedType(getShape()).getDimSize(0);
  if (!ShapedType::isDynamic(entries) && entries != result.getRank())
    return emitOpError() << "shape has " << entries
                         << " entries but the result has rank "
                         << result.getRank();
  return success();
}

LogicalResult RangeOp::verify() {
  if (rankedType(getResult()).getElementType() !=
      rankedType(getStart()).getElementType())
    return emitOpError() << "result element type must match the operands'";
  return success();
}

LogicalResult TriluOp::verify() {
  if (rankedType(getInput()).getRank() < 2)
    return emitOpError() << "input must have rank >= 2";
  return success();
}

Type mlir::qllm::componentElementType(MLIRContext *ctx, ::qrt::ElementKind kind) {
  switch (kind) {
  case ::qrt::ElementKind::U8:
    return IntegerType::get(ctx, 8, IntegerType::Unsigned);
  case ::qrt::ElementKind::I32:
    return IntegerType::get(ctx, 32);
  case ::qrt::ElementKind::F32:
    return Float32Type::get(ctx);
  case ::qrt::ElementKind::F16:
    return Float16Type::get(ctx);
  case ::qrt::ElementKind::BF16:
    return BFloat16Type::get(ctx);
  }
  return {};
}
