//===- StandardOps.cpp - converters of ONNX-domain ops --------------------===//
//
// One converter per ONNX op (opset 13 and later): each builds the qllm ops of
// the node and computes their result types, static where the shapes allow.
//
//===----------------------------------------------------------------------===//

#include "ImportContext.h"

#include "mlir/Dialect/Traits.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::qllm;
using namespace mlir::qllm::onnx_import;

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

Type mlir::qllm::onnx_import::elementTypeOf(MLIRContext *ctx, int32_t onnxType) {
  switch (onnxType) {
  case onnx::TensorProto::FLOAT:
    return Float32Type::get(ctx);
  case onnx::TensorProto::FLOAT16:
    return Float16Type::get(ctx);
  case onnx::TensorProto::BFLOAT16:
    return BFloat16Type::get(ctx);
  case onnx::TensorProto::DOUBLE:
    return Float64Type::get(ctx);
  case onnx::TensorProto::INT64:
    return IntegerType::get(ctx, 64);
  case onnx::TensorProto::INT32:
    return IntegerType::get(ctx, 32);
  case onnx::TensorProto::INT16:
    return IntegerType::get(ctx, 16);
  case onnx::TensorProto::INT8:
    return IntegerType::get(ctx, 8);
  case onnx::TensorProto::UINT8:
    return IntegerType::get(ctx, 8, IntegerType::Unsigned);
  case onnx::TensorProto::BOOL:
    return IntegerType::get(ctx, 1);
  // Opset 21's 4-bit integers (onnx.proto: UINT4 = 21, INT4 = 22), packed two
  // per byte, the first in the low nibble; initializers only (DequantizeLinear).
  case 21:
    return IntegerType::get(ctx, 4, IntegerType::Unsigned);
  case 22:
    return IntegerType::get(ctx, 4);
  default:
    return {};
  }
}

FailureOr<DenseElementsAttr>
mlir::qllm::onnx_import::denseFromTensor(MLIRContext *ctx,
                                         const onnx::TensorProto &tensor,
                                         std::string &error) {
  Type element = elementTypeOf(ctx, tensor.data_type());
  if (!element) {
    error = "unsupported element type (ONNX data type " +
            std::to_string(tensor.data_type()) + ")";
    return failure();
  }
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    error = "inline constant with external data";
    return failure();
  }
  SmallVector<int64_t> shape(tensor.dims().begin(), tensor.dims().end());
  if (llvm::any_of(shape, [](int64_t d) { return d < 0; })) {
    error = "negative dimension";
    return failure();
  }
  auto type = RankedTensorType::get(shape, element);
  uint64_t count = static_cast<uint64_t>(type.getNumElements());
  unsigned bytes = element.isInteger(1)
                       ? 1
                       : (element.getIntOrFloatBitWidth() + 7) / 8;
  std::string data;
  if (tensor.has_raw_data()) {
    data = tensor.raw_data();
  } else {
    auto put = [&](const void *p, size_t n) {
      data.append(static_cast<const char *>(p), n);
    };
    switch (tensor.data_type()) {
    case onnx::TensorProto::FLOAT:
      for (float v : tensor.float_data())
        put(&v, 4);
      break;
    case onnx::TensorProto::DOUBLE:
      for (double v : tensor.double_data())
        put(&v, 8);
      break;
    case onnx::TensorProto::INT64:
      for (int64_t v : tensor.int64_data())
        put(&v, 8);
      break;
    case onnx::TensorProto::INT32:
      for (int32_t v : tensor.int32_data())
        put(&v, 4);
      break;
    case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16:
    case onnx::TensorProto::INT16:
      for (int32_t v : tensor.int32_data()) {
        uint16_t h = static_cast<uint16_t>(v);
        put(&h, 2);
      }
      break;
    default:
      for (int32_t v : tensor.int32_data()) {
        uint8_t c = static_cast<uint8_t>(v);
        put(&c, 1);
      }
      break;
    }
  }
  if (data.size() != count * bytes) {
    error = llvm::formatv("holds {0} bytes of data but {1} needs {2}",
                          data.size(), std::string("tensor"), count * bytes)
                .str();
    return failure();
  }
  if (element.isInteger(1)) {
    SmallVector<bool> bits;
    for (char c : data)
      bits.push_back(c != 0);
    return DenseElementsAttr::get(type, bits);
  }
  return DenseElementsAttr::getFromRawBuffer(
      type, ArrayRef<char>(data.data(), data.size()));
}

