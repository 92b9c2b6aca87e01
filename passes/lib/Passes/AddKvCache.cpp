//===- AddKvCache.cpp - a KV cache for exports without past inputs --------===//
//
// The most common first export of a decoder is the plain `input_ids,
// attention_mask -> logits` graph: causal self-attention over the graph's
// own keys and values, positions computed inside (a Range over the sequence).
// That is exactly what the runtime's cached attention computes when the
// cache is empty; this pass gives such a graph the cached interface, so that
// it generates token by token like an export with `past_key_values`:
//   - every attention (causal, no bias: raised) reads `past_key_values.N.*`
//     arguments, N in program order, and its presents become `present.N.*`
//     results;
//   - the padding mask argument covers past + new keys (total_sequence);
//   - rotary positions computed inside the graph, checked by evaluation to
//     be 0, 1, ..., seq - 1 on every row, are replaced by a `position_ids`
//     argument, which the runtime fills with absolute positions.
// A graph that reads its positions from anywhere else is refused.
// In graphs that have a cache already, rotary positions computed from the
// cache length (GroupQueryAttention without position_ids: past + 0..seq-1,
// checked the same way) become the `position_ids` input as well: the
// runtime feeds past caches to attention only.
//
//===----------------------------------------------------------------------===//

#include "quant/Passes/Passes.h"

#include "PatternUtils.h"

#include "qllm/Analysis/ReferenceEvaluator.h"
#include "qllm/IR/QLLMOps.h"
#include "qllm/IR/QLLMPlanAttrs.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMADDKVCACHEPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

/// True when `positions` evaluates to [b, s] rows past..past+s-1 for several
/// batch, sequence and (with `withPast`) past sizes, whatever the token and
/// mask values (the arguments it reads are sized by their dimension roles).
bool isSequenceRange(func::FuncOp func, Value positions, bool withPast) {
  llvm::SetVector<BlockArgument> args = argumentsOf(positions);
  struct Sample {
    int64_t batch, seq, past;
  };
  SmallVector<Sample> samples = {{1, 1, 0}, {1, 5, 0}, {3, 4, 0}};
  if (withPast)
    samples.append({{1, 1, 6}, {2, 3, 2}});
  for (auto [batch, seq, past] : samples) {
    for (double fill : {0.0, 1.0}) {
      ReferenceEvaluator evaluator;
      for (BlockArgument arg : args) {
        auto type = cast<RankedTensorType>(arg.getType());
        SmallVector<DimRole> roles = getArgDimRoles(func, arg.getArgNumber());
        SmallVector<int64_t> shape;
        for (int64_t d = 0; d < type.getRank(); ++d) {
          if (!ShapedType::isDynamic(type.getDimSize(d))) {
            shape.push_back(type.getDimSize(d));
            continue;
          }
          DimRole role = d < static_cast<int64_t>(roles.size())
                             ? roles[d]
                             : DimRole::other;
          if (role == DimRole::batch)
            shape.push_back(batch);
          else if (role == DimRole::sequence)
            shape.push_back(seq);
          else if (role == DimRole::past_sequence)
            shape.push_back(past);
          else if (role == DimRole::total_sequence)
            shape.push_back(past + seq);
          else
            return false;
        }
        evaluator.bind(arg, RefTensor::filled(shape, fill));
      }
      FailureOr<RefTensor> result = evaluator.evaluate(positions);
      if (failed(result) || result->shape.size() != 2 ||
          result->shape[1] != seq ||
          (result->shape[0] != batch && result->shape[0] != 1))
        return false;
      for (int64_t b = 0; b < result->shape[0]; ++b)
        for (int64_t s = 0; s < seq; ++s)
          if (result->data[b * seq + s] != static_cast<double>(past + s))
            return false;
    }
  }
  return true;
}

/// The argument attributes of an input: name, ONNX dimension names, roles.
DictionaryAttr portAttrs(Builder &builder, StringRef name,
                         ArrayRef<StringRef> dims, ArrayRef<DimRole> roles) {
  SmallVector<Attribute> names, roleAttrs;
  for (StringRef dim : dims)
    names.push_back(builder.getStringAttr(dim));
  for (DimRole role : roles)
    roleAttrs.push_back(DimRoleAttr::get(builder.getContext(), role));
  return builder.getDictionaryAttr(
      {builder.getNamedAttr(kNameAttrName, builder.getStringAttr(name)),
       builder.getNamedAttr(kDimsAttrName, builder.getArrayAttr(names)),
       builder.getNamedAttr(kDimRolesAttrName, builder.getArrayAttr(roleAttrs))});
}

