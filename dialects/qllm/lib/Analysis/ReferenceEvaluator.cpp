//===- ReferenceEvaluator.cpp - evaluate qllm ops on small tensors --------===//

#include "qllm/Analysis/ReferenceEvaluator.h"

#include "qllm/IR/QLLMOps.h"
#include "qrt/core/WeightFormat.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <cstring>
#include <numeric>

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

namespace {

SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

/// Offset into `shape` (right-aligned, broadcasting dims of 1) of the
/// multi-index `index` of a tensor of rank index.size().
int64_t broadcastOffset(ArrayRef<int64_t> index, ArrayRef<int64_t> shape,
                        ArrayRef<int64_t> strides) {
  int64_t offset = 0;
  int64_t shift = static_cast<int64_t>(index.size() - shape.size());
  for (size_t d = 0; d < shape.size(); ++d)
    if (shape[d] != 1)
      offset += index[d + shift] * strides[d];
  return offset;
}

/// Calls fn(index) for every multi-index of `shape`, in row-major order.
template <typename Fn>
void forEachIndex(ArrayRef<int64_t> shape, Fn fn) {
  SmallVector<int64_t> index(shape.size(), 0);
  int64_t total = 1;
  for (int64_t d : shape)
    total *= d;
  for (int64_t n = 0; n < total; ++n) {
    fn(ArrayRef<int64_t>(index));
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      if (++index[d] < shape[d])
        break;
      index[d] = 0;
    }
  }
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

/// Values of a float, integer or bool elements attribute.
std::optional<std::vector<double>> valuesOf(ElementsAttr attr) {
  std::vector<double> out;
  Type element = attr.getElementType();
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    if (isa<FloatType>(element)) {
      for (const APFloat &v : dense.getValues<APFloat>())
        out.push_back(v.convertToDouble());
      return out;
    }
    if (auto intType = dyn_cast<IntegerType>(element)) {
      for (const APInt &v : dense.getValues<APInt>())
        out.push_back(intType.isUnsigned() || intType.getWidth() == 1
                          ? static_cast<double>(v.getZExtValue())
                          : static_cast<double>(v.getSExtValue()));
      return out;
    }
    return std::nullopt;
  }
  auto resource = dyn_cast<DenseResourceElementsAttr>(attr);
  if (!resource)
    return std::nullopt;
  AsmResourceBlob *blob = resource.getRawHandle().getBlob();
  if (!blob)
    return std::nullopt;
  ArrayRef<char> bytes = blob->getData();
  int64_t count = cast<ShapedType>(resource.getType()).getNumElements();
  unsigned width = element.isInteger(1) ? 8 : element.getIntOrFloatBitWidth();
  if (static_cast<int64_t>(bytes.size()) != count * ((width + 7) / 8))
    return std::nullopt;
  const char *p = bytes.data();
  for (int64_t i = 0; i < count; ++i) {
    double v = 0;
    if (element.isF32()) {
      float f;
      std::memcpy(&f, p + 4 * i, 4);
      v = f;
    } else if (element.isF16() || element.isBF16()) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      const llvm::fltSemantics &sem = element.isF16()
                                          ? APFloat::IEEEhalf()
                                          : APFloat::BFloat();
      v = APFloat(sem, APInt(16, h)).convertToDouble();
    } else if (auto intType = dyn_cast<IntegerType>(element)) {
      uint64_t raw = 0;
      std::memcpy(&raw, p + (width / 8) * i, std::max(1u, width / 8));
      APInt bits(std::max(1u, width), raw);
      v = intType.isUnsigned() || width <= 1
              ? static_cast<double>(bits.getZExtValue())
              : static_cast<double>(bits.sextOrTrunc(64).getSExtValue());
    } else {
      return std::nullopt;
    }
    out.push_back(v);
  }
  return out;
}

/// Rounds like a conversion to `element` (integer truncation, i1 test).
double convertTo(Type element, double v) {
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

} // namespace

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

namespace {

/// Rotates pairs of x [b, s, h, d] as qllm.rotary specifies.
LogicalResult rotaryReference(RotaryOp op, const RefTensor &x,
                              const RefTensor &positions, const RefTensor *cos,
                              const RefTensor *sin, RefTensor &out) {
  int64_t batch = x.shape[0], seq = x.shape[1], heads = x.shape[2],
          dim = x.shape[3];
  int64_t rotary = op.getRotaryDim().value_or(dim), half = rotary / 2;
  double base = op.getBase() ? op.getBase()->convertToDouble() : 0.0;
  bool interleaved = op.getConvention() == RotaryConvention::interleaved;
  out = x;
  if (positions.shape.size() != 2 || positions.shape[1] != seq ||
      (positions.shape[0] != batch && positions.shape[0] != 1))
    return failure();
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < seq; ++s) {
      int64_t pb = positions.shape[0] == 1 ? 0 : b;
      double pos = positions.data[pb * positions.shape[1] + s];
      for (int64_t i = 0; i < half; ++i) {
        double c, sn;
        if (cos) {
          int64_t row = static_cast<int64_t>(pos);
          if (row < 0 || row >= cos->shape[0])
            return failure();
          c = cos->data[row * cos->shape[1] + i];
          sn = sin->data[row * sin->shape[1] + i];
        } else {
          double theta = pos * std::pow(base, -2.0 * static_cast<double>(i) /
                                                  static_cast<double>(rotary));
          c = std::cos(theta);
          sn = std::sin(theta);
        }
        for (int64_t h = 0; h < heads; ++h) {
          int64_t o = ((b * seq + s) * heads + h) * dim;
          int64_t i0 = interleaved ? 2 * i : i;
          int64_t i1 = interleaved ? 2 * i + 1 : i + half;
          double x0 = x.data[o + i0], x1 = x.data[o + i1];
          out.data[o + i0] = x0 * c - x1 * sn;
          out.data[o + i1] = x1 * c + x0 * sn;
        }
      }
    }
  return success();
}

} // namespace

