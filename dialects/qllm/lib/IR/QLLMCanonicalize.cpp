//===- QLLMCanonicalize.cpp - qllm folders and canonicalizations ----------===//
//
// Folders and canonicalization patterns of the qllm dialect. Only rewrites
// that are always profitable live here: removing identity reshapes and
// transposes, merging chains of them, turning fully static squeeze/unsqueeze
// into reshape (one canonical form for static shape changes), and folding
// shape computations (small integer tensors) once their inputs are known.
// Floating-point data is never folded except as splats, so weights are not
// materialized. `qllm.dequantize` deliberately has no folder.
//
//===----------------------------------------------------------------------===//

#include "qllm/IR/QLLMOps.h"
#include "qllm/IR/QLLMShapes.h"

#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::qllm;

//===----------------------------------------------------------------------===//
// Folders
//===----------------------------------------------------------------------===//

namespace {

/// Shape computations fold up to this many elements.
constexpr int64_t kMaxFoldedElements = 1024;

/// The values of a small constant integer tensor, if `attr` is one.
std::optional<SmallVector<int64_t>> smallInts(Attribute attr) {
  auto ints = dyn_cast_or_null<DenseIntElementsAttr>(attr);
  if (!ints || ints.getNumElements() > kMaxFoldedElements ||
      ints.getElementType().isInteger(1))
    return std::nullopt;
  SmallVector<int64_t> values;
  for (const APInt &v : ints.getValues<APInt>())
    values.push_back(v.getSExtValue());
  return values;
}

/// An integer constant of `type` holding `values`, if `type` is static.
Attribute intsAttr(Type type, ArrayRef<int64_t> values) {
  auto shaped = dyn_cast<RankedTensorType>(type);
  if (!shaped || !shaped.hasStaticShape() ||
      !shaped.getElementType().isSignlessInteger() ||
      shaped.getNumElements() != static_cast<int64_t>(values.size()))
    return {};
  unsigned width = shaped.getElementType().getIntOrFloatBitWidth();
  SmallVector<APInt> ints;
  for (int64_t v : values)
    ints.push_back(APInt(width, static_cast<uint64_t>(v), /*isSigned=*/true));
  return DenseElementsAttr::get(shaped, ints);
}

/// Folds an integer elementwise op over constants; a scalar (or 1-element)
/// operand broadcasts.
template <typename Fn>
OpFoldResult foldIntBinary(Operation *op, Attribute lhsAttr, Attribute rhsAttr,
                           Fn fn) {
  auto lhs = smallInts(lhsAttr), rhs = smallInts(rhsAttr);
  if (!lhs || !rhs)
    return {};
  auto type = cast<RankedTensorType>(op->getResult(0).getType());
  if (!type.hasStaticShape())
    return {};
  size_t n = static_cast<size_t>(type.getNumElements());
  auto at = [](const SmallVector<int64_t> &v, size_t i, size_t n) {
    return v.size() == n ? v[i] : v.size() == 1 ? v[0] : INT64_MIN;
  };
  if ((lhs->size() != n && lhs->size() != 1) ||
      (rhs->size() != n && rhs->size() != 1))
    return {};
  SmallVector<int64_t> result;
  for (size_t i = 0; i < n; ++i) {
    std::optional<int64_t> v = fn(at(*lhs, i, n), at(*rhs, i, n));
    if (!v)
      return {};
    result.push_back(*v);
  }
  return intsAttr(type, result);
}

/// The same elements with the static type of `result`.
OpFoldResult foldReshapeOfConstant(Attribute input, Type result) {
  auto elements = dyn_cast_or_null<DenseElementsAttr>(input);
  auto type = dyn_cast<RankedTensorType>(result);
  if (!elements || !type || !type.hasStaticShape())
    return {};
  if (!elements.isSplat() && elements.getNumElements() > kMaxFoldedElements)
    return {};
  return elements.reshape(type);
}

} // namespace

OpFoldResult AddOp::fold(FoldAdaptor adaptor) {
  return foldIntBinary(*this, adaptor.getLhs(), adaptor.getRhs(),
                       [](int64_t a, int64_t b) -> std::optional<int64_t> {
                         return a + b;
                       });
}

OpFoldResult SubOp::fold(FoldAdaptor adaptor) {
  return foldIntBinary(*this, adaptor.getLhs(), adaptor.getRhs(),
                       [](int64_t a, int64_t b) -> std::optional<int64_t> {
                         return a - b;
                       });
}

