//===- ReferenceShape.cpp - constants, shapes and data movement -----------===//
//
// Constants and weights, shape arithmetic (shape_of, fill, range) and the ops
// that move data without computing on it (gather, concat, split, reshape,
// squeeze/unsqueeze, transpose, slice, expand, tile, trilu).
//
//===----------------------------------------------------------------------===//

#include "ReferenceOps.h"

#include "qllm/IR/QLLMOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace mlir;
using namespace mlir::qllm;

namespace mlir::qllm::ref {
namespace {

using R = FailureOr<RefTensor>;

/// One element of a dense resource blob of `element` type.
std::optional<double> blobValue(Type element, const char *p, int64_t i) {
  if (element.isF32()) {
    float f;
    std::memcpy(&f, p + 4 * i, 4);
    return f;
  }
  if (element.isF16() || element.isBF16()) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    const llvm::fltSemantics &sem =
        element.isF16() ? APFloat::IEEEhalf() : APFloat::BFloat();
    return APFloat(sem, APInt(16, h)).convertToDouble();
  }
  auto intType = dyn_cast<IntegerType>(element);
  if (!intType)
    return std::nullopt;
  unsigned width = element.isInteger(1) ? 8 : intType.getWidth();
  uint64_t raw = 0;
  std::memcpy(&raw, p + (width / 8) * i, std::max(1u, width / 8));
  APInt bits(std::max(1u, width), raw);
  return intType.isUnsigned() || width <= 1
             ? static_cast<double>(bits.getZExtValue())
             : static_cast<double>(bits.sextOrTrunc(64).getSExtValue());
}

/// Values of a float, integer or bool elements attribute.
std::optional<std::vector<double>> valuesOf(ElementsAttr attr) {
  std::vector<double> out;
  Type element = attr.getElementType();
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    if (isa<FloatType>(element)) {
      for (const APFloat &v : dense.getValues<APFloat>())
        out.push_back(v.convertToDouble());
    } else if (auto intType = dyn_cast<IntegerType>(element)) {
      for (const APInt &v : dense.getValues<APInt>())
        out.push_back(intType.isUnsigned() || intType.getWidth() == 1
                          ? static_cast<double>(v.getZExtValue())
                          : static_cast<double>(v.getSExtValue()));
    } else {
      return std::nullopt;
    }
    return out; // a splat iterates as getNumElements() copies
  }
  auto resource = dyn_cast<DenseResourceElementsAttr>(attr);
  AsmResourceBlob *blob =
      resource ? resource.getRawHandle().getBlob() : nullptr;
  if (!blob)
    return std::nullopt;
  ArrayRef<char> bytes = blob->getData();
  int64_t count = cast<ShapedType>(resource.getType()).getNumElements();
  unsigned width = element.isInteger(1) ? 8 : element.getIntOrFloatBitWidth();
  if (static_cast<int64_t>(bytes.size()) != count * ((width + 7) / 8))
    return std::nullopt;
  for (int64_t i = 0; i < count; ++i) {
    std::optional<double> v = blobValue(element, bytes.data(), i);
    if (!v)
      return std::nullopt;
    out.push_back(*v);
  }
  return out;
}

R constant(OpContext &ctx, Attribute value) {
  std::optional<std::vector<double>> data = valuesOf(cast<ElementsAttr>(value));
  if (!data)
    return ctx.fail("a constant without readable data");
  RefTensor out;
  ArrayRef<int64_t> shape =
      cast<RankedTensorType>(ctx.getRequested().getType()).getShape();
  out.shape.assign(shape.begin(), shape.end());
  out.data = std::move(*data);
  return out;
}

R shapeOf(OpContext &ctx) {
  FailureOr<RefTensor> a = ctx.operand(0);
  if (failed(a))
    return failure();
  RefTensor out;
  out.shape = {static_cast<int64_t>(a->shape.size())};
  for (int64_t d : a->shape)
    out.data.push_back(static_cast<double>(d));
  return out;
}

R fill(OpContext &ctx, FillOp op) {
  FailureOr<RefTensor> shape = ctx.operand(0);
  if (failed(shape))
    return failure();
  double v = 0;
  if (auto f = dyn_cast<FloatAttr>(op.getValue()))
    v = f.getValueAsDouble();
  else
    v = static_cast<double>(cast<IntegerAttr>(op.getValue()).getInt());
  SmallVector<int64_t> dims = shapeFromValues(*shape);
  if (product(dims, 0, dims.size()) > ctx.getMaxElements())
    return ctx.fail("fill too large");
  return RefTensor::filled(dims, v);
}