namespace {

/// The broadcast of two shapes (NumPy rules), or failure.
FailureOr<SmallVector<int64_t>> broadcast(ImportContext &ctx,
                                          ArrayRef<int64_t> a,
                                          ArrayRef<int64_t> b) {
  SmallVector<int64_t> result;
  if (!OpTrait::util::getBroadcastedShape(a, b, result))
    return ctx.error() << "operand shapes do not broadcast";
  return result;
}

template <typename OpTy>
LogicalResult convertBinary(ImportContext &ctx) {
  FailureOr<Value> lhs = ctx.requiredInput(0), rhs = ctx.requiredInput(1);
  if (failed(lhs) || failed(rhs))
    return failure();
  auto lt = rankedType(*lhs), rt = rankedType(*rhs);
  if (lt.getElementType() != rt.getElementType())
    return ctx.error() << "operands have different element types ("
                       << lt.getElementType() << ", " << rt.getElementType()
                       << ")";
  auto shape = broadcast(ctx, lt.getShape(), rt.getShape());
  if (failed(shape))
    return failure();
  auto type = ctx.tensorType(*shape, lt.getElementType());
  ctx.setOutput(0, OpTy::create(ctx.b, ctx.loc, type, *lhs, *rhs));
  return success();
}

/// Sum/Max/Min and friends take two or more inputs: fold them pairwise.
template <typename OpTy>
LogicalResult convertVariadic(ImportContext &ctx) {
  if (ctx.numInputs() == 2)
    return convertBinary<OpTy>(ctx);
  return ctx.error() << "is supported with two inputs only";
}

LogicalResult convertPow(ImportContext &ctx) {
  FailureOr<Value> base = ctx.requiredInput(0), exponent = ctx.requiredInput(1);
  if (failed(base) || failed(exponent))
    return failure();
  auto bt = rankedType(*base);
  Value e = *exponent;
  // ONNX allows an exponent of another type; qllm.pow takes the base's.
  if (rankedType(e).getElementType() != bt.getElementType())
    e = CastOp::create(
        ctx.b, ctx.loc,
        ctx.tensorType(rankedType(e).getShape(), bt.getElementType()), e);
  auto shape = broadcast(ctx, bt.getShape(), rankedType(e).getShape());
  if (failed(shape))
    return failure();
  ctx.setOutput(0, PowOp::create(ctx.b, ctx.loc,
                                 ctx.tensorType(*shape, bt.getElementType()),
                                 *base, e));
  return success();
}

template <typename OpTy>
LogicalResult convertUnary(ImportContext &ctx) {
  FailureOr<Value> input = ctx.requiredInput(0);
  if (failed(input))
    return failure();
  ctx.setOutput(0, OpTy::create(ctx.b, ctx.loc, input->getType(), *input));
  return success();
}

template <ComparePredicate predicate>
LogicalResult convertCompare(ImportContext &ctx) {
  FailureOr<Value> lhs = ctx.requiredInput(0), rhs = ctx.requiredInput(1);
  if (failed(lhs) || failed(rhs))
    return failure();
  auto shape =
      broadcast(ctx, rankedType(*lhs).getShape(), rankedType(*rhs).getShape());
  if (failed(shape))
    return failure();
  auto type = ctx.tensorType(*shape, ctx.b.getI1Type());
  ctx.setOutput(0, CompareOp::create(ctx.b, ctx.loc, type, predicate, *lhs,
                                     *rhs));
  return success();
}

LogicalResult convertWhere(ImportContext &ctx) {
  FailureOr<Value> cond = ctx.requiredInput(0), x = ctx.requiredInput(1),
                   y = ctx.requiredInput(2);
  if (failed(cond) || failed(x) || failed(y))
    return failure();
  auto shape = broadcast(ctx, rankedType(*cond).getShape(),
                         rankedType(*x).getShape());
  if (failed(shape))
    return failure();
  shape = broadcast(ctx, *shape, rankedType(*y).getShape());
  if (failed(shape))
    return failure();
  auto type = ctx.tensorType(*shape, rankedType(*x).getElementType());
  ctx.setOutput(0, SelectOp::create(ctx.b, ctx.loc, type, *cond, *x, *y));
  return success();
}

/// And, Or, Xor and Not on booleans, as selects: a and b = a ? b : false,
/// a or b = a ? true : b, a xor b = a ? not b : b, not a = a ? false : true.
template <char Kind>
LogicalResult convertLogical(ImportContext &ctx) {
  FailureOr<Value> a = ctx.requiredInput(0);
  if (failed(a))
    return failure();
  Type i1 = ctx.b.getI1Type();
  if (rankedType(*a).getElementType() != i1)
    return ctx.error() << "needs boolean inputs";
  auto boolConstant = [&](bool v) -> Value {
    auto type = ctx.tensorType({}, i1);
    return ConstantOp::create(ctx.b, ctx.loc,
                              DenseElementsAttr::get(type, v));
  };
  auto select = [&](Value cond, Value x, Value y) -> FailureOr<Value> {
    auto shape = broadcast(ctx, rankedType(cond).getShape(),
                           rankedType(x).getShape());
    if (failed(shape))
      return failure();
    shape = broadcast(ctx, *shape, rankedType(y).getShape());
    if (failed(shape))
      return failure();
    return Value(SelectOp::create(ctx.b, ctx.loc, ctx.tensorType(*shape, i1),
                                  cond, x, y));
  };
  if (Kind == '!') {
    FailureOr<Value> r = select(*a, boolConstant(false), boolConstant(true));
    if (failed(r))
      return failure();
    ctx.setOutput(0, *r);
    return success();
  }
  FailureOr<Value> b = ctx.requiredInput(1);
  if (failed(b))
    return failure();
  if (rankedType(*b).getElementType() != i1)
    return ctx.error() << "needs boolean inputs";
  FailureOr<Value> r = failure();
  if (Kind == '&')
    r = select(*a, *b, boolConstant(false));
  else if (Kind == '|')
    r = select(*a, boolConstant(true), *b);
  else {
    FailureOr<Value> notB = select(*b, boolConstant(false), boolConstant(true));
    if (failed(notB))
      return failure();
    r = select(*a, *notB, *b);
  }
  if (failed(r))
    return failure();
  ctx.setOutput(0, *r);
  return success();
}

LogicalResult convertScatterND(ImportContext &ctx) {
  FailureOr<Value> data = ctx.requiredInput(0), indices = ctx.requiredInput(1),
                   updates = ctx.requiredInput(2);
  if (failed(data) || failed(indices) || failed(updates))
    return failure();
  if (const onnx::AttributeProto *reduction = ctx.attribute("reduction");
      reduction && reduction->s() != "none")
    return ctx.error() << "reduction '" << reduction->s()
                       << "' is not supported (only 'none')";
  auto indicesType = rankedType(*indices);
  if (indicesType.getRank() < 1 ||
      isDynamic(indicesType.getShape().back()))
    return ctx.error() << "needs indices whose last dimension is static";
  ctx.setOutput(0, ScatterNdOp::create(ctx.b, ctx.loc, (*data).getType(),
                                       *data, *indices, *updates));
  return success();
}

LogicalResult convertCast(ImportContext &ctx) {
  FailureOr<Value> input = ctx.requiredInput(0);
  if (failed(input))
    return failure();
  const onnx::AttributeProto *to = ctx.attribute("to");
  if (!to)
    return ctx.error() << "needs the 'to' attribute";
  Type element = elementTypeOf(ctx.getContext(), static_cast<int32_t>(to->i()));
  if (!element)
    return ctx.error() << "casts to an unsupported type (ONNX data type "
                       << to->i() << ")";
  auto type = ctx.tensorType(rankedType(*input).getShape(), element);
  ctx.setOutput(0, CastOp::create(ctx.b, ctx.loc, type, *input));
  return success();
}

LogicalResult convertIdentity(ImportContext &ctx) {
  FailureOr<Value> input = ctx.requiredInput(0);
  if (failed(input))
    return failure();
  ctx.setOutput(0, *input);
  return success();
}

LogicalResult convertConstant(ImportContext &ctx) {
  MLIRContext *mctx = ctx.getContext();
  std::string error;
  if (const onnx::AttributeProto *value = ctx.attribute("value")) {
    FailureOr<DenseElementsAttr> dense =
        denseFromTensor(mctx, value->t(), error);
    if (failed(dense))
      return ctx.error() << "value: " << error;
    ctx.setOutput(0, ConstantOp::create(ctx.b, ctx.loc, *dense));
    return success();
  }
  if (const onnx::AttributeProto *v = ctx.attribute("value_float")) {
    auto type = RankedTensorType::get({}, ctx.b.getF32Type());
    ctx.setOutput(0, ConstantOp::create(ctx.b, ctx.loc,
                                        DenseElementsAttr::get(type, v->f())));
    return success();
  }
  if (const onnx::AttributeProto *v = ctx.attribute("value_floats")) {
    SmallVector<float> floats(v->floats().begin(), v->floats().end());
    auto type = RankedTensorType::get({static_cast<int64_t>(floats.size())},
                                      ctx.b.getF32Type());
    ctx.setOutput(0, ConstantOp::create(
                         ctx.b, ctx.loc,
                         DenseElementsAttr::get(type, ArrayRef<float>(floats))));
    return success();
  }
  if (const onnx::AttributeProto *v = ctx.attribute("value_int")) {
    ctx.setOutput(0, ctx.constantI64({v->i()}, /*scalar=*/true));
    return success();
  }
  if (const onnx::AttributeProto *v = ctx.attribute("value_ints")) {
    SmallVector<int64_t> ints(v->ints().begin(), v->ints().end());
    ctx.setOutput(0, ctx.constantI64(ints));
    return success();
  }
  return ctx.error() << "has no supported value attribute (value, "
                        "value_float(s), value_int(s))";
}

/// MatMul with NumPy semantics; 1-D operands get a unit dimension added and
/// removed, as ONNX specifies.
LogicalResult convertMatMul(ImportContext &ctx) {
  FailureOr<Value> lhs = ctx.requiredInput(0), rhs = ctx.requiredInput(1);
  if (failed(lhs) || failed(rhs))
    return failure();
  Value a = *lhs, b = *rhs;
  auto at = rankedType(a), bt = rankedType(b);
  if (at.getElementType() != bt.getElementType())
    return ctx.error() << "operands have different element types";
  bool vecA = at.getRank() == 1, vecB = bt.getRank() == 1;
  if (at.getRank() == 0 || bt.getRank() == 0)
    return ctx.error() << "operands must have rank >= 1";
  if (vecA) {
    at = ctx.tensorType({1, at.getDimSize(0)}, at.getElementType());
    a = UnsqueezeOp::create(ctx.b, ctx.loc, at, a,
                            ctx.b.getDenseI64ArrayAttr({0}));
  }
  if (vecB) {
    bt = ctx.tensorType({bt.getDimSize(0), 1}, bt.getElementType());
    b = UnsqueezeOp::create(ctx.b, ctx.loc, bt, b,
                            ctx.b.getDenseI64ArrayAttr({1}));
  }
  SmallVector<int64_t> batch;
  if (!OpTrait::util::getBroadcastedShape(at.getShape().drop_back(2),
                                          bt.getShape().drop_back(2), batch))
    return ctx.error() << "batch dimensions do not broadcast";
  int64_t k1 = at.getShape().back(), k2 = bt.getDimSize(bt.getRank() - 2);
  if (!isDynamic(k1) && !isDynamic(k2) && k1 != k2)
    return ctx.error() << "contraction dimensions differ (" << k1 << " vs "
                       << k2 << ")";
  SmallVector<int64_t> shape = batch;
  shape.push_back(at.getDimSize(at.getRank() - 2));
  shape.push_back(bt.getShape().back());
  Value result = MatmulOp::create(ctx.b, ctx.loc,
                                  ctx.tensorType(shape, at.getElementType()),
                                  a, b, /*transpose_rhs=*/false);
  if (vecA || vecB) {
    SmallVector<int64_t> axes;
    int64_t rank = static_cast<int64_t>(shape.size());
    if (vecA)
      axes.push_back(rank - 2);
    if (vecB)
      axes.push_back(rank - 1);
    SmallVector<int64_t> squeezed;
    for (int64_t i = 0; i < rank; ++i)
      if (!llvm::is_contained(axes, i))
        squeezed.push_back(shape[i]);
    result = SqueezeOp::create(ctx.b, ctx.loc,
                               ctx.tensorType(squeezed, at.getElementType()),
                               result, ctx.b.getDenseI64ArrayAttr(axes));
  }
  ctx.setOutput(0, result);
  return success();
}

/// Gemm: alpha * A' * B' + beta * C, with A' / B' optionally transposed.
LogicalResult convertGemm(ImportContext &ctx) {
  FailureOr<Value> lhs = ctx.requiredInput(0), rhs = ctx.requiredInput(1);
  if (failed(lhs) || failed(rhs))
    return failure();
  Value a = *lhs, b = *rhs;
  auto at = rankedType(a), bt = rankedType(b);
  if (at.getRank() != 2 || bt.getRank() != 2)
    return ctx.error() << "operands must be matrices";
  Type element = at.getElementType();
  if (ctx.intAttr("transA", 0)) {
    at = ctx.tensorType({at.getDimSize(1), at.getDimSize(0)}, element);
    a = TransposeOp::create(ctx.b, ctx.loc, at, a,
                            ctx.b.getDenseI64ArrayAttr({1, 0}));
  }
  bool transB = ctx.intAttr("transB", 0) != 0;
  int64_t n = transB ? bt.getDimSize(0) : bt.getDimSize(1);
  auto type = ctx.tensorType({at.getDimSize(0), n}, element);
  Value y = MatmulOp::create(ctx.b, ctx.loc, type, a, b, transB);
  float alpha = ctx.floatAttr("alpha", 1.0f), beta = ctx.floatAttr("beta", 1.0f);
  if (alpha != 1.0f)
    y = MulOp::create(ctx.b, ctx.loc, type, y, ctx.constantFloat(alpha, element));
  if (Value c = ctx.input(2)) {
    if (beta != 1.0f)
      c = MulOp::create(ctx.b, ctx.loc, c.getType(), c,
                        ctx.constantFloat(beta, element));
    auto shape = broadcast(ctx, type.getShape(), rankedType(c).getShape());
    if (failed(shape))
      return failure();
    y = AddOp::create(ctx.b, ctx.loc, ctx.tensorType(*shape, element), y, c);
  }
  ctx.setOutput(0, y);
  return success();
}

LogicalResult convertGather(ImportContext &ctx) {
  FailureOr<Value> data = ctx.requiredInput(0), indices = ctx.requiredInput(1);
  if (failed(data) || failed(indices))
    return failure();
  auto dt = rankedType(*data);
  FailureOr<int64_t> axis = ctx.normalizeAxis(ctx.intAttr("axis", 0), dt.getRank());
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(dt.getShape().take_front(*axis));
  llvm::append_range(shape, rankedType(*indices).getShape());
  llvm::append_range(shape, dt.getShape().drop_front(*axis + 1));
  ctx.setOutput(0, GatherOp::create(ctx.b, ctx.loc,
                                    ctx.tensorType(shape, dt.getElementType()),
                                    *data, *indices, *axis));
  return success();
}

/// Reduction axes from the attribute (ReduceMean/Max before opset 18) or the
/// second input (ReduceSum from 13, all from 18).
template <typename OpTy>
LogicalResult convertReduce(ImportContext &ctx) {
  FailureOr<Value> input = ctx.requiredInput(0);
  if (failed(input))
    return failure();
  auto type = rankedType(*input);
  SmallVector<int64_t> axes;
  if (std::optional<SmallVector<int64_t>> attr = ctx.intsAttr("axes")) {
    axes = *attr;
  } else if (Value axesInput = ctx.input(1)) {
    FailureOr<SmallVector<int64_t>> values = ctx.constantInts(axesInput, "axes");
    if (failed(values))
      return failure();
    axes = *values;
  }
  if (axes.empty()) {
    if (ctx.intAttr("noop_with_empty_axes", 0)) {
      ctx.setOutput(0, *input);
      return success();
    }
    for (int64_t i = 0; i < type.getRank(); ++i)
      axes.push_back(i);
  }
  for (int64_t &axis : axes) {
    FailureOr<int64_t> normalized = ctx.normalizeAxis(axis, type.getRank());
    if (failed(normalized))
      return failure();
    axis = *normalized;
  }
  llvm::sort(axes);
  bool keepDims = ctx.intAttr("keepdims", 1) != 0;
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < type.getRank(); ++i) {
    if (!llvm::is_contained(axes, i))
      shape.push_back(type.getDimSize(i));
    else if (keepDims)
      shape.push_back(1);
  }
  ctx.setOutput(0, OpTy::create(ctx.b, ctx.loc,
                                ctx.tensorType(shape, type.getElementType()),
                                *input, ctx.b.getDenseI64ArrayAttr(axes),
                                keepDims));
  return success();
}