/// Rotary positions computed inside the graph, checked by evaluation to be
/// past..past+seq-1 (only 0..seq-1 without a past), are replaced by the
/// `position_ids` input (added when the graph has none), which the runtime
/// fills with absolute positions. Other computed positions are refused.
LogicalResult replaceComputedPositions(func::FuncOp func, bool withPast) {
  SmallVector<RotaryOp> rotaries;
  func.walk([&](RotaryOp op) { rotaries.push_back(op); });
  llvm::SetVector<Value> computed;
  for (RotaryOp op : rotaries)
    if (!isa<BlockArgument>(op.getPositions()))
      computed.insert(op.getPositions());
  if (computed.empty())
    return success();
  for (Value positions : computed)
    if (!isSequenceRange(func, positions, withPast))
      return positions.getDefiningOp()->emitError()
             << "computes rotary positions that are not "
             << (withPast ? "past..past+seq-1 on each row; cannot feed them "
                            "as position_ids"
                          : "0..seq-1 on each row; cannot add a KV cache to a "
                            "model without past inputs");
  Value input;
  for (unsigned i = 0; i < func.getNumArguments(); ++i)
    if (auto name = func.getArgAttrOfType<StringAttr>(i, kNameAttrName);
        name && name.getValue() == "position_ids")
      input = func.getArgument(i);
  if (!input) {
    Builder builder(func.getContext());
    auto type = RankedTensorType::get(
        {ShapedType::kDynamic, ShapedType::kDynamic}, builder.getI64Type());
    unsigned index = func.getNumArguments();
    if (failed(func.insertArgument(
            index, type,
            portAttrs(builder, "position_ids", {"batch_size", "sequence_length"},
                      {DimRole::batch, DimRole::sequence}),
            func.getLoc())))
      return failure();
    input = func.getArgument(index);
  }
  for (RotaryOp op : rotaries)
    if (computed.contains(op.getPositions()))
      op.getPositionsMutable().assign(input);
  return success();
}

struct QLLMAddKvCachePass
    : qllm::impl::QLLMAddKvCachePassBase<QLLMAddKvCachePass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    SmallVector<AttentionOp> attentions;
    func.walk([&](AttentionOp op) { attentions.push_back(op); });
    if (attentions.empty())
      return;
    if (llvm::any_of(attentions,
                     [](AttentionOp op) { return op.getPastKey() != nullptr; })) {
      // Already cached: positions the graph computes from the cache length
      // (GroupQueryAttention without position_ids) become an input too.
      if (failed(replaceComputedPositions(func, /*withPast=*/true)))
        signalPassFailure();
      return;
    }
    for (unsigned i = 0; i < func.getNumArguments(); ++i)
      if (auto name = func.getArgAttrOfType<StringAttr>(i, kNameAttrName);
          name && name.getValue().starts_with("past_key_values."))
        return; // past inputs that no attention reads: leave it to the checks
    // Only a fully raised decoder: causal attention without a bias (one
    // that is not, SpecializeEntries reports).
    if (llvm::any_of(attentions, [](AttentionOp op) {
          return !op.getCausal() || op.getAttentionBias();
        }))
      return;

    // The padding mask: one argument, read by the attentions alone.
    BlockArgument mask;
    for (AttentionOp op : attentions) {
      Value m = op.getAttentionMask();
      if (!m)
        continue;
      auto arg = dyn_cast<BlockArgument>(m);
      if (!arg || (mask && arg != mask)) {
        op.emitError() << "reads a padding mask that is not the model's "
                          "attention_mask input; cannot add a KV cache";
        return signalPassFailure();
      }
      mask = arg;
    }
    if (mask && llvm::any_of(mask.getUsers(), [](Operation *user) {
          return !isa<AttentionOp>(user);
        })) {
      func.emitError() << "the attention mask input is read by more than "
                          "the attentions; cannot add a KV cache";
      return signalPassFailure();
    }

    Builder builder(&getContext());
    const StringRef batch = "batch_size", past = "past_sequence_length",
                    total = "past_sequence_length + sequence_length";
    Location loc = func.getLoc();

    if (mask) {
      // The mask now covers the past keys too.
      DictionaryAttr attrs =
          portAttrs(builder, "attention_mask", {batch, total},
                    {DimRole::batch, DimRole::total_sequence});
      func.setArgAttr(mask.getArgNumber(), kDimsAttrName,
                      attrs.get(kDimsAttrName));
      func.setArgAttr(mask.getArgNumber(), kDimRolesAttrName,
                      attrs.get(kDimRolesAttrName));
    }
    if (failed(replaceComputedPositions(func, /*withPast=*/false)))
      return signalPassFailure();

    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
    SmallVector<Value> results(ret.getOperands());
    for (auto [layer, op] : llvm::enumerate(attentions)) {
      Value present[2] = {op.getPresentKey(), op.getPresentValue()};
      Value pastArgs[2];
      for (int kv = 0; kv < 2; ++kv) {
        auto type = cast<RankedTensorType>(present[kv].getType());
        auto pastType = RankedTensorType::get(
            {ShapedType::kDynamic, type.getDimSize(1), ShapedType::kDynamic,
             type.getDimSize(3)},
            type.getElementType());
        std::string suffix =
            std::to_string(layer) + (kv == 0 ? ".key" : ".value");
        unsigned index = func.getNumArguments();
        if (failed(func.insertArgument(
                index, pastType,
                portAttrs(builder, "past_key_values." + suffix, {batch, "", past, ""},
                          {DimRole::batch, DimRole::other,
                           DimRole::past_sequence, DimRole::other}),
                loc)))
          return signalPassFailure();
        pastArgs[kv] = func.getArgument(index);
        unsigned result = func.getNumResults();
        if (failed(func.insertResult(
                result, type,
                portAttrs(builder, "present." + suffix, {batch, "", total, ""},
                          {DimRole::batch, DimRole::other,
                           DimRole::total_sequence, DimRole::other}))))
          return signalPassFailure();
        results.push_back(present[kv]);
      }
      op.getPastKeyMutable().assign(pastArgs[0]);
      op.getPastValueMutable().assign(pastArgs[1]);
    }
    ret->setOperands(results);
  }
};

} // namespace
