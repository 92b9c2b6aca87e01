//===- ImportContext.h - state shared by the ONNX op converters -*- C++ -*-===//
//
// The importer is mechanical: each ONNX node becomes qllm ops through one
// converter function, looked up by (domain, op type). A converter reads its
// node through ImportContext (inputs, attributes, constant inputs) and binds
// the node's outputs. Meaning (RMSNorm, attention, ...) is recovered later by
// the raising passes, not here.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_LIB_IMPORT_IMPORTCONTEXT_H
#define QUANT_LIB_IMPORT_IMPORTCONTEXT_H

#include "qllm/IR/QLLMOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <onnx/onnx_pb.h>

#include <functional>
#include <optional>

namespace mlir::qllm::onnx_import {

class ImportContext;

/// Converts the current node of `ctx`; on failure it has emitted an error.
using Converter = LogicalResult (*)(ImportContext &ctx);

/// Converter tables, keyed by "domain:OpType" ("" is the ONNX domain).
void registerStandardConverters(llvm::StringMap<Converter> &table);
void registerContribConverters(llvm::StringMap<Converter> &table);
void registerQdqConverters(llvm::StringMap<Converter> &table);

/// The names a node reads: its inputs, and the outer values its subgraphs
/// (an `If`'s branches) read without defining them.
void collectReads(const onnx::NodeProto &node, llvm::StringSet<> &reads);
/// The outer values a subgraph reads without defining them.
void collectCaptures(const onnx::GraphProto &graph, llvm::StringSet<> &reads);

/// The element type of an ONNX TensorProto data type, or null if qllm has
/// none.
Type elementTypeOf(MLIRContext *ctx, int32_t onnxType);

/// Converts a small ONNX tensor (Constant node values, attributes) to inline
/// dense data. Fails with a message in `error` for external or unsupported
/// data.
FailureOr<DenseElementsAttr> denseFromTensor(MLIRContext *ctx,
                                             const onnx::TensorProto &tensor,
                                             std::string &error);

class ImportContext {
public:
  ImportContext(OpBuilder &builder, llvm::StringMap<Value> &values,
                StringRef modelPath)
      : b(builder), values(values), modelPath(modelPath) {}

  /// Makes `node` (with its domain's opset version) the current node.
  void setNode(const onnx::NodeProto &node, int64_t opset, Location loc) {
    this->node = &node;
    this->opset = opset;
    this->loc = loc;
  }

  OpBuilder &b;
  const onnx::NodeProto *node = nullptr;
  int64_t opset = 0;
  Location loc = UnknownLoc::get(b.getContext());

  MLIRContext *getContext() { return b.getContext(); }

  //===--- Inputs and outputs -------------------------------------------===//

  unsigned numInputs() const { return node->input_size(); }
  unsigned numOutputs() const { return node->output_size(); }
  /// Input `i`, or null when absent (past the end or named "").
  Value input(unsigned i) const;
  /// Input `i`, which must be present; emits an error otherwise.
  FailureOr<Value> requiredInput(unsigned i);
  /// Binds output `i` (ignored when the node leaves it unnamed).
  void setOutput(unsigned i, Value value);
  bool hasOutput(unsigned i) const {
    return static_cast<int>(i) < node->output_size() &&
           !node->output(i).empty();
  }

  //===--- Attributes ----------------------------------------------------===//

  const onnx::AttributeProto *attribute(StringRef name) const;
  int64_t intAttr(StringRef name, int64_t defaultValue) const;
  float floatAttr(StringRef name, float defaultValue) const;
  std::optional<SmallVector<int64_t>> intsAttr(StringRef name) const;

  //===--- Constant and partially known values ---------------------------===//

  /// The values of a constant integer tensor, or an error naming `what`.
  FailureOr<SmallVector<int64_t>> constantInts(Value value, StringRef what);
  /// The elements of a small 1-D or scalar integer tensor as far as they are
  /// known at import time (ShapedType::kDynamic where not): constants, shapes
  /// of tensors with static dimensions, and gathers/concats/slices/casts and
  /// arithmetic over those. Used only to compute result types.
  std::optional<SmallVector<int64_t>> knownInts(Value value);

  //===--- Building ------------------------------------------------------===//

  RankedTensorType tensorType(ArrayRef<int64_t> shape, Type element) {
    return RankedTensorType::get(shape, element);
  }
  Value constantI64(ArrayRef<int64_t> values, bool scalar = false);
  Value constantFloat(double value, Type element);

  /// Normalizes an ONNX axis (possibly negative) against `rank`.
  FailureOr<int64_t> normalizeAxis(int64_t axis, int64_t rank,
                                   StringRef what = "axis");

  //===--- Subgraphs -----------------------------------------------------===//

  /// Imports the nodes of a subgraph (an `If` branch) at the insertion
  /// point, in the scope of the enclosing graph: its nodes read outer values
  /// by name and bind their outputs in the same table. Restores the current
  /// node afterwards.
  LogicalResult importSubgraph(const onnx::GraphProto &graph);
  /// The value bound to `name` (null if none).
  Value lookup(StringRef name) const;
  /// Set by the importer.
  std::function<LogicalResult(const onnx::GraphProto &)> subgraphImporter;
  /// Model inputs a converter made obsolete (optimum's use_cache_branch):
  /// the importer removes them from the signature once nothing reads them.
  SmallVector<Value> obsoleteInputs;

  //===--- Errors --------------------------------------------------------===//

  /// An error about the current node, prefixed with its op type, domain,
  /// name and the model file.
  InFlightDiagnostic error();
  /// A warning about the current node, emitted once per import per message.
  void warnOnce(StringRef message);
  std::string describeNode() const;

private:
  llvm::StringMap<Value> &values;
  StringRef modelPath;
  llvm::DenseMap<Value, SmallVector<int64_t>> knownCache;
  llvm::StringSet<> warned;
};

/// Helpers for shapes.
inline bool isDynamic(int64_t d) { return ShapedType::isDynamic(d); }
inline RankedTensorType rankedType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

} // namespace mlir::qllm::onnx_import

#endif // QUANT_LIB_IMPORT_IMPORTCONTEXT_H