LogicalResult convertSoftmax(ImportContext &ctx) {
  FailureOr<Value> input = ctx.requiredInput(0);
  if (failed(input))
    return failure();
  FailureOr<int64_t> axis =
      ctx.normalizeAxis(ctx.intAttr("axis", -1), rankedType(*input).getRank());
  if (failed(axis))
    return failure();
  ctx.setOutput(0, SoftmaxOp::create(ctx.b, ctx.loc, input->getType(), *input,
                                     *axis));
  return success();
}

LogicalResult convertReshape(ImportContext &ctx) {
  FailureOr<Value> input = ctx.requiredInput(0), shapeValue = ctx.requiredInput(1);
  if (failed(input) || failed(shapeValue))
    return failure();
  auto it = rankedType(*input);
  auto st = rankedType(*shapeValue);
  if (st.getRank() != 1 || isDynamic(st.getDimSize(0)))
    return ctx.error() << "needs a 1-D shape of static length";
  bool allowZero = ctx.intAttr("allowzero", 0) != 0;
  std::optional<SmallVector<int64_t>> known = ctx.knownInts(*shapeValue);
  SmallVector<int64_t> shape(st.getDimSize(0), ShapedType::kDynamic);
  if (known) {
    int64_t inferred = -1;
    for (auto [i, v] : llvm::enumerate(*known)) {
      if (isDynamic(v))
        continue;
      if (v == 0 && !allowZero) {
        if (static_cast<int64_t>(i) >= it.getRank())
          return ctx.error() << "shape entry " << i
                             << " is 0 (copy) but the input has rank "
                             << it.getRank();
        shape[i] = it.getDimSize(i);
      } else if (v == -1) {
        if (inferred >= 0)
          return ctx.error() << "shape has more than one -1";
        inferred = static_cast<int64_t>(i);
      } else if (v < 0) {
        return ctx.error() << "shape entry " << i << " is " << v;
      } else {
        shape[i] = v;
      }
    }
    if (inferred >= 0) {
      // The -1 entry is the input's element count over the other entries';
      // an entry that copies (0) an input dimension cancels that dimension,
      // so dynamic dimensions copied through do not prevent the inference.
      auto copies = [&](int64_t i) {
        return i < static_cast<int64_t>(known->size()) && (*known)[i] == 0 &&
               !allowZero;
      };
      int64_t numerator = 1, denominator = 1;
      bool exact = true;
      for (int64_t d = 0; d < it.getRank(); ++d) {
        if (copies(d))
          continue;
        exact &= !isDynamic(it.getDimSize(d));
        numerator *= exact ? it.getDimSize(d) : 1;
      }
      for (auto [i, d] : llvm::enumerate(shape)) {
        int64_t index = static_cast<int64_t>(i);
        if (index == inferred || copies(index))
          continue;
        exact &= !isDynamic(d);
        denominator *= exact ? d : 1;
      }
      if (exact) {
        if (denominator == 0 || numerator % denominator != 0)
          return ctx.error() << "cannot infer the -1 entry: " << numerator
                             << " elements do not divide by " << denominator;
        shape[inferred] = numerator / denominator;
      }
    }
  }
  auto type = ctx.tensorType(shape, it.getElementType());
  if (allowZero && known && llvm::is_contained(*known, 0))
    return ctx.error() << "allowzero = 1 with a zero-sized dimension is not "
                          "supported";
  ctx.setOutput(0, ReshapeOp::create(ctx.b, ctx.loc, type, *input, *shapeValue));
  return success();
}