FailureOr<RefTensor> ReferenceEvaluator::compute(Value value) {
  Operation *op = value.getDefiningOp();
  if (!op)
    return fail("an unbound block argument");
  if (auto attention = dyn_cast<AttentionOp>(op))
    return computeAttention(attention, value);
  if (auto split = dyn_cast<SplitOp>(op)) {
    FailureOr<RefTensor> input = evaluate(split.getInput());
    if (failed(input))
      return failure();
    int64_t axis = split.getAxis();
    int64_t outer = 1, inner = 1, dim = input->shape[axis];
    for (int64_t i = 0; i < axis; ++i)
      outer *= input->shape[i];
    for (size_t i = axis + 1; i < input->shape.size(); ++i)
      inner *= input->shape[i];
    int64_t total = 0;
    for (int64_t size : split.getSizes())
      total += size;
    if (total != dim)
      return fail("split sizes do not add up to the dimension");
    int64_t offset = 0;
    for (auto [size, result] : llvm::zip_equal(split.getSizes(), split.getResults())) {
      RefTensor part;
      part.shape = input->shape;
      part.shape[axis] = size;
      for (int64_t o = 0; o < outer; ++o)
        part.data.insert(part.data.end(),
                         input->data.begin() + (o * dim + offset) * inner,
                         input->data.begin() + (o * dim + offset + size) * inner);
      offset += size;
      values[result] = std::move(part);
    }
    return values[value];
  }
  Type resultType = value.getType();
  auto resultTensor = dyn_cast<RankedTensorType>(resultType);
  Type element;
  if (resultTensor)
    element = resultTensor.getElementType();
  else if (isa<QTensorType>(resultType))
    element = Float64Type::get(value.getContext()); // dequantized, unrounded
  else
    return fail("a value that is neither a tensor nor a quantized weight");

  auto operand = [&](unsigned i) { return evaluate(op->getOperand(i)); };

  // Elementwise ops with NumPy broadcasting.
  auto binary = [&](auto fn) -> FailureOr<RefTensor> {
    FailureOr<RefTensor> a = operand(0), b = operand(1);
    if (failed(a) || failed(b))
      return failure();
    RefTensor out;
    if (!broadcastShapes(a->shape, b->shape, out.shape))
      return fail("operands do not broadcast");
    SmallVector<int64_t> sa = stridesOf(a->shape), sb = stridesOf(b->shape);
    out.data.reserve(out.numElements());
    forEachIndex(out.shape, [&](ArrayRef<int64_t> index) {
      out.data.push_back(
          convertTo(element, fn(a->data[broadcastOffset(index, a->shape, sa)],
                                b->data[broadcastOffset(index, b->shape, sb)])));
    });
    return out;
  };
  auto unary = [&](auto fn) -> FailureOr<RefTensor> {
    FailureOr<RefTensor> a = operand(0);
    if (failed(a))
      return failure();
    RefTensor out = *a;
    for (double &v : out.data)
      v = convertTo(element, fn(v));
    return out;
  };
  bool intResult = isa<IntegerType>(element);

  return llvm::TypeSwitch<Operation *, FailureOr<RefTensor>>(op)
      .Case<ConstantOp, WeightOp>([&](auto constant) -> FailureOr<RefTensor> {
        auto attr = cast<ElementsAttr>(constant.getValue());
        std::optional<std::vector<double>> data = valuesOf(attr);
        if (!data)
          return fail("a constant without readable data");
        RefTensor out;
        out.shape.assign(resultTensor.getShape().begin(),
                         resultTensor.getShape().end());
        out.data = std::move(*data);
        if (auto dense = dyn_cast<DenseElementsAttr>(attr);
            dense && dense.isSplat())
          out.data.assign(static_cast<size_t>(out.numElements()), out.data[0]);
        return out;
      })
      .Case<AddOp>([&](auto) { return binary(std::plus<double>()); })
      .Case<SubOp>([&](auto) { return binary(std::minus<double>()); })
      .Case<MulOp>([&](auto) { return binary(std::multiplies<double>()); })
      .Case<DivOp>([&](auto) {
        return binary([&](double a, double b) {
          return intResult ? std::trunc(a / b) : a / b;
        });
      })
      .Case<PowOp>([&](auto) {
        return binary([](double a, double b) { return std::pow(a, b); });
      })
      .Case<MaximumOp>([&](auto) {
        return binary([](double a, double b) { return std::max(a, b); });
      })
      .Case<MinimumOp>([&](auto) {
        return binary([](double a, double b) { return std::min(a, b); });
      })
      .Case<CompareOp>([&](CompareOp cmp) {
        ComparePredicate p = cmp.getPredicate();
        return binary([p](double a, double b) -> double {
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
        });
      })
      .Case<NegOp>([&](auto) { return unary([](double v) { return -v; }); })
      .Case<SqrtOp>([&](auto) { return unary([](double v) { return std::sqrt(v); }); })
      .Case<RsqrtOp>([&](auto) {
        return unary([](double v) { return 1.0 / std::sqrt(v); });
      })
      .Case<ReciprocalOp>([&](auto) {
        return unary([](double v) { return 1.0 / v; });
      })
      .Case<ExpOp>([&](auto) { return unary([](double v) { return std::exp(v); }); })
      .Case<LogOp>([&](auto) { return unary([](double v) { return std::log(v); }); })
      .Case<CosOp>([&](auto) { return unary([](double v) { return std::cos(v); }); })
      .Case<SinOp>([&](auto) { return unary([](double v) { return std::sin(v); }); })
      .Case<TanhOp>([&](auto) { return unary([](double v) { return std::tanh(v); }); })
      .Case<SigmoidOp>([&](auto) {
        return unary([](double v) { return 1.0 / (1.0 + std::exp(-v)); });
      })
      .Case<SiluOp>([&](auto) {
        return unary([](double v) { return v / (1.0 + std::exp(-v)); });
      })
      .Case<CastOp>([&](auto) { return unary([](double v) { return v; }); })
      .Case<SelectOp>([&](SelectOp select) -> FailureOr<RefTensor> {
        FailureOr<RefTensor> c = operand(0), a = operand(1), b = operand(2);
        if (failed(c) || failed(a) || failed(b))
          return failure();
        RefTensor out;
        SmallVector<int64_t> ab;
        if (!broadcastShapes(a->shape, b->shape, ab) ||
            !broadcastShapes(c->shape, ab, out.shape))
          return fail("select operands do not broadcast");
        SmallVector<int64_t> sc = stridesOf(c->shape), sa = stridesOf(a->shape),
                             sb = stridesOf(b->shape);
        forEachIndex(out.shape, [&](ArrayRef<int64_t> index) {
          bool take = c->data[broadcastOffset(index, c->shape, sc)] != 0.0;
          out.data.push_back(
              take ? a->data[broadcastOffset(index, a->shape, sa)]
                   : b->data[broadcastOffset(index, b->shape, sb)]);
        });
        return out;
      })
      .Case<ShapeOfOp>([&](ShapeOfOp shapeOf) -> FailureOr<RefTensor> {
        FailureOr<RefTensor> a = operand(0);
        if (failed(a))
          return failure();
        RefTensor out;
        out.shape = {static_cast<int64_t>(a->shape.size())};
        for (int64_t d : a->shape)
          out.data.push_back(static_cast<double>(d));
        return out;
      })
      .Case<FillOp>([&](FillOp fill) -> FailureOr<RefTensor> {
        FailureOr<RefTensor> shape = operand(0);
        if (failed(shape))
          return failure();
        double v = 0;
        if (auto f = dyn_cast<FloatAttr>(fill.getValue()))
          v = f.getValueAsDouble();
        else
          v = static_cast<double>(cast<IntegerAttr>(fill.getValue()).getInt());
        SmallVector<int64_t> dims;
        for (double d : shape->data)
          dims.push_back(static_cast<int64_t>(d));
        RefTensor out = RefTensor::filled(dims, v);
        if (out.numElements() > maxElements)
          return fail("fill too large");
        return out;
      })
      .Case<RangeOp>([&](RangeOp) -> FailureOr<RefTensor> {
        FailureOr<RefTensor> s = operand(0), l = operand(1), d = operand(2);
        if (failed(s) || failed(l) || failed(d))
          return failure();
        double start = s->data[0], limit = l->data[0], delta = d->data[0];
        if (delta == 0)
          return fail("range with delta 0");
        RefTensor out;
        int64_t n = std::max<int64_t>(
            0, static_cast<int64_t>(std::ceil((limit - start) / delta)));
        if (n > maxElements)
          return fail("range too large");
        for (int64_t i = 0; i < n; ++i)
          out.data.push_back(start + static_cast<double>(i) * delta);
        out.shape = {n};
        return out;
      })
      .Case<GatherOp>([&](GatherOp gather) -> FailureOr<RefTensor> {
        FailureOr<RefTensor> data = operand(0), indices = operand(1);
        if (failed(data) || failed(indices))
          return failure();
        int64_t axis = gather.getAxis();
        int64_t n = data->shape[axis];
        int64_t outer = 1, inner = 1;
        for (int64_t i = 0; i < axis; ++i)
          outer *= data->shape[i];
        for (size_t i = axis + 1; i < data->shape.size(); ++i)
          inner *= data->shape[i];
        RefTensor out;
        out.shape.assign(data->shape.begin(), data->shape.begin() + axis);
        out.shape.append(indices->shape.begin(), indices->shape.end());
        out.shape.append(data->shape.begin() + axis + 1, data->shape.end());
        for (int64_t o = 0; o < outer; ++o)
          for (double idx : indices->data) {
            int64_t j = static_cast<int64_t>(idx);
            j = j < 0 ? j + n : j;
            if (j < 0 || j >= n)
              return fail("gather index out of range");
            for (int64_t k = 0; k < inner; ++k)
              out.data.push_back(data->data[(o * n + j) * inner + k]);
          }
        return out;
      })
      .Case<ConcatOp>([&](ConcatOp concat) -> FailureOr<RefTensor> {
        int64_t axis = concat.getAxis();
        SmallVector<RefTensor> parts;
        for (unsigned i = 0; i < op->getNumOperands(); ++i) {
          FailureOr<RefTensor> part = operand(i);
          if (failed(part))
            return failure();
          parts.push_back(*part);
        }
        RefTensor out;
        out.shape = parts.front().shape;
        out.shape[axis] = 0;
        for (const RefTensor &p : parts)
          out.shape[axis] += p.shape[axis];
        int64_t outer = 1;
        for (int64_t i = 0; i < axis; ++i)
          outer *= out.shape[i];
        for (int64_t o = 0; o < outer; ++o)
          for (const RefTensor &p : parts) {
            int64_t chunk = p.numElements() / std::max<int64_t>(outer, 1);
            out.data.insert(out.data.end(), p.data.begin() + o * chunk,
                            p.data.begin() + (o + 1) * chunk);
          }
        return out;
      })
      .Case<UnsqueezeOp, SqueezeOp>([&](auto shapeOp) -> FailureOr<RefTensor> {
        FailureOr<RefTensor> a = operand(0);
        if (failed(a))
          return failure();
        RefTensor out = *a;
        out.shape.clear();
        if constexpr (std::is_same_v<decltype(shapeOp), UnsqueezeOp>) {
          int64_t rank = static_cast<int64_t>(a->shape.size() +
                                              shapeOp.getAxes().size());
          int64_t next = 0;
          for (int64_t i = 0; i < rank; ++i)
            out.shape.push_back(llvm::is_contained(shapeOp.getAxes(), i)
                                    ? 1
                                    : a->shape[next++]);
        } else {
          for (auto [i, d] : llvm::enumerate(a->shape))
            if (!llvm::is_contained(shapeOp.getAxes(), static_cast<int64_t>(i)))
              out.shape.push_back(d);
        }
        return out;
      })
      .Case<ReshapeOp>([&](ReshapeOp reshape) -> FailureOr<RefTensor> {
        FailureOr<RefTensor> a = operand(0);
        if (failed(a))
          return failure();
        RefTensor out = *a;
        out.shape.clear();
        if (reshape.getShape()) {
          FailureOr<RefTensor> shape = operand(1);
          if (failed(shape))
            return failure();
          int64_t known = 1, inferred = -1;
          for (auto [i, d] : llvm::enumerate(shape->data)) {
            int64_t v = static_cast<int64_t>(d);
            if (v == 0)
              v = a->shape[i];
            if (v == -1)
              inferred = static_cast<int64_t>(i);
            else
              known *= v;
            out.shape.push_back(v);
          }
          if (inferred >= 0)
            out.shape[inferred] = known ? a->numElements() / known : 0;
        } else {
          out.shape.assign(resultTensor.getShape().begin(),
                           resultTensor.getShape().end());
        }
        if (out.numElements() != a->numElements())
          return fail("reshape changes the element count");
        return out;
      })
      .Case<TransposeOp>([&](TransposeOp transpose) -> FailureOr<RefTensor> {
        FailureOr<RefTensor> a = operand(0);
        if (failed(a))
          return failure();
        ArrayRef<int64_t> perm = transpose.getPermutation();
        RefTensor out;
        for (int64_t p : perm)
          out.shape.push_back(a->shape[p]);
        SmallVector<int64_t> strides = stridesOf(a->shape);
        forEachIndex(out.shape, [&](ArrayRef<int64_t> index) {
          int64_t offset = 0;
          for (size_t i = 0; i < perm.size(); ++i)
            offset += index[i] * strides[perm[i]];
          out.data.push_back(a->data[offset]);
        });
        return out;
      })
      .Case<SliceOp>([&](SliceOp slice) -> FailureOr<RefTensor> {
        FailureOr<RefTensor> a = operand(0);
        if (failed(a))
          return failure();
        SmallVector<int64_t> start(a->shape.size(), 0), step(a->shape.size(), 1);
        RefTensor out;
        out.shape = a->shape;
        for (auto [i, axis] : llvm::enumerate(slice.getAxes())) {
          int64_t dim = a->shape[axis];
          int64_t st = slice.getSteps()[i];
          start[axis] = SliceOp::getStartIndex(dim, slice.getStarts()[i], st);
          step[axis] = st;
          out.shape[axis] = SliceOp::getResultDimSize(dim, slice.getStarts()[i],
                                                      slice.getEnds()[i], st);
        }
        SmallVector<int64_t> strides = stridesOf(a->shape);
        forEachIndex(out.shape, [&](ArrayRef<int64_t> index) {
          int64_t offset = 0;
          for (size_t d = 0; d < index.size(); ++d)
            offset += (start[d] + index[d] * step[d]) * strides[d];
          out.data.push_back(a->data[offset]);
        });
        return out;
      })
      .Case<ExpandOp>([&](ExpandOp) -> FailureOr<RefTensor> {
        FailureOr<RefTensor> a = operand(0), shape = operand(1);
        if (failed(a) || failed(shape))
          return failure();
        SmallVector<int64_t> target;
        for (double d : shape->data)
          target.push_back(static_cast<int64_t>(d));
        RefTensor out;
        if (!broadcastShapes(a->shape, target, out.shape))
          return fail("expand shapes do not broadcast");
        if (out.numElements() > maxElements)
          return fail("expand too large");
        SmallVector<int64_t> sa = stridesOf(a->shape);
        forEachIndex(out.shape, [&](ArrayRef<int64_t> index) {
          out.data.push_back(a->data[broadcastOffset(index, a->shape, sa)]);
        });
        return out;
      })
      .Case<TileOp>([&](TileOp) -> FailureOr<RefTensor> {
        FailureOr<RefTensor> a = operand(0), repeats = operand(1);
        if (failed(a) || failed(repeats))
          return failure();
        RefTensor out;
        for (auto [d, r] : llvm::zip_equal(a->shape, repeats->data))
          out.shape.push_back(d * static_cast<int64_t>(r));
        if (out.numElements() > maxElements)
          return fail("tile too large");
        SmallVector<int64_t> sa = stridesOf(a->shape);
        forEachIndex(out.shape, [&](ArrayRef<int64_t> index) {
          int64_t offset = 0;
          for (size_t d = 0; d < index.size(); ++d)
            offset += (index[d] % a->shape[d]) * sa[d];
          out.data.push_back(a->data[offset]);
        });
        return out;
      })
      .Case<TriluOp>([&](TriluOp trilu) -> FailureOr<RefTensor> {
        FailureOr<RefTensor> a = operand(0);
        if (failed(a))
          return failure();
        RefTensor out = *a;
        int64_t rows = a->shape[a->shape.size() - 2], cols = a->shape.back();
        int64_t k = trilu.getDiagonal();
        for (int64_t n = 0; n < out.numElements(); ++n) {
          int64_t c = n % cols, r = (n / cols) % rows;
          bool keep = trilu.getUpper() ? c - r >= k : c - r <= k;
          if (!keep)
            out.data[n] = 0.0;
        }
        return out;
      })
      .Case<ReduceMeanOp, ReduceSumOp, ReduceMaxOp>(
          [&](auto reduce) -> FailureOr<RefTensor> {
            FailureOr<RefTensor> a = operand(0);
            if (failed(a))
              return failure();
            ArrayRef<int64_t> axes = reduce.getAxes();
            SmallVector<int64_t> kept(a->shape);
            int64_t count = 1;
            for (int64_t axis : axes) {
              count *= kept[axis];
              kept[axis] = 1;
            }
            bool isMax = isa<ReduceMaxOp>(reduce.getOperation());
            RefTensor acc = RefTensor::filled(kept, isMax ? -INFINITY : 0.0);
            SmallVector<int64_t> sk = stridesOf(kept);
            int64_t n = 0;
            forEachIndex(a->shape, [&](ArrayRef<int64_t> index) {
              int64_t offset = broadcastOffset(index, kept, sk);
              double v = a->data[n++];
              acc.data[offset] = isMax ? std::max(acc.data[offset], v)
                                       : acc.data[offset] + v;
            });
            if (isa<ReduceMeanOp>(reduce.getOperation()))
              for (double &v : acc.data)
                v /= static_cast<double>(count);
            if (!reduce.getKeepDims()) {
              acc.shape.clear();
              for (auto [i, d] : llvm::enumerate(kept))
                if (!llvm::is_contained(axes, static_cast<int64_t>(i)))
                  acc.shape.push_back(d);
            }
            return acc;
          })
      .Case<SoftmaxOp>([&](SoftmaxOp softmax) -> FailureOr<RefTensor> {
        FailureOr<RefTensor> a = operand(0);
        if (failed(a))
          return failure();
        int64_t axis = softmax.getAxis();
        int64_t len = a->shape[axis], inner = 1;
        for (size_t i = axis + 1; i < a->shape.size(); ++i)
          inner *= a->shape[i];
        RefTensor out = *a;
        int64_t outer = a->numElements() / std::max<int64_t>(len * inner, 1);
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t k = 0; k < inner; ++k) {
            double m = -INFINITY, sum = 0;
            for (int64_t j = 0; j < len; ++j)
              m = std::max(m, a->data[(o * len + j) * inner + k]);
            for (int64_t j = 0; j < len; ++j)
              sum += std::exp(a->data[(o * len + j) * inner + k] - m);
            for (int64_t j = 0; j < len; ++j) {
              double &v = out.data[(o * len + j) * inner + k];
              v = convertTo(element, std::exp(a->data[(o * len + j) * inner + k] - m) / sum);
            }
          }
        return out;
      })
      .Case<MatmulOp>([&](MatmulOp matmul) -> FailureOr<RefTensor> {
        FailureOr<RefTensor> a = operand(0), b = operand(1);
        if (failed(a) || failed(b))
          return failure();
        bool transposeRhs = matmul.getTransposeRhs();
        size_t ra = a->shape.size(), rb = b->shape.size();
        int64_t m = a->shape[ra - 2], k = a->shape[ra - 1];
        int64_t n = transposeRhs ? b->shape[rb - 2] : b->shape[rb - 1];
        int64_t kb = transposeRhs ? b->shape[rb - 1] : b->shape[rb - 2];
        if (k != kb)
          return fail("matmul contraction mismatch");
        SmallVector<int64_t> batchA(a->shape.begin(), a->shape.end() - 2),
            batchB(b->shape.begin(), b->shape.end() - 2), batch;
        if (!broadcastShapes(batchA, batchB, batch))
          return fail("matmul batch dims do not broadcast");
        RefTensor out;
        out.shape = batch;
        out.shape.push_back(m);
        out.shape.push_back(n);
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
              out.data.push_back(convertTo(element, sum));
            }
        });
        return out;
      })
      .Case<EmbeddingOp>([&](EmbeddingOp) -> FailureOr<RefTensor> {
        FailureOr<RefTensor> table = operand(0), ids = operand(1);
        if (failed(table) || failed(ids))
          return failure();
        int64_t vocab = table->shape[0], dim = table->shape[1];
        RefTensor out;
        out.shape = ids->shape;
        out.shape.push_back(dim);
        for (double id : ids->data) {
          int64_t row = static_cast<int64_t>(id);
          if (row < 0 || row >= vocab)
            return fail("token id out of the vocabulary");
          for (int64_t k = 0; k < dim; ++k)
            out.data.push_back(table->data[row * dim + k]);
        }
        return out;
      })
      .Case<RmsNormOp>([&](RmsNormOp norm) -> FailureOr<RefTensor> {
        FailureOr<RefTensor> x = operand(0), w = operand(1);
        if (failed(x) || failed(w))
          return failure();
        double eps = norm.getEpsilon().convertToDouble();
        int64_t dim = x->shape.back();
        RefTensor out = *x;
        for (int64_t r = 0; r < x->numElements() / std::max<int64_t>(dim, 1); ++r) {
          double sum = 0;
          for (int64_t k = 0; k < dim; ++k)
            sum += x->data[r * dim + k] * x->data[r * dim + k];
          double inv = 1.0 / std::sqrt(sum / static_cast<double>(dim) + eps);
          for (int64_t k = 0; k < dim; ++k)
            out.data[r * dim + k] =
                convertTo(element, x->data[r * dim + k] * inv * w->data[k]);
        }
        return out;
      })
      .Case<SwiGluOp>([&](auto) {
        return binary([](double g, double u) {
          return g / (1.0 + std::exp(-g)) * u;
        });
      })
      .Case<RotaryOp>([&](RotaryOp rotary) -> FailureOr<RefTensor> {
        FailureOr<RefTensor> x = operand(0), positions = operand(1);
        if (failed(x) || failed(positions))
          return failure();
        FailureOr<RefTensor> cos = failure(), sin = failure();
        if (rotary.getCosCache()) {
          cos = evaluate(rotary.getCosCache());
          sin = evaluate(rotary.getSinCache());
          if (failed(cos) || failed(sin))
            return failure();
        }
        RefTensor out;
        if (failed(rotaryReference(rotary, *x, *positions,
                                   rotary.getCosCache() ? &*cos : nullptr,
                                   rotary.getCosCache() ? &*sin : nullptr, out)))
          return fail("rotary positions do not match the input, or lie "
                      "outside the cos/sin tables, at run time");
        for (double &v : out.data)
          v = convertTo(element, v);
        return out;
      })
      .Case<QuantizedWeightOp>([&](QuantizedWeightOp weight)
                                   -> FailureOr<RefTensor> {
        // A quantized weight evaluates to its dequantized [rows, cols] matrix.
        QTensorType type = weight.getType();
        int64_t rows = type.getRows(), cols = type.getCols();
        FailureOr<RefTensor> data = evaluate(weight.getData()),
                             scales = evaluate(weight.getScales());
        if (failed(data) || failed(scales))
          return failure();
        auto bytesOf = [](const RefTensor &t, int64_t row, int64_t width) {
          std::vector<uint8_t> bytes(static_cast<size_t>(width));
          for (int64_t i = 0; i < width; ++i)
            bytes[i] = static_cast<uint8_t>(t.data[row * width + i]);
          return bytes;
        };
        RefTensor out = RefTensor::filled({rows, cols}, 0.0);
        int64_t dataWidth = data->shape[1], groups = scales->shape[1];
        if (auto intq = dyn_cast<IntQuantAttr>(type.getScheme())) {
          int bits = static_cast<int>(intq.getBits());
          std::optional<RefTensor> zeros, gIdx;
          if (weight.getZeroPoints()) {
            FailureOr<RefTensor> z = evaluate(weight.getZeroPoints());
            if (failed(z))
              return failure();
            zeros = *z;
          }
          if (weight.getGIdx()) {
            FailureOr<RefTensor> g = evaluate(weight.getGIdx());
            if (failed(g))
              return failure();
            gIdx = *g;
          }
          for (int64_t r = 0; r < rows; ++r) {
            std::vector<uint8_t> packed = bytesOf(*data, r, dataWidth);
            std::vector<uint8_t> zeroBytes;
            if (zeros)
              zeroBytes = bytesOf(*zeros, r, zeros->shape[1]);
            for (int64_t c = 0; c < cols; ++c) {
              int64_t g = gIdx ? static_cast<int64_t>(gIdx->data[c])
                               : (intq.isPerChannel() ? 0 : c / intq.getGroupSize());
              if (g < 0 || g >= groups)
                return fail("g_idx entry out of range");
              double zero = zeros ? ::qrt::unpackCode(zeroBytes.data(), g, bits)
                                  : ::qrt::implicitZeroPoint(bits);
              double code = ::qrt::unpackCode(packed.data(), c, bits);
              out.data[r * cols + c] =
                  (code - zero) * scales->data[r * groups + g];
            }
          }
          return out;
        }
        auto nf4 = cast<NF4Attr>(type.getScheme());
        if (nf4.getDoubleQuant())
          return fail("reference dequantization of double-quantized NF4 is "
                      "not available yet");
        for (int64_t r = 0; r < rows; ++r) {
          std::vector<uint8_t> packed = bytesOf(*data, r, dataWidth);
          for (int64_t c = 0; c < cols; ++c)
            out.data[r * cols + c] =
                ::qrt::kNF4Codes[::qrt::unpackCode(packed.data(), c, 4)] *
                scales->data[r * groups + c / nf4.getBlockSize()];
        }
        return out;
      })
      .Case<DequantizeOp>([&](auto) -> FailureOr<RefTensor> {
        FailureOr<RefTensor> w = operand(0);
        if (failed(w))
          return failure();
        RefTensor out = *w;
        for (double &v : out.data)
          v = convertTo(element, v);
        return out;
      })
      .Case<DequantMatmulOp>([&](auto) -> FailureOr<RefTensor> {
        FailureOr<RefTensor> x = operand(0), w = operand(1);
        if (failed(x) || failed(w))
          return failure();
        int64_t n = w->shape[0], k = w->shape[1];
        if (x->shape.back() != k)
          return fail("dequant_matmul contraction mismatch");
        RefTensor out;
        out.shape = x->shape;
        out.shape.back() = n;
        int64_t rowsX = x->numElements() / std::max<int64_t>(k, 1);
        for (int64_t r = 0; r < rowsX; ++r)
          for (int64_t j = 0; j < n; ++j) {
            double sum = 0;
            for (int64_t l = 0; l < k; ++l)
              sum += x->data[r * k + l] * w->data[j * k + l];
            out.data.push_back(convertTo(element, sum));
          }
        return out;
      })
      .Default([&](Operation *other) -> FailureOr<RefTensor> {
        return fail("'" + other->getName().getStringRef() +
                    "' has no reference evaluation");
      });
}

