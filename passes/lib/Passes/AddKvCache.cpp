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
//
//===----------------------------------------------------------------------===//

#include "quant/Passes/Passes.h"

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

/// The function arguments `value` depends on.
llvm::SetVector<BlockArgument> argumentsOf(Value value) {
  llvm::SetVector<BlockArgument> args;
  SmallVector<Value> worklist{value};
  llvm::DenseSet<Value> seen;
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    if (!seen.insert(v).second)
      continue;
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      args.insert(arg);
      continue;
    }
    for (Value operand : v.getDefiningOp()->getOperands())
      worklist.push_back(operand);
  }
  return args;
}

/// True when `positions` evaluates to [b, s] rows 0..s-1 for several batch
/// and sequence sizes, whatever the token and mask values (the arguments it
/// reads are sized by their dimension roles; no past: total = sequence).
bool isSequenceRange(func::FuncOp func, Value positions) {
  llvm::SetVector<BlockArgument> args = argumentsOf(positions);
  for (auto [batch, seq] : {std::pair{1, 1}, {1, 5}, {3, 4}}) {
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
          else if (role == DimRole::sequence ||
                   role == DimRole::total_sequence)
            shape.push_back(seq);
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
          if (result->data[b * seq + s] != static_cast<double>(s))
            return false;
    }
  }
  return true;
}

struct QLLMAddKvCachePass
    : qllm::impl::QLLMAddKvCachePassBase<QLLMAddKvCachePass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    SmallVector<AttentionOp> attentions;
    func.walk([&](AttentionOp op) { attentions.push_back(op); });
    if (attentions.empty() ||
        llvm::any_of(attentions, [](AttentionOp op) {
          return op.getPastKey() != nullptr;
        }))
      return; // no attention, or already cached
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

    // Rotary positions computed inside the graph must be 0..seq-1.
    SmallVector<RotaryOp> rotaries;
    func.walk([&](RotaryOp op) { rotaries.push_back(op); });
    llvm::SetVector<Value> computed;
    for (RotaryOp op : rotaries)
      if (!isa<BlockArgument>(op.getPositions()))
        computed.insert(op.getPositions());
    for (Value positions : computed)
      if (!isSequenceRange(func, positions)) {
        positions.getDefiningOp()->emitError()
            << "computes rotary positions that are not 0..seq-1 on each row; "
               "cannot add a KV cache to a model without past inputs";
        return signalPassFailure();
      }

    MLIRContext *ctx = &getContext();
    Builder builder(ctx);
    auto roleArray = [&](ArrayRef<DimRole> roles) {
      SmallVector<Attribute> attrs;
      for (DimRole role : roles)
        attrs.push_back(DimRoleAttr::get(ctx, role));
      return builder.getArrayAttr(attrs);
    };
    auto names = [&](ArrayRef<StringRef> dims) {
      SmallVector<Attribute> attrs;
      for (StringRef dim : dims)
        attrs.push_back(builder.getStringAttr(dim));
      return builder.getArrayAttr(attrs);
    };
    auto portAttrs = [&](StringRef name, ArrayRef<StringRef> dims,
                         ArrayRef<DimRole> roles) {
      return builder.getDictionaryAttr(
          {builder.getNamedAttr(kNameAttrName, builder.getStringAttr(name)),
           builder.getNamedAttr(kDimsAttrName, names(dims)),
           builder.getNamedAttr(kDimRolesAttrName, roleArray(roles))});
    };
    const StringRef batch = "batch_size", past = "past_sequence_length",
                    total = "past_sequence_length + sequence_length";
    Location loc = func.getLoc();

    if (mask) {
      auto dims = names({batch, total});
      func.setArgAttr(mask.getArgNumber(), kDimsAttrName, dims);
      func.setArgAttr(mask.getArgNumber(), kDimRolesAttrName,
                      roleArray({DimRole::batch, DimRole::total_sequence}));
    }
    if (!computed.empty()) {
      auto type = RankedTensorType::get(
          {ShapedType::kDynamic, ShapedType::kDynamic},
          builder.getI64Type());
      unsigned index = func.getNumArguments();
      if (failed(func.insertArgument(
              index, type,
              portAttrs("position_ids", {batch, "sequence_length"},
                        {DimRole::batch, DimRole::sequence}),
              loc)))
        return signalPassFailure();
      for (RotaryOp op : rotaries)
        op.getPositionsMutable().assign(func.getArgument(index));
    }

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
                portAttrs("past_key_values." + suffix, {batch, "", past, ""},
                          {DimRole::batch, DimRole::other,
                           DimRole::past_sequence, DimRole::other}),
                loc)))
          return signalPassFailure();
        pastArgs[kv] = func.getArgument(index);
        unsigned result = func.getNumResults();
        if (failed(func.insertResult(
                result, type,
                portAttrs("present." + suffix, {batch, "", total, ""},
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