LogicalResult convertTranspose(ImportContext &ctx) {
  FailureOr<Value> input = ctx.requiredInput(0);
  if (failed(input))
    return failure();
  auto type = rankedType(*input);
  SmallVector<int64_t> perm;
  if (std::optional<SmallVector<int64_t>> attr = ctx.intsAttr("perm"))
    perm = *attr;
  else
    for (int64_t i = type.getRank() - 1; i >= 0; --i)
      perm.push_back(i);
  if (static_cast<int64_t>(perm.size()) != type.getRank())
    return ctx.error() << "perm has " << perm.size()
                       << " entries for rank " << type.getRank();
  SmallVector<int64_t> shape;
  for (int64_t &p : perm) {
    FailureOr<int64_t> axis = ctx.normalizeAxis(p, type.getRank(), "perm entry");
    if (failed(axis))
      return failure();
    p = *axis;
    shape.push_back(type.getDimSize(p));
  }
  ctx.setOutput(0, TransposeOp::create(
                       ctx.b, ctx.loc, ctx.tensorType(shape, type.getElementType()),
                       *input, ctx.b.getDenseI64ArrayAttr(perm)));
  return success();
}

/// Axes of Unsqueeze/Squeeze: an input from opset 13.
FailureOr<SmallVector<int64_t>> axesOf(ImportContext &ctx, bool required) {
  if (Value axes = ctx.input(1))
    return ctx.constantInts(axes, "axes");
  if (std::optional<SmallVector<int64_t>> attr = ctx.intsAttr("axes"))
    return *attr;
  if (required)
    return ctx.error() << "needs axes";
  return SmallVector<int64_t>();
}