OpFoldResult MulOp::fold(FoldAdaptor adaptor) {
  return foldIntBinary(*this, adaptor.getLhs(), adaptor.getRhs(),
                       [](int64_t a, int64_t b) -> std::optional<int64_t> {
                         return a * b;
                       });
}

OpFoldResult DivOp::fold(FoldAdaptor adaptor) {
  return foldIntBinary(*this, adaptor.getLhs(), adaptor.getRhs(),
                       [](int64_t a, int64_t b) -> std::optional<int64_t> {
                         if (b == 0)
                           return std::nullopt;
                         return a / b; // truncates, as ONNX integer Div
                       });
}

OpFoldResult MaximumOp::fold(FoldAdaptor adaptor) {
  return foldIntBinary(*this, adaptor.getLhs(), adaptor.getRhs(),
                       [](int64_t a, int64_t b) -> std::optional<int64_t> {
                         return std::max(a, b);
                       });
}

OpFoldResult MinimumOp::fold(FoldAdaptor adaptor) {
  return foldIntBinary(*this, adaptor.getLhs(), adaptor.getRhs(),
                       [](int64_t a, int64_t b) -> std::optional<int64_t> {
                         return std::min(a, b);
                       });
}

OpFoldResult PowOp::fold(FoldAdaptor) { return {}; }

OpFoldResult UnsqueezeOp::fold(FoldAdaptor adaptor) {
  return foldReshapeOfConstant(adaptor.getInput(), getType());
}

OpFoldResult SqueezeOp::fold(FoldAdaptor adaptor) {
  return foldReshapeOfConstant(adaptor.getInput(), getType());
}

OpFoldResult ConcatOp::fold(FoldAdaptor adaptor) {
  SmallVector<int64_t> joined;
  auto type = cast<RankedTensorType>(getType());
  if (type.getRank() != 1)
    return {};
  for (Attribute input : adaptor.getInputs()) {
    auto values = smallInts(input);
    if (!values)
      return {};
    llvm::append_range(joined, *values);
  }
  return intsAttr(type, joined);
}

OpFoldResult SliceOp::fold(FoldAdaptor adaptor) {
  auto values = smallInts(adaptor.getInput());
  auto type = cast<RankedTensorType>(getType());
  if (!values || type.getRank() != 1 || !type.hasStaticShape())
    return {};
  int64_t n = static_cast<int64_t>(values->size());
  int64_t step = getSteps()[0];
  int64_t start = getStartIndex(n, getStarts()[0], step);
  SmallVector<int64_t> result;
  for (int64_t i = 0; i < type.getNumElements(); ++i)
    result.push_back((*values)[start + i * step]);
  return intsAttr(type, result);
}

OpFoldResult GatherOp::fold(FoldAdaptor adaptor) {
  auto data = smallInts(adaptor.getData());
  auto indices = smallInts(adaptor.getIndices());
  auto dataType = cast<RankedTensorType>(getData().getType());
  if (!data || !indices || dataType.getRank() != 1)
    return {};
  int64_t n = static_cast<int64_t>(data->size());
  SmallVector<int64_t> result;
  for (int64_t index : *indices) {
    int64_t i = index < 0 ? index + n : index;
    if (i < 0 || i >= n)
      return {};
    result.push_back((*data)[i]);
  }
  return intsAttr(getType(), result);
}

OpFoldResult FillOp::fold(FoldAdaptor) {
  auto type = cast<RankedTensorType>(getType());
  if (!type.hasStaticShape())
    return {};
  return SplatElementsAttr::get(type, getValue());
}

OpFoldResult RangeOp::fold(FoldAdaptor adaptor) {
  auto start = smallInts(adaptor.getStart()), limit = smallInts(adaptor.getLimit()),
       delta = smallInts(adaptor.getDelta());
  auto type = cast<RankedTensorType>(getType());
  if (!start || !limit || !delta || !type.hasStaticShape() || (*delta)[0] == 0)
    return {};
  SmallVector<int64_t> result;
  for (int64_t v = (*start)[0];
       (*delta)[0] > 0 ? v < (*limit)[0] : v > (*limit)[0]; v += (*delta)[0])
    result.push_back(v);
  return intsAttr(type, result);
}

OpFoldResult CastOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getResult().getType())
    return getInput();
  // Integer to integer casts of shape values.
  if (auto values = smallInts(adaptor.getInput()))
    return intsAttr(getType(), *values);
  return {};
}

OpFoldResult ShapeOfOp::fold(FoldAdaptor) {
  auto input = cast<RankedTensorType>(getInput().getType());
  if (!input.hasStaticShape())
    return {};
  auto type = cast<RankedTensorType>(getResult().getType());
  if (!type.hasStaticShape())
    return {};
  return DenseIntElementsAttr::get(type, input.getShape());
}