FailureOr<RefTensor> ReferenceEvaluator::computeAttention(AttentionOp op,
                                                          Value requested) {
  FailureOr<RefTensor> q = evaluate(op.getQuery()), k = evaluate(op.getKey()),
                       v = evaluate(op.getValue());
  if (failed(q) || failed(k) || failed(v))
    return failure();
  int64_t batch = q->shape[0], seq = q->shape[1], heads = q->shape[2],
          dim = q->shape[3];
  int64_t kvHeads = k->shape[2], vDim = v->shape[3];
  // Dynamic dimensions are only known now: check what the verifier could not.
  auto shapeIs = [](const RefTensor &t, ArrayRef<int64_t> expected) {
    return ArrayRef<int64_t>(t.shape) == expected;
  };
  if (!shapeIs(*k, {batch, seq, kvHeads, dim}) ||
      !shapeIs(*v, {batch, seq, kvHeads, vDim}) || kvHeads == 0 ||
      heads % kvHeads != 0)
    return fail("attention keys/values do not match the queries' batch, "
                "sequence and head dimensions at run time");
  int64_t past = 0;
  RefTensor pastKey, pastValue;
  if (op.getPastKey()) {
    FailureOr<RefTensor> pk = evaluate(op.getPastKey()),
                         pv = evaluate(op.getPastValue());
    if (failed(pk) || failed(pv))
      return failure();
    pastKey = *pk;
    pastValue = *pv;
    past = pk->shape[2];
    if (!shapeIs(*pk, {batch, kvHeads, past, dim}) ||
        !shapeIs(*pv, {batch, kvHeads, past, vDim}))
      return fail("attention past caches do not match the keys/values at run "
                  "time");
  }
  int64_t total = past + seq;
  // Presents: [b, kv, total, d], the past then the new keys/values.
  auto present = [&](const RefTensor &fresh, const RefTensor &old,
                     int64_t d) {
    RefTensor out = RefTensor::filled({batch, kvHeads, total, d}, 0.0);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t h = 0; h < kvHeads; ++h)
        for (int64_t t = 0; t < total; ++t)
          for (int64_t i = 0; i < d; ++i)
            out.data[((b * kvHeads + h) * total + t) * d + i] =
                t < past ? old.data[((b * kvHeads + h) * past + t) * d + i]
                         : fresh.data[((b * seq + (t - past)) * kvHeads + h) * d + i];
    return out;
  };
  RefTensor presentKey = present(*k, pastKey, dim);
  RefTensor presentValue = present(*v, pastValue, vDim);

  RefTensor mask, bias;
  bool hasMask = op.getAttentionMask() != nullptr;
  bool hasBias = op.getAttentionBias() != nullptr;
  if (hasMask) {
    FailureOr<RefTensor> m = evaluate(op.getAttentionMask());
    if (failed(m))
      return failure();
    mask = *m;
    if (!shapeIs(mask, {batch, total}))
      return fail("attention mask is not [batch, past + seq] at run time");
  }
  if (hasBias) {
    FailureOr<RefTensor> bb = evaluate(op.getAttentionBias());
    if (failed(bb))
      return failure();
    bias = *bb;
    int64_t full[] = {batch, heads, seq, total};
    bool broadcasts = bias.shape.size() == 4;
    for (int i = 0; broadcasts && i < 4; ++i)
      broadcasts = bias.shape[i] == full[i] || (i < 2 && bias.shape[i] == 1);
    if (!broadcasts)
      return fail("attention bias does not broadcast to [batch, heads, seq, "
                  "past + seq] at run time");
  }
  double scale = op.getScale() ? op.getScale()->convertToDouble()
                               : 1.0 / std::sqrt(static_cast<double>(dim));
  Type element = cast<RankedTensorType>(op.getOutput().getType()).getElementType();
  RefTensor out = RefTensor::filled({batch, seq, heads, vDim}, 0.0);
  int64_t group = heads / kvHeads;
  std::vector<double> scores(static_cast<size_t>(total));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h) {
      int64_t kh = h / group;
      for (int64_t i = 0; i < seq; ++i) {
        double maxScore = -INFINITY;
        for (int64_t t = 0; t < total; ++t) {
          bool masked = (op.getCausal() && t > past + i) ||
                        (hasMask && mask.data[b * total + t] == 0.0);
          double sc = -INFINITY;
          if (!masked) {
            sc = 0;
            for (int64_t d = 0; d < dim; ++d)
              sc += q->data[((b * seq + i) * heads + h) * dim + d] *
                    presentKey.data[((b * kvHeads + kh) * total + t) * dim + d];
            sc *= scale;
            if (hasBias) {
              int64_t bb = bias.shape[0] == 1 ? 0 : b;
              int64_t bh = bias.shape[1] == 1 ? 0 : h;
              sc += bias.data[((bb * bias.shape[1] + bh) * seq + i) * total + t];
            }
          }
          scores[t] = sc;
          maxScore = std::max(maxScore, sc);
        }
        double sum = 0;
        for (double &sc : scores) {
          sc = std::isinf(sc) && sc < 0 ? 0.0 : std::exp(sc - maxScore);
          sum += sc;
        }
        for (int64_t d = 0; d < vDim; ++d) {
          double acc = 0;
          for (int64_t t = 0; t < total; ++t)
            acc += scores[t] / sum *
                   presentValue.data[((b * kvHeads + kh) * total + t) * vDim + d];
          out.data[((b * seq + i) * heads + h) * vDim + d] = convertTo(element, acc);
        }
      }
    }
  values[op.getOutput()] = out;
  values[op.getPresentKey()] = presentKey;
  values[op.getPresentValue()] = presentValue;
  return values[requested];
}