R range(OpContext &ctx) {
  FailureOr<RefTensor> s = ctx.operand(0), l = ctx.operand(1),
                       d = ctx.operand(2);
  if (failed(s) || failed(l) || failed(d))
    return failure();
  double start = s->data[0], limit = l->data[0], delta = d->data[0];
  if (delta == 0)
    return ctx.fail("range with delta 0");
  int64_t n = std::max<int64_t>(
      0, static_cast<int64_t>(std::ceil((limit - start) / delta)));
  if (n > ctx.getMaxElements())
    return ctx.fail("range too large");
  RefTensor out;
  for (int64_t i = 0; i < n; ++i)
    out.data.push_back(start + static_cast<double>(i) * delta);
  out.shape = {n};
  return out;
}

R gather(OpContext &ctx, GatherOp op) {
  FailureOr<RefTensor> data = ctx.operand(0), indices = ctx.operand(1);
  if (failed(data) || failed(indices))
    return failure();
  size_t axis = op.getAxis();
  int64_t n = data->shape[axis];
  int64_t outer = product(data->shape, 0, axis),
          inner = product(data->shape, axis + 1, data->shape.size());
  RefTensor out;
  out.shape.assign(data->shape.begin(), data->shape.begin() + axis);
  out.shape.append(indices->shape.begin(), indices->shape.end());
  out.shape.append(data->shape.begin() + axis + 1, data->shape.end());
  for (int64_t o = 0; o < outer; ++o)
    for (double idx : indices->data) {
      int64_t j = static_cast<int64_t>(idx);
      j = j < 0 ? j + n : j;
      if (j < 0 || j >= n)
        return ctx.fail("gather index out of range");
      for (int64_t k = 0; k < inner; ++k)
        out.data.push_back(data->data[(o * n + j) * inner + k]);
    }
  return out;
}

R concat(OpContext &ctx, ConcatOp op) {
  size_t axis = op.getAxis();
  SmallVector<RefTensor> parts;
  for (unsigned i = 0; i < op->getNumOperands(); ++i) {
    FailureOr<RefTensor> part = ctx.operand(i);
    if (failed(part))
      return failure();
    parts.push_back(*part);
  }
  RefTensor out;
  out.shape = parts.front().shape;
  out.shape[axis] = 0;
  for (const RefTensor &p : parts)
    out.shape[axis] += p.shape[axis];
  int64_t outer = product(out.shape, 0, axis);
  for (int64_t o = 0; o < outer; ++o)
    for (const RefTensor &p : parts) {
      int64_t chunk = p.numElements() / std::max<int64_t>(outer, 1);
      out.data.insert(out.data.end(), p.data.begin() + o * chunk,
                      p.data.begin() + (o + 1) * chunk);
    }
  return out;
}

/// Binds every part of the split and returns the requested one.
R split(OpContext &ctx, SplitOp op) {
  FailureOr<RefTensor> input = ctx.operand(0);
  if (failed(input))
    return failure();
  size_t axis = op.getAxis();
  int64_t dim = input->shape[axis];
  int64_t outer = product(input->shape, 0, axis),
          inner = product(input->shape, axis + 1, input->shape.size());
  int64_t total = 0;
  for (int64_t size : op.getSizes())
    total += size;
  if (total != dim)
    return ctx.fail("split sizes do not add up to the dimension");
  int64_t offset = 0;
  RefTensor requested;
  for (auto [size, result] : llvm::zip_equal(op.getSizes(), op.getResults())) {
    RefTensor part;
    part.shape = input->shape;
    part.shape[axis] = size;
    for (int64_t o = 0; o < outer; ++o)
      part.data.insert(part.data.end(),
                       input->data.begin() + (o * dim + offset) * inner,
                       input->data.begin() + (o * dim + offset + size) * inner);
    offset += size;
    if (result == ctx.getRequested())
      requested = part;
    ctx.bind(result, std::move(part));
  }
  return requested;
}

template <typename SqueezeLike>
R squeeze(OpContext &ctx, SqueezeLike op) {
  FailureOr<RefTensor> a = ctx.operand(0);
  if (failed(a))
    return failure();
  RefTensor out = *a;
  out.shape.clear();
  ArrayRef<int64_t> axes = op.getAxes();
  if constexpr (std::is_same_v<SqueezeLike, UnsqueezeOp>) {
    int64_t rank = static_cast<int64_t>(a->shape.size() + axes.size());
    for (int64_t i = 0, next = 0; i < rank; ++i)
      out.shape.push_back(llvm::is_contained(axes, i) ? 1 : a->shape[next++]);
  } else {
    for (auto [i, d] : llvm::enumerate(a->shape))
      if (!llvm::is_contained(axes, static_cast<int64_t>(i)))
        out.shape.push_back(d);
  }
  return out;
}