LogicalResult convertUnsqueeze(ImportContext &ctx) {
  FailureOr<Value> input = ctx.requiredInput(0);
  FailureOr<SmallVector<int64_t>> axes = axesOf(ctx, /*required=*/true);
  if (failed(input) || failed(axes))
    return failure();
  auto type = rankedType(*input);
  int64_t rank = type.getRank() + static_cast<int64_t>(axes->size());
  for (int64_t &axis : *axes) {
    FailureOr<int64_t> normalized = ctx.normalizeAxis(axis, rank);
    if (failed(normalized))
      return failure();
    axis = *normalized;
  }
  llvm::sort(*axes);
  SmallVector<int64_t> shape;
  int64_t next = 0;
  for (int64_t i = 0; i < rank; ++i)
    shape.push_back(llvm::is_contained(*axes, i) ? 1 : type.getDimSize(next++));
  ctx.setOutput(0, UnsqueezeOp::create(
                       ctx.b, ctx.loc, ctx.tensorType(shape, type.getElementType()),
                       *input, ctx.b.getDenseI64ArrayAttr(*axes)));
  return success();
}

LogicalResult convertSqueeze(ImportContext &ctx) {
  FailureOr<Value> input = ctx.requiredInput(0);
  FailureOr<SmallVector<int64_t>> axes = axesOf(ctx, /*required=*/false);
  if (failed(input) || failed(axes))
    return failure();
  auto type = rankedType(*input);
  if (axes->empty()) {
    for (int64_t i = 0; i < type.getRank(); ++i) {
      if (isDynamic(type.getDimSize(i)))
        return ctx.error() << "squeezes all unit dimensions, but dimension "
                           << i << " is dynamic";
      if (type.getDimSize(i) == 1)
        axes->push_back(i);
    }
  }
  for (int64_t &axis : *axes) {
    FailureOr<int64_t> normalized = ctx.normalizeAxis(axis, type.getRank());
    if (failed(normalized))
      return failure();
    axis = *normalized;
  }
  llvm::sort(*axes);
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (!llvm::is_contained(*axes, i))
      shape.push_back(type.getDimSize(i));
  ctx.setOutput(0, SqueezeOp::create(
                       ctx.b, ctx.loc, ctx.tensorType(shape, type.getElementType()),
                       *input, ctx.b.getDenseI64ArrayAttr(*axes)));
  return success();
}

LogicalResult convertConcat(ImportContext &ctx) {
  SmallVector<Value> inputs;
  for (unsigned i = 0; i < ctx.numInputs(); ++i)
    if (Value v = ctx.input(i))
      inputs.push_back(v);
  if (inputs.empty())
    return ctx.error() << "needs at least one input";
  auto first = rankedType(inputs.front());
  FailureOr<int64_t> axis =
      ctx.normalizeAxis(ctx.intAttr("axis", 0), first.getRank());
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(first.getShape());
  shape[*axis] = 0;
  for (Value input : inputs) {
    auto t = rankedType(input);
    if (t.getRank() != first.getRank())
      return ctx.error() << "inputs have different ranks";
    for (int64_t i = 0; i < t.getRank(); ++i) {
      int64_t d = t.getDimSize(i);
      if (i == *axis)
        shape[i] = isDynamic(shape[i]) || isDynamic(d) ? ShapedType::kDynamic
                                                       : shape[i] + d;
      else if (isDynamic(shape[i]))
        shape[i] = d;
    }
  }
  ctx.setOutput(0, ConcatOp::create(ctx.b, ctx.loc,
                                    ctx.tensorType(shape, first.getElementType()),
                                    inputs, *axis));
  return success();
}

/// The values of a bounds input of Slice when known at import time (constants
/// and shape arithmetic over static dimensions), or nullopt.
std::optional<SmallVector<int64_t>> knownBounds(ImportContext &ctx, Value v) {
  // Constants first: INT64_MIN ("before the start") reads as unknown below.
  if (auto constant = v.getDefiningOp<ConstantOp>())
    if (auto ints = dyn_cast<DenseIntElementsAttr>(constant.getValue())) {
      SmallVector<int64_t> values;
      for (const APInt &i : ints.getValues<APInt>())
        values.push_back(i.getSExtValue());
      return values;
    }
  std::optional<SmallVector<int64_t>> values = ctx.knownInts(v);
  if (!values || llvm::any_of(*values, isDynamic))
    return std::nullopt;
  return values;
}

