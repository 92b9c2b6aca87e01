//===- QLLMShapes.cpp - reasoning about symbolic dimensions ---------------===//

#include "qllm/IR/QLLMShapes.h"

#include "qllm/IR/QLLMOps.h"

#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::qllm;

namespace {

int64_t rankOf(Value v) { return cast<RankedTensorType>(v.getType()).getRank(); }

int64_t dimSize(Value v, int64_t d) {
  return cast<RankedTensorType>(v.getType()).getDimSize(d);
}

/// One step back: the operand dimension that `dim` of `result` copies.
std::optional<DimRef> stepBack(OpResult result, int64_t dim) {
  Operation *op = result.getOwner();
  int64_t rank = rankOf(result);
  // Ops whose first operand has the result's shape.
  if (isa<CastOp, SoftmaxOp, RmsNormOp, RotaryOp, SwiGluOp, TriluOp,
          AllReduceOp>(op) ||
      (op->hasTrait<OpTrait::Elementwise>() && op->getNumOperands() == 1))
    return DimRef{op->getOperand(0), dim};
  // Broadcasting ops: follow the operand that has the dimension when every
  // other operand has a static 1 there (or lacks the dimension).
  if (op->hasTrait<OpTrait::ResultsBroadcastableShape>()) {
    std::optional<DimRef> source;
    for (Value operand : op->getOperands()) {
      int64_t d = dim - (rank - rankOf(operand));
      if (d < 0 || dimSize(operand, d) == 1)
        continue;
      if (source)
        return std::nullopt; // two candidates: not provably one of them
      source = DimRef{operand, d};
    }
    return source;
  }
  if (auto matmul = dyn_cast<MatmulOp>(op)) {
    int64_t rhsRank = rankOf(matmul.getRhs());
    if (dim == rank - 1)
      return DimRef{matmul.getRhs(),
                    matmul.getTransposeRhs() ? rhsRank - 2 : rhsRank - 1};
    if (dim == rank - 2 || rhsRank == 2)
      return DimRef{matmul.getLhs(), dim - (rank - rankOf(matmul.getLhs()))};
    return std::nullopt;
  }
  if (auto matmul = dyn_cast<DequantMatmulOp>(op))
    return dim < rank - 1 ? std::optional(DimRef{matmul.getInput(), dim})
                          : std::nullopt;
  if (auto transpose = dyn_cast<TransposeOp>(op))
    return DimRef{transpose.getInput(), transpose.getPermutation()[dim]};
  if (auto reshape = dyn_cast<ReshapeOp>(op)) {
    auto elements = reshape.getShape() ? shapeElements(reshape.getShape())
                                       : std::nullopt;
    if (elements && (*elements)[dim].constant == 0)
      return DimRef{reshape.getInput(), dim};
    return std::nullopt;
  }
  if (auto unsqueeze = dyn_cast<UnsqueezeOp>(op)) {
    ArrayRef<int64_t> axes = unsqueeze.getAxes();
    if (llvm::is_contained(axes, dim))
      return std::nullopt;
    return DimRef{unsqueeze.getInput(),
                  dim - llvm::count_if(axes, [&](int64_t a) { return a < dim; })};
  }
  if (auto squeeze = dyn_cast<SqueezeOp>(op)) {
    int64_t d = dim;
    for (int64_t axis : squeeze.getAxes())
      if (axis <= d)
        ++d;
    return DimRef{squeeze.getInput(), d};
  }
  if (auto concat = dyn_cast<ConcatOp>(op))
    return dim == static_cast<int64_t>(concat.getAxis())
               ? std::nullopt
               : std::optional(DimRef{concat.getInputs().front(), dim});
  if (auto embedding = dyn_cast<EmbeddingOp>(op))
    return dim < rank - 1 ? std::optional(DimRef{embedding.getIndices(), dim})
                          : std::nullopt;
  if (auto gather = dyn_cast<AllGatherOp>(op))
    return dim < rank - 1 ? std::optional(DimRef{gather.getInput(), dim})
                          : std::nullopt;
  if (auto gather = dyn_cast<GatherOp>(op))
    return dim < static_cast<int64_t>(gather.getAxis())
               ? std::optional(DimRef{gather.getData(), dim})
               : std::nullopt;
  if (auto attention = dyn_cast<AttentionOp>(op)) {
    if (result == attention.getOutput() && dim < 2)
      return DimRef{attention.getQuery(), dim};
    // Presents [batch, kv_heads, past + seq, head_dim] from keys/values
    // [batch, seq, kv_heads, head_dim]; the length is a sum.
    Value source = result == attention.getPresentKey() ? attention.getKey()
                                                       : attention.getValue();
    if (result != attention.getOutput() && dim != 2)
      return DimRef{source, dim == 0 ? 0 : dim == 1 ? 2 : 3};
    return std::nullopt;
  }
  return std::nullopt;
}

} // namespace