/// ONNX Reshape: 0 copies the input dimension, -1 is inferred.
SmallVector<int64_t> reshapeTarget(const RefTensor &input,
                                   const RefTensor &shape) {
  SmallVector<int64_t> out;
  int64_t known = 1, inferred = -1;
  for (auto [i, d] : llvm::enumerate(shape.data)) {
    int64_t v = static_cast<int64_t>(d);
    if (v == 0)
      v = input.shape[i];
    if (v == -1)
      inferred = static_cast<int64_t>(i);
    else
      known *= v;
    out.push_back(v);
  }
  if (inferred >= 0)
    out[inferred] = known ? input.numElements() / known : 0;
  return out;
}

R reshape(OpContext &ctx, ReshapeOp op) {
  FailureOr<RefTensor> a = ctx.operand(0);
  if (failed(a))
    return failure();
  RefTensor out = *a;
  if (op.getShape()) {
    FailureOr<RefTensor> shape = ctx.operand(1);
    if (failed(shape))
      return failure();
    out.shape = reshapeTarget(*a, *shape);
  } else {
    ArrayRef<int64_t> shape = op.getType().getShape();
    out.shape.assign(shape.begin(), shape.end());
  }
  if (out.numElements() != a->numElements())
    return ctx.fail("reshape changes the element count");
  return out;
}

R transpose(OpContext &ctx, TransposeOp op) {
  FailureOr<RefTensor> a = ctx.operand(0);
  if (failed(a))
    return failure();
  ArrayRef<int64_t> perm = op.getPermutation();
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
}

/// ONNX Slice of operand 0 with per-axis starts/ends (static or run-time).
R sliceBy(OpContext &ctx, ArrayRef<int64_t> axes, ArrayRef<int64_t> starts,
          ArrayRef<int64_t> ends, ArrayRef<int64_t> steps) {
  FailureOr<RefTensor> a = ctx.operand(0);
  if (failed(a))
    return failure();
  SmallVector<int64_t> start(a->shape.size(), 0), step(a->shape.size(), 1);
  RefTensor out;
  out.shape = a->shape;
  for (auto [i, axis] : llvm::enumerate(axes)) {
    int64_t dim = a->shape[axis], st = steps[i];
    start[axis] = SliceOp::getStartIndex(dim, starts[i], st);
    step[axis] = st;
    out.shape[axis] = SliceOp::getResultDimSize(dim, starts[i], ends[i], st);
  }
  SmallVector<int64_t> strides = stridesOf(a->shape);
  forEachIndex(out.shape, [&](ArrayRef<int64_t> index) {
    int64_t offset = 0;
    for (size_t d = 0; d < index.size(); ++d)
      offset += (start[d] + index[d] * step[d]) * strides[d];
    out.data.push_back(a->data[offset]);
  });
  return out;
}

R slice(OpContext &ctx, SliceOp op) {
  return sliceBy(ctx, op.getAxes(), op.getStarts(), op.getEnds(),
                 op.getSteps());
}

R dynamicSlice(OpContext &ctx, DynamicSliceOp op) {
  FailureOr<RefTensor> starts = ctx.operand(1), ends = ctx.operand(2);
  if (failed(starts) || failed(ends))
    return failure();
  size_t n = op.getAxes().size();
  if (starts->data.size() != n || ends->data.size() != n)
    return ctx.fail("dynamic_slice bounds do not have one entry per axis");
  SmallVector<int64_t> s, e;
  for (size_t i = 0; i < n; ++i) {
    // INT64_MAX ("to the end") is not exact in a double: clamp to 2^62.
    auto bound = [](double v) {
      return static_cast<int64_t>(std::clamp(v, -0x1p62, 0x1p62));
    };
    s.push_back(bound(starts->data[i]));
    e.push_back(bound(ends->data[i]));
  }
  return sliceBy(ctx, op.getAxes(), s, e, op.getSteps());
}

R expand(OpContext &ctx) {
  FailureOr<RefTensor> a = ctx.operand(0), shape = ctx.operand(1);
  if (failed(a) || failed(shape))
    return failure();
  RefTensor out;
  if (!broadcastShapes(a->shape, shapeFromValues(*shape), out.shape))
    return ctx.fail("expand shapes do not broadcast");
  if (out.numElements() > ctx.getMaxElements())
    return ctx.fail("expand too large");
  SmallVector<int64_t> sa = stridesOf(a->shape);
  forEachIndex(out.shape, [&](ArrayRef<int64_t> index) {
    out.data.push_back(a->data[broadcastOffset(index, a->shape, sa)]);
  });
  return out;
}