LogicalResult convertSlice(ImportContext &ctx) {
  FailureOr<Value> input = ctx.requiredInput(0);
  if (failed(input))
    return failure();
  auto type = rankedType(*input);
  Value startsInput = ctx.input(1), endsInput = ctx.input(2);
  if (!startsInput || !endsInput)
    return ctx.error() << "needs starts and ends";
  std::optional<SmallVector<int64_t>> starts = knownBounds(ctx, startsInput);
  std::optional<SmallVector<int64_t>> ends = knownBounds(ctx, endsInput);
  int64_t count = rankedType(startsInput).getRank() == 1
                      ? rankedType(startsInput).getDimSize(0)
                      : ShapedType::kDynamic;
  if (starts)
    count = static_cast<int64_t>(starts->size());
  if (isDynamic(count))
    return ctx.error() << "starts must be a 1-D tensor of static length";
  SmallVector<int64_t> axes, steps(count, 1);
  // Axes and steps must be known at import time (constants, or computed
  // from constants and static shapes, as exports without constant folding
  // write them).
  if (Value axesInput = ctx.input(3)) {
    std::optional<SmallVector<int64_t>> values = knownBounds(ctx, axesInput);
    if (!values)
      return ctx.error() << "axes must be a constant integer tensor";
    axes = *values;
  } else {
    for (int64_t i = 0; i < count; ++i)
      axes.push_back(i);
  }
  if (Value stepsInput = ctx.input(4)) {
    std::optional<SmallVector<int64_t>> values = knownBounds(ctx, stepsInput);
    if (!values)
      return ctx.error() << "steps must be a constant integer tensor";
    steps = *values;
  }
  auto length = [](Value v) { return rankedType(v).getNumElements(); };
  if (static_cast<int64_t>(axes.size()) != count ||
      static_cast<int64_t>(steps.size()) != count ||
      (ends && static_cast<int64_t>(ends->size()) != count) ||
      (!ends && rankedType(endsInput).hasStaticShape() &&
       length(endsInput) != count))
    return ctx.error() << "starts, ends, axes and steps differ in length";
  SmallVector<int64_t> shape(type.getShape());
  for (auto [i, axis] : llvm::enumerate(axes)) {
    FailureOr<int64_t> normalized = ctx.normalizeAxis(axis, type.getRank());
    if (failed(normalized))
      return failure();
    axis = *normalized;
    if (steps[i] == 0)
      return ctx.error() << "step 0 on axis " << axis;
    int64_t dim = type.getDimSize(axis);
    shape[axis] = isDynamic(dim) || !starts || !ends
                      ? ShapedType::kDynamic
                      : SliceOp::getResultDimSize(dim, (*starts)[i],
                                                  (*ends)[i], steps[i]);
  }
  auto resultType = ctx.tensorType(shape, type.getElementType());
  if (starts && ends) {
    ctx.setOutput(0, SliceOp::create(ctx.b, ctx.loc, resultType, *input, axes,
                                     *starts, *ends, steps));
    return success();
  }
  // Bounds computed at run time (torch's `table[:seq_len]`).
  auto bounds = [&](Value v) -> FailureOr<Value> {
    auto t = rankedType(v);
    if (!t.getElementType().isSignlessInteger(64) &&
        !t.getElementType().isSignlessInteger(32))
      return ctx.error() << "starts and ends must be int32 or int64";
    if (t.getRank() == 1)
      return v;
    if (t.getRank() == 0)
      return Value(ReshapeOp::create(
          ctx.b, ctx.loc, ctx.tensorType({1}, t.getElementType()), v,
          Value()));
    return ctx.error() << "starts and ends must be 1-D";
  };
  FailureOr<Value> s = bounds(startsInput), e = bounds(endsInput);
  if (failed(s) || failed(e))
    return failure();
  ctx.setOutput(0, DynamicSliceOp::create(ctx.b, ctx.loc, resultType, *input,
                                          *s, *e, axes, steps));
  return success();
}

LogicalResult convertSplit(ImportContext &ctx) {
  FailureOr<Value> input = ctx.requiredInput(0);
  if (failed(input))
    return failure();
  auto type = rankedType(*input);
  FailureOr<int64_t> axis = ctx.normalizeAxis(ctx.intAttr("axis", 0), type.getRank());
  if (failed(axis))
    return failure();
  int64_t dim = type.getDimSize(*axis);
  SmallVector<int64_t> sizes;
  if (Value split = ctx.input(1)) {
    FailureOr<SmallVector<int64_t>> values = ctx.constantInts(split, "split");
    if (failed(values))
      return failure();
    sizes = *values;
  } else if (std::optional<SmallVector<int64_t>> attr = ctx.intsAttr("split")) {
    sizes = *attr;
  } else {
    int64_t parts = ctx.intAttr("num_outputs", ctx.numOutputs());
    if (isDynamic(dim))
      return ctx.error() << "splits a dynamic dimension into equal parts";
    int64_t chunk = (dim + parts - 1) / parts;
    for (int64_t i = 0; i < parts; ++i)
      sizes.push_back(std::min(chunk, dim - i * chunk));
  }
  if (static_cast<int64_t>(sizes.size()) != ctx.numOutputs())
    return ctx.error() << "has " << sizes.size() << " split sizes for "
                       << ctx.numOutputs() << " outputs";
  SmallVector<Type> types;
  for (int64_t size : sizes) {
    SmallVector<int64_t> shape(type.getShape());
    shape[*axis] = size;
    types.push_back(ctx.tensorType(shape, type.getElementType()));
  }
  auto split = SplitOp::create(ctx.b, ctx.loc, types, *input, *axis, sizes);
  for (auto [i, result] : llvm::enumerate(split.getResults()))
    ctx.setOutput(i, result);
  return success();
}

LogicalResult convertShape(ImportContext &ctx) {
  FailureOr<Value> input = ctx.requiredInput(0);
  if (failed(input))
    return failure();
  int64_t rank = rankedType(*input).getRank();
  Value shape = ShapeOfOp::create(
      ctx.b, ctx.loc, ctx.tensorType({rank}, ctx.b.getI64Type()), *input);
  // Opset 15: an optional [start, end) range of dimensions.
  int64_t start = ctx.intAttr("start", 0), end = ctx.intAttr("end", rank);
  if (start != 0 || end != rank) {
    int64_t length = SliceOp::getResultDimSize(rank, start, end, 1);
    shape = SliceOp::create(ctx.b, ctx.loc,
                            ctx.tensorType({length}, ctx.b.getI64Type()), shape,
                            ArrayRef<int64_t>{0}, ArrayRef<int64_t>{start},
                            ArrayRef<int64_t>{end}, ArrayRef<int64_t>{1});
  }
  ctx.setOutput(0, shape);
  return success();
}

/// Dimensions of a tensor built from a runtime shape vector.
SmallVector<int64_t> dimsFromShapeValue(ImportContext &ctx, Value shape) {
  int64_t rank = rankedType(shape).getDimSize(0);
  SmallVector<int64_t> dims(rank, ShapedType::kDynamic);
  if (std::optional<SmallVector<int64_t>> known = ctx.knownInts(shape))
    for (auto [i, v] : llvm::enumerate(*known))
      if (!isDynamic(v) && v >= 0)
        dims[i] = v;
  return dims;
}