OpFoldResult ReshapeOp::fold(FoldAdaptor adaptor) {
  auto input = cast<RankedTensorType>(getInput().getType());
  if (input == getResult().getType()) {
    if (input.hasStaticShape())
      return getInput();
    // A runtime shape that copies (0) or restates every dimension.
    if (auto entries = smallInts(adaptor.getShape())) {
      bool identity = true;
      for (auto [i, entry] : llvm::enumerate(*entries))
        identity &= entry == 0 || entry == input.getDimSize(i);
      if (identity)
        return getInput();
    }
  }
  return foldReshapeOfConstant(adaptor.getInput(), getType());
}

OpFoldResult TransposeOp::fold(FoldAdaptor) {
  ArrayRef<int64_t> perm = getPermutation();
  for (auto [i, p] : llvm::enumerate(perm))
    if (p != static_cast<int64_t>(i))
      return {};
  return getInput();
}

//===----------------------------------------------------------------------===//
// Canonicalization patterns
//===----------------------------------------------------------------------===//

namespace {

/// reshape(reshape(x)) -> reshape(x) when the outer reshape is static, or
/// its constant shape copies (0) only dimensions that x has at the same
/// position.
struct MergeReshapes : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    auto producer = op.getInput().getDefiningOp<ReshapeOp>();
    if (!producer)
      return failure();
    Value source = producer.getInput();
    if (Value shape = op.getShape()) {
      DenseIntElementsAttr entries;
      if (!matchPattern(shape, m_Constant(&entries)))
        return failure();
      int64_t sourceRank = cast<RankedTensorType>(source.getType()).getRank();
      for (auto [i, entry] : llvm::enumerate(entries.getValues<APInt>())) {
        int64_t position = static_cast<int64_t>(i);
        if (entry.isZero() &&
            (position >= sourceRank ||
             !sameDim(DimRef{op.getInput(), position},
                      DimRef{source, position})))
          return failure();
      }
    }
    rewriter.replaceOpWithNewOp<ReshapeOp>(op, op.getType(), source,
                                           op.getShape());
    return success();
  }
};

/// A reshape by a constant shape whose result type is static does not need
/// the shape operand.
struct DropConstantReshapeShape : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getShape() || !op.getType().hasStaticShape() ||
        !matchPattern(op.getShape(), m_Constant()))
      return failure();
    rewriter.replaceOpWithNewOp<ReshapeOp>(op, op.getType(), op.getInput(),
                                           Value());
    return success();
  }
};

/// squeeze/unsqueeze between static types is a reshape.
template <typename OpTy>
struct StaticToReshape : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    auto input = cast<RankedTensorType>(op.getInput().getType());
    auto result = cast<RankedTensorType>(op.getType());
    if (!input.hasStaticShape() || !result.hasStaticShape())
      return failure();
    rewriter.replaceOpWithNewOp<ReshapeOp>(op, result, op.getInput(), Value());
    return success();
  }
};

/// transpose(transpose(x, p1), p2) -> transpose(x, p1 o p2).
struct MergeTransposes : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransposeOp op,
                                PatternRewriter &rewriter) const override {
    auto producer = op.getInput().getDefiningOp<TransposeOp>();
    if (!producer)
      return failure();
    ArrayRef<int64_t> inner = producer.getPermutation();
    SmallVector<int64_t> composed;
    for (int64_t p : op.getPermutation())
      composed.push_back(inner[p]);
    rewriter.replaceOpWithNewOp<TransposeOp>(op, op.getType(),
                                             producer.getInput(), composed);
    return success();
  }
};

/// A 1-D i64 constant holding `values`.
Value constantShape(PatternRewriter &rewriter, Location loc,
                    ArrayRef<int64_t> values) {
  auto type = RankedTensorType::get({static_cast<int64_t>(values.size())},
                                    rewriter.getI64Type());
  return ConstantOp::create(rewriter, loc,
                            DenseIntElementsAttr::get(type, values));
}