R tile(OpContext &ctx) {
  FailureOr<RefTensor> a = ctx.operand(0), repeats = ctx.operand(1);
  if (failed(a) || failed(repeats))
    return failure();
  RefTensor out;
  for (auto [d, r] : llvm::zip_equal(a->shape, repeats->data))
    out.shape.push_back(d * static_cast<int64_t>(r));
  if (out.numElements() > ctx.getMaxElements())
    return ctx.fail("tile too large");
  SmallVector<int64_t> sa = stridesOf(a->shape);
  forEachIndex(out.shape, [&](ArrayRef<int64_t> index) {
    int64_t offset = 0;
    for (size_t d = 0; d < index.size(); ++d)
      offset += (index[d] % a->shape[d]) * sa[d];
    out.data.push_back(a->data[offset]);
  });
  return out;
}

R trilu(OpContext &ctx, TriluOp op) {
  FailureOr<RefTensor> a = ctx.operand(0);
  if (failed(a))
    return failure();
  RefTensor out = *a;
  int64_t rows = a->shape[a->shape.size() - 2], cols = a->shape.back();
  int64_t k = op.getDiagonal();
  for (int64_t n = 0; n < out.numElements(); ++n) {
    int64_t c = n % cols, r = (n / cols) % rows;
    bool keep = op.getUpper() ? c - r >= k : c - r <= k;
    if (!keep)
      out.data[n] = 0.0;
  }
  return out;
}

R scatterNd(OpContext &ctx) {
  FailureOr<RefTensor> data = ctx.operand(0), indices = ctx.operand(1),
                       updates = ctx.operand(2);
  if (failed(data) || failed(indices) || failed(updates))
    return failure();
  RefTensor out = *data;
  int64_t k = indices->shape.back();
  int64_t rank = static_cast<int64_t>(data->shape.size());
  if (k < 1 || k > rank)
    return ctx.fail("scatter_nd index tuples longer than the data's rank");
  int64_t tuples = indices->numElements() / k;
  // Elements per addressed slice, and the strides of the leading k axes.
  int64_t slice = 1;
  for (int64_t d = k; d < rank; ++d)
    slice *= data->shape[d];
  SmallVector<int64_t> strides = stridesOf(data->shape);
  if (updates->numElements() != tuples * slice)
    return ctx.fail("scatter_nd updates do not match the indices");
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t offset = 0;
    for (int64_t d = 0; d < k; ++d) {
      int64_t i = static_cast<int64_t>(indices->data[t * k + d]);
      int64_t dim = data->shape[d];
      if (i < 0)
        i += dim;
      if (i < 0 || i >= dim)
        return ctx.fail("scatter_nd index out of range");
      offset += i * strides[d];
    }
    for (int64_t e = 0; e < slice; ++e)
      out.data[offset + e] = updates->data[t * slice + e];
  }
  return out;
}

} // namespace

Result evaluateShape(OpContext &ctx) {
  return llvm::TypeSwitch<Operation *, Result>(ctx.getOp())
      .Case([&](ConstantOp op) { return constant(ctx, op.getValue()); })
      .Case([&](WeightOp op) { return constant(ctx, op.getValue()); })
      .Case([&](ShapeOfOp) { return shapeOf(ctx); })
      .Case([&](FillOp op) { return fill(ctx, op); })
      .Case([&](RangeOp) { return range(ctx); })
      .Case([&](GatherOp op) { return gather(ctx, op); })
      .Case([&](ConcatOp op) { return concat(ctx, op); })
      .Case([&](SplitOp op) { return split(ctx, op); })
      .Case([&](UnsqueezeOp op) { return squeeze(ctx, op); })
      .Case([&](SqueezeOp op) { return squeeze(ctx, op); })
      .Case([&](ReshapeOp op) { return reshape(ctx, op); })
      .Case([&](TransposeOp op) { return transpose(ctx, op); })
      .Case([&](SliceOp op) { return slice(ctx, op); })
      .Case([&](DynamicSliceOp op) { return dynamicSlice(ctx, op); })
      .Case([&](ExpandOp) { return expand(ctx); })
      .Case([&](TileOp) { return tile(ctx); })
      .Case([&](TriluOp op) { return trilu(ctx, op); })
      .Case([&](ScatterNdOp) { return scatterNd(ctx); })
      .Default([](Operation *) { return std::nullopt; });
}

} // namespace mlir::qllm::ref
