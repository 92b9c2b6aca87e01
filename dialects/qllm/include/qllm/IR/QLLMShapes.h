//===- QLLMShapes.h - reasoning about symbolic dimensions -------*- C++ -*-===//
//
// Dynamic dimensions (batch, sequence) flow through a graph unchanged by most
// ops. These helpers trace a dimension back to where it comes from, so that
// shape subgraphs (Shape -> Gather -> Concat -> Reshape) can be recognized as
// copies of dimensions and folded while the dimensions are still unknown.
//
//===----------------------------------------------------------------------===//

#ifndef QLLM_IR_QLLMSHAPES_H
#define QLLM_IR_QLLMSHAPES_H

#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>

namespace mlir::qllm {

/// A dimension of a value.
struct DimRef {
  Value value;
  int64_t dim = 0;
  bool operator==(const DimRef &other) const {
    return value == other.value && dim == other.dim;
  }
};

/// The earliest (value, dim) that dimension `dim` of `value` is provably a
/// copy of, following ops that keep dimensions (elementwise ops without
/// broadcasting on it, matmul batch/row dimensions, transposes, reshapes that
/// copy, concatenations off their axis, ...).
DimRef traceDim(Value value, int64_t dim);

/// True if the two dimensions are provably equal at run time.
bool sameDim(DimRef a, DimRef b);

/// One element of a shape vector: a constant, or a dimension of a tensor.
struct ShapeElement {
  std::optional<int64_t> constant;
  DimRef dimension;
};

/// The elements of a 1-D i64 shape vector built from constants and
/// shape_of (through gather, slice, unsqueeze, squeeze, concat, cast), or
/// nullopt if some element comes from elsewhere.
std::optional<SmallVector<ShapeElement>> shapeElements(Value shape);

} // namespace mlir::qllm

#endif // QLLM_IR_QLLMSHAPES_H