/// A reshape whose runtime shape is built from dimensions of tensors: each
/// entry that copies the input's dimension at the same position becomes 0
/// (ONNX "copy"), each static one its value. Once every entry is a constant
/// the shape subgraph is dead: `Shape -> Gather -> Concat -> Reshape` folds
/// while batch and sequence stay dynamic.
struct ReshapeShapeFromDims : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getShape() || matchPattern(op.getShape(), m_Constant()))
      return failure();
    auto elements = shapeElements(op.getShape());
    if (!elements)
      return failure();
    int64_t inputRank = cast<RankedTensorType>(op.getInput().getType()).getRank();
    SmallVector<int64_t> values;
    for (auto [i, element] : llvm::enumerate(*elements)) {
      if (element.constant) {
        values.push_back(*element.constant);
        continue;
      }
      int64_t position = static_cast<int64_t>(i);
      if (position >= inputRank ||
          !sameDim(element.dimension, DimRef{op.getInput(), position}))
        return failure();
      values.push_back(0);
    }
    rewriter.modifyOpInPlace(op, [&] {
      op.getShapeMutable().assign(constantShape(rewriter, op.getLoc(), values));
    });
    return success();
  }
};

/// The same for expand: an entry that copies the input's (right-aligned)
/// dimension becomes 1, which keeps it.
struct ExpandShapeFromDims : OpRewritePattern<ExpandOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ExpandOp op,
                                PatternRewriter &rewriter) const override {
    if (matchPattern(op.getShape(), m_Constant()))
      return failure();
    auto elements = shapeElements(op.getShape());
    if (!elements)
      return failure();
    int64_t inputRank = cast<RankedTensorType>(op.getInput().getType()).getRank();
    int64_t offset = static_cast<int64_t>(elements->size()) - inputRank;
    SmallVector<int64_t> values;
    for (auto [i, element] : llvm::enumerate(*elements)) {
      if (element.constant) {
        values.push_back(*element.constant);
        continue;
      }
      int64_t position = static_cast<int64_t>(i) - offset;
      if (position < 0 ||
          !sameDim(element.dimension, DimRef{op.getInput(), position}))
        return failure();
      values.push_back(1);
    }
    rewriter.modifyOpInPlace(op, [&] {
      op.getShapeMutable().assign(constantShape(rewriter, op.getLoc(), values));
    });
    return success();
  }
};

/// matmul(x, transpose(w, [1, 0])) -> matmul(x, w) with transpose_rhs
/// flipped: a 2-D rhs transposed in the graph (a Linear weight in an export
/// without constant folding) is read in place.
struct FoldRhsTranspose : OpRewritePattern<MatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatmulOp op,
                                PatternRewriter &rewriter) const override {
    auto transpose = op.getRhs().getDefiningOp<TransposeOp>();
    if (!transpose || transpose.getPermutation() != ArrayRef<int64_t>{1, 0})
      return failure();
    rewriter.modifyOpInPlace(op, [&] {
      op.getRhsMutable().assign(transpose.getInput());
      op.setTransposeRhs(!op.getTransposeRhs());
    });
    return success();
  }
};

/// dynamic_slice whose bounds are constants -> slice.
struct ConstantBoundsToSlice : OpRewritePattern<DynamicSliceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(DynamicSliceOp op,
                                PatternRewriter &rewriter) const override {
    DenseIntElementsAttr startsAttr, endsAttr;
    if (!matchPattern(op.getStarts(), m_Constant(&startsAttr)) ||
        !matchPattern(op.getEnds(), m_Constant(&endsAttr)))
      return failure();
    SmallVector<int64_t> starts, ends;
    for (const APInt &v : startsAttr.getValues<APInt>())
      starts.push_back(v.getSExtValue());
    for (const APInt &v : endsAttr.getValues<APInt>())
      ends.push_back(v.getSExtValue());
    if (starts.size() != op.getAxes().size() || ends.size() != starts.size())
      return failure();
    // The same (less static) result type: qllm.slice accepts it.
    Value slice = SliceOp::create(rewriter, op.getLoc(), op.getType(),
                                  op.getInput(), op.getAxes(), starts, ends,
                                  op.getSteps());
    rewriter.replaceOp(op, slice);
    return success();
  }
};

} // namespace

void DynamicSliceOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                                 MLIRContext *context) {
  results.add<ConstantBoundsToSlice>(context);
}

void MatmulOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                           MLIRContext *context) {
  results.add<FoldRhsTranspose>(context);
}

void ReshapeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                            MLIRContext *context) {
  results.add<MergeReshapes, DropConstantReshapeShape, ReshapeShapeFromDims>(
      context);
}

void ExpandOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                           MLIRContext *context) {
  results.add<ExpandShapeFromDims>(context);
}

void UnsqueezeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *context) {
  results.add<StaticToReshape<UnsqueezeOp>>(context);
}

void SqueezeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                            MLIRContext *context) {
  results.add<StaticToReshape<SqueezeOp>>(context);
}

void TransposeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *context) {
  results.add<MergeTransposes>(context);
}