DimRef mlir::qllm::traceDim(Value value, int64_t dim) {
  DimRef current{value, dim};
  for (int steps = 0; steps < 10000; ++steps) {
    auto result = dyn_cast<OpResult>(current.value);
    if (!result)
      break;
    std::optional<DimRef> previous = stepBack(result, current.dim);
    if (!previous)
      break;
    current = *previous;
  }
  return current;
}

bool mlir::qllm::sameDim(DimRef a, DimRef b) {
  int64_t sa = dimSize(a.value, a.dim), sb = dimSize(b.value, b.dim);
  if (!ShapedType::isDynamic(sa) && !ShapedType::isDynamic(sb))
    return sa == sb;
  return traceDim(a.value, a.dim) == traceDim(b.value, b.dim);
}

std::optional<SmallVector<ShapeElement>> mlir::qllm::shapeElements(Value shape) {
  auto type = dyn_cast<RankedTensorType>(shape.getType());
  if (!type || type.getRank() > 1 || !type.hasStaticShape())
    return std::nullopt;
  int64_t count = type.getNumElements();
  Operation *op = shape.getDefiningOp();
  if (!op)
    return std::nullopt;
  SmallVector<ShapeElement> elements;
  DenseIntElementsAttr ints;
  if (matchPattern(shape, m_Constant(&ints))) {
    for (const APInt &v : ints.getValues<APInt>())
      elements.push_back({v.getSExtValue(), {}});
  } else if (auto shapeOf = dyn_cast<ShapeOfOp>(op)) {
    for (int64_t d = 0; d < rankOf(shapeOf.getInput()); ++d) {
      int64_t size = dimSize(shapeOf.getInput(), d);
      if (ShapedType::isDynamic(size))
        elements.push_back({std::nullopt, {shapeOf.getInput(), d}});
      else
        elements.push_back({size, {}});
    }
  } else if (auto gather = dyn_cast<GatherOp>(op)) {
    auto data = shapeElements(gather.getData());
    DenseIntElementsAttr indices;
    if (!data || !matchPattern(gather.getIndices(), m_Constant(&indices)))
      return std::nullopt;
    int64_t n = static_cast<int64_t>(data->size());
    for (const APInt &v : indices.getValues<APInt>()) {
      int64_t i = v.getSExtValue();
      i = i < 0 ? i + n : i;
      if (i < 0 || i >= n)
        return std::nullopt;
      elements.push_back((*data)[i]);
    }
  } else if (auto slice = dyn_cast<SliceOp>(op)) {
    auto data = shapeElements(slice.getInput());
    if (!data)
      return std::nullopt;
    int64_t n = static_cast<int64_t>(data->size());
    int64_t step = slice.getSteps()[0];
    int64_t start = SliceOp::getStartIndex(n, slice.getStarts()[0], step);
    for (int64_t i = 0; i < count; ++i)
      elements.push_back((*data)[start + i * step]);
  } else if (isa<UnsqueezeOp, SqueezeOp, ReshapeOp, CastOp>(op)) {
    auto data = shapeElements(op->getOperand(0));
    if (!data)
      return std::nullopt;
    elements = *data;
  } else if (auto concat = dyn_cast<ConcatOp>(op)) {
    for (Value input : concat.getInputs()) {
      auto part = shapeElements(input);
      if (!part)
        return std::nullopt;
      llvm::append_range(elements, *part);
    }
  } else {
    return std::nullopt;
  }
  if (static_cast<int64_t>(elements.size()) != count)
    return std::nullopt;
  return elements;
}