LogicalResult convertConstantOfShape(ImportContext &ctx) {
  FailureOr<Value> shape = ctx.requiredInput(0);
  if (failed(shape))
    return failure();
  if (isDynamic(rankedType(*shape).getDimSize(0)))
    return ctx.error() << "needs a shape of static length";
  TypedAttr value = ctx.b.getF32FloatAttr(0.0f);
  if (const onnx::AttributeProto *attr = ctx.attribute("value")) {
    std::string error;
    FailureOr<DenseElementsAttr> dense =
        denseFromTensor(ctx.getContext(), attr->t(), error);
    if (failed(dense))
      return ctx.error() << "value: " << error;
    if (dense->getNumElements() != 1)
      return ctx.error() << "value must hold one element";
    value = cast<TypedAttr>(*dense->value_begin<Attribute>());
  }
  auto type = ctx.tensorType(dimsFromShapeValue(ctx, *shape), value.getType());
  ctx.setOutput(0, FillOp::create(ctx.b, ctx.loc, type, *shape, value));
  return success();
}

LogicalResult convertExpand(ImportContext &ctx) {
  FailureOr<Value> input = ctx.requiredInput(0), shape = ctx.requiredInput(1);
  if (failed(input) || failed(shape))
    return failure();
  if (isDynamic(rankedType(*shape).getDimSize(0)))
    return ctx.error() << "needs a shape of static length";
  auto it = rankedType(*input);
  SmallVector<int64_t> target = dimsFromShapeValue(ctx, *shape);
  std::optional<SmallVector<int64_t>> known = ctx.knownInts(*shape);
  int64_t rank = std::max<int64_t>(it.getRank(), target.size());
  SmallVector<int64_t> dims(rank, ShapedType::kDynamic);
  for (int64_t i = 0; i < rank; ++i) {
    int64_t ti = i - (rank - static_cast<int64_t>(target.size()));
    int64_t ii = i - (rank - it.getRank());
    int64_t a = ii >= 0 ? it.getDimSize(ii) : 1;
    int64_t b = ti >= 0 ? target[ti] : 1;
    bool bKnown = ti < 0 || (known && !isDynamic((*known)[ti]));
    if (bKnown && b == 1)
      dims[i] = a;
    else if (a == 1)
      dims[i] = b;
    else if (!isDynamic(a))
      dims[i] = a; // b must be a or 1
  }
  ctx.setOutput(0, ExpandOp::create(ctx.b, ctx.loc,
                                    ctx.tensorType(dims, it.getElementType()),
                                    *input, *shape));
  return success();
}

LogicalResult convertTile(ImportContext &ctx) {
  FailureOr<Value> input = ctx.requiredInput(0), repeats = ctx.requiredInput(1);
  if (failed(input) || failed(repeats))
    return failure();
  auto it = rankedType(*input);
  SmallVector<int64_t> dims(it.getRank(), ShapedType::kDynamic);
  if (std::optional<SmallVector<int64_t>> known = ctx.knownInts(*repeats)) {
    if (static_cast<int64_t>(known->size()) != it.getRank())
      return ctx.error() << "repeats has " << known->size()
                         << " entries for rank " << it.getRank();
    for (int64_t i = 0; i < it.getRank(); ++i)
      if (!isDynamic((*known)[i]) && !isDynamic(it.getDimSize(i)))
        dims[i] = it.getDimSize(i) * (*known)[i];
      else if ((*known)[i] == 1)
        dims[i] = it.getDimSize(i);
  }
  ctx.setOutput(0, TileOp::create(ctx.b, ctx.loc,
                                  ctx.tensorType(dims, it.getElementType()),
                                  *input, *repeats));
  return success();
}

LogicalResult convertRange(ImportContext &ctx) {
  FailureOr<Value> start = ctx.requiredInput(0), limit = ctx.requiredInput(1),
                   delta = ctx.requiredInput(2);
  if (failed(start) || failed(limit) || failed(delta))
    return failure();
  Type element = rankedType(*start).getElementType();
  int64_t length = ShapedType::kDynamic;
  auto s = ctx.knownInts(*start), l = ctx.knownInts(*limit),
       d = ctx.knownInts(*delta);
  if (s && l && d && !isDynamic((*s)[0]) && !isDynamic((*l)[0]) &&
      !isDynamic((*d)[0]) && (*d)[0] != 0) {
    int64_t span = (*l)[0] - (*s)[0], step = (*d)[0];
    length = std::max<int64_t>(0, (span + step + (step > 0 ? -1 : 1)) / step);
  }
  ctx.setOutput(0, RangeOp::create(ctx.b, ctx.loc,
                                   ctx.tensorType({length}, element), *start,
                                   *limit, *delta));
  return success();
}

LogicalResult convertTrilu(ImportContext &ctx) {
  FailureOr<Value> input = ctx.requiredInput(0);
  if (failed(input))
    return failure();
  int64_t k = 0;
  if (Value kInput = ctx.input(1)) {
    FailureOr<SmallVector<int64_t>> values = ctx.constantInts(kInput, "k");
    if (failed(values))
      return failure();
    k = values->front();
  }
  bool upper = ctx.intAttr("upper", 1) != 0;
  ctx.setOutput(0, TriluOp::create(ctx.b, ctx.loc, input->getType(), *input,
                                   upper, k));
  return success();
}

/// Hugging Face optimum's merged decoder (`decoder_model_merged.onnx`): the
/// whole decoder sits in an `If` on a boolean model input
/// (`use_cache_branch`), one branch reading the past caches, the other the
/// same decoder without them. Cached attention with an empty cache is the
/// no-past decoder, so the branch that reads the past is taken and the input
/// dropped. Returns whether that is the then branch; anything else that
/// depends on an input is refused.
FailureOr<bool> cacheBranch(ImportContext &ctx, Value cond) {
  auto refuse = [&]() {
    return ctx.error() << "has a condition that is not known at import time "
                          "(it depends on the model's inputs); only branches "
                          "chosen by shapes and constants, and optimum's "
                          "use_cache_branch, are supported";
  };
  auto arg = dyn_cast<BlockArgument>(cond);
  if (!arg || rankedType(cond).getElementType() != ctx.b.getI1Type() ||
      rankedType(cond).getNumElements() != 1)
    return refuse();
  const onnx::AttributeProto *thenAttr = ctx.attribute("then_branch");
  const onnx::AttributeProto *elseAttr = ctx.attribute("else_branch");
  if (!thenAttr || !elseAttr || !thenAttr->has_g() || !elseAttr->has_g())
    return refuse();
  // Which model inputs and initializers each branch reads.
  auto reads = [&](const onnx::GraphProto &graph, bool &past,
                   llvm::StringSet<> &weights) {
    llvm::StringSet<> captures;
    collectCaptures(graph, captures);
    past = false;
    for (const auto &entry : captures) {
      StringRef name = entry.getKey();
      Value v = ctx.lookup(name);
      if (!v)
        continue;
      if (isa<BlockArgument>(v))
        past |= name.starts_with("past_key_values.");
      else if (v.getDefiningOp<WeightOp>())
        weights.insert(name);
    }
  };
  bool thenPast, elsePast;
  llvm::StringSet<> thenWeights, elseWeights;
  reads(thenAttr->g(), thenPast, thenWeights);
  reads(elseAttr->g(), elsePast, elseWeights);
  if (thenPast == elsePast)
    return ctx.error() << "depends on a model input, and " << (thenPast ? "both" : "neither")
                       << " of its branches read the past caches: not "
                          "optimum's merged decoder (one branch with the "
                          "cache, one without)";
  const llvm::StringSet<> &withPast = thenPast ? thenWeights : elseWeights;
  const llvm::StringSet<> &without = thenPast ? elseWeights : thenWeights;
  for (const auto &entry : without)
    if (!withPast.contains(entry.getKey()))
      return ctx.error() << "branches read different weights (the branch "
                            "without the cache reads '"
                         << entry.getKey()
                         << "', the one with it does not): not one decoder "
                            "with and without the cache";
  ctx.obsoleteInputs.push_back(cond);
  ctx.warnOnce("If on a model input: optimum's merged decoder; importing the "
               "branch with the KV cache (an empty cache computes what the "
               "other branch does)");
  return thenPast;
}

/// `If` whose condition is known at import time (torch's exporter guards a
/// squeeze of a dimension it could not prove to be 1 this way): the chosen
/// branch's nodes are imported in place. A condition that depends on the
/// model's inputs is refused, except optimum's use_cache_branch.
LogicalResult convertIf(ImportContext &ctx) {
  FailureOr<Value> cond = ctx.requiredInput(0);
  if (failed(cond))
    return failure();
  std::optional<SmallVector<int64_t>> known = ctx.knownInts(*cond);
  bool taken;
  if (known && known->size() == 1 && !isDynamic(known->front())) {
    taken = known->front() != 0;
  } else {
    FailureOr<bool> cached = cacheBranch(ctx, *cond);
    if (failed(cached))
      return failure();
    taken = *cached;
  }
  const onnx::AttributeProto *branch =
      ctx.attribute(taken ? "then_branch" : "else_branch");
  if (!branch || !branch->has_g())
    return ctx.error() << "has no " << (taken ? "then_branch" : "else_branch");
  const onnx::GraphProto &graph = branch->g();
  if (graph.output_size() != static_cast<int>(ctx.numOutputs()))
    return ctx.error() << "its " << (taken ? "then" : "else") << " branch has "
                       << graph.output_size() << " outputs, the node "
                       << ctx.numOutputs();
  if (failed(ctx.importSubgraph(graph)))
    return failure();
  for (auto [i, output] : llvm::enumerate(graph.output())) {
    Value value = ctx.lookup(output.name());
    if (!value)
      return ctx.error() << "its branch output '" << output.name()
                         << "' is not produced by any node of the branch";
    ctx.setOutput(i, value);
  }
  return success();
}

} // namespace

void mlir::qllm::onnx_import::registerStandardConverters(
    llvm::StringMap<Converter> &table) {
  auto add = [&](StringRef op, Converter fn) { table[(":" + op).str()] = fn; };
  add("Add", convertBinary<AddOp>);
  add("Sub", convertBinary<SubOp>);
  add("Mul", convertBinary<MulOp>);
  add("Div", convertBinary<DivOp>);
  add("Pow", convertPow);
  add("Max", convertVariadic<MaximumOp>);
  add("Min", convertVariadic<MinimumOp>);
  add("Neg", convertUnary<NegOp>);
  add("Sqrt", convertUnary<SqrtOp>);
  add("Reciprocal", convertUnary<ReciprocalOp>);
  add("Exp", convertUnary<ExpOp>);
  add("Log", convertUnary<LogOp>);
  add("Cos", convertUnary<CosOp>);
  add("Sin", convertUnary<SinOp>);
  add("Sigmoid", convertUnary<SigmoidOp>);
  add("Tanh", convertUnary<TanhOp>);
  add("Equal", convertCompare<ComparePredicate::eq>);
  add("Less", convertCompare<ComparePredicate::lt>);
  add("LessOrEqual", convertCompare<ComparePredicate::le>);
  add("Greater", convertCompare<ComparePredicate::gt>);
  add("GreaterOrEqual", convertCompare<ComparePredicate::ge>);
  add("Where", convertWhere);
  add("Cast", convertCast);
  add("Identity", convertIdentity);
  add("Constant", convertConstant);
  add("MatMul", convertMatMul);
  add("Gemm", convertGemm);
  add("Gather", convertGather);
  add("ReduceMean", convertReduce<ReduceMeanOp>);
  add("ReduceSum", convertReduce<ReduceSumOp>);
  add("ReduceMax", convertReduce<ReduceMaxOp>);
  add("Softmax", convertSoftmax);
  add("Reshape", convertReshape);
  add("Transpose", convertTranspose);
  add("Unsqueeze", convertUnsqueeze);
  add("Squeeze", convertSqueeze);
  add("Concat", convertConcat);
  add("Slice", convertSlice);
  add("Split", convertSplit);
  add("Shape", convertShape);
  add("ConstantOfShape", convertConstantOfShape);
  add("Expand", convertExpand);
  add("Tile", convertTile);
  add("Range", convertRange);
  add("Trilu", convertTrilu);
  add("If", convertIf);
  add("And", convertLogical<'&'>);
  add("Or", convertLogical<'|'>);
  add("Xor", convertLogical<'^'>);
  add("Not", convertLogical<'!'>);
  add("ScatterND", convertScatterND);
}
