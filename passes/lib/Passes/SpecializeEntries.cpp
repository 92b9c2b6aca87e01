//===- SpecializeEntries.cpp - prefill and decode entry points ------------===//

#include "quant/Passes/Passes.h"

#include "qllm/IR/QLLMOps.h"
#include "qllm/IR/QLLMPlanAttrs.h"
#include "quant/Plan/PlanInfo.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringExtras.h"

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMSPECIALIZEENTRIESPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

/// The role of an argument or result in the decoder interface, and its
/// layer for caches.
struct Role {
  InterfaceRole name;
  int64_t layer = -1;

  RoleAttr attr(MLIRContext *ctx) const {
    return RoleAttr::get(ctx, name,
                         layer >= 0 ? std::optional<int64_t>(layer)
                                    : std::nullopt);
  }
  StringRef text() const { return stringifyInterfaceRole(name); }
};

/// Parses "past_key_values.N.key" / "present.N.value" style names.
std::optional<Role> cacheRole(StringRef name, StringRef prefix,
                              InterfaceRole key, InterfaceRole value) {
  if (!name.consume_front(prefix))
    return std::nullopt;
  auto [number, kind] = name.split('.');
  int64_t layer;
  // Layers beyond 2^20 are not a model's (and not a #qllm.role's).
  if (number.getAsInteger(10, layer) || layer < 0 || layer >= (1 << 20))
    return std::nullopt;
  if (kind == "key")
    return Role{key, layer};
  if (kind == "value")
    return Role{value, layer};
  return std::nullopt;
}

std::optional<Role> argumentRole(StringRef name) {
  if (name == "input_ids")
    return Role{InterfaceRole::tokens};
  if (name == "position_ids")
    return Role{InterfaceRole::positions};
  if (name == "attention_mask")
    return Role{InterfaceRole::mask};
  return cacheRole(name, "past_key_values.", InterfaceRole::past_key,
                   InterfaceRole::past_value);
}

std::optional<Role> resultRole(StringRef name) {
  if (name == "logits")
    return Role{InterfaceRole::logits};
  return cacheRole(name, "present.", InterfaceRole::present_key,
                   InterfaceRole::present_value);
}

struct QLLMSpecializeEntriesPass
    : qllm::impl::QLLMSpecializeEntriesPassBase<QLLMSpecializeEntriesPass> {
  QLLMSpecializeEntriesPass() = default;
  QLLMSpecializeEntriesPass(const QLLMSpecializeEntriesPass &other)
      : QLLMSpecializeEntriesPassBase(other) {}

  Option<int64_t> batch{*this, "batch", llvm::cl::desc("Batch size (1)"),
                        llvm::cl::init(1)};
  EntryOptionSet<Pass> options{*this};

  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp main = module.lookupSymbol<func::FuncOp>("main");
    if (!main) {
      module.emitError() << "no @main function to specialize (import a model "
                            "first)";
      return signalPassFailure();
    }
    if (batch != 1) {
      main.emitError() << "batch " << batch.getValue()
                       << " is not supported yet: the runtime runs batch 1";
      return signalPassFailure();
    }
    if (failed(checkInterface(main)) || failed(specializeBatch(main)))
      return signalPassFailure();

    EntryOptions o = options.values();
    int64_t context = o.maxContext;
    if (context == 0)
      context = defaultContext(module, main);
    if (context <= 0 || context > (int64_t(1) << 24)) {
      module.emitError() << "max-context " << context << " is out of range";
      return signalPassFailure();
    }
    int64_t chunk = o.prefillTokens > 0
                        ? std::min<int64_t>(o.prefillTokens, context)
                        : std::min<int64_t>(context, 512);
    OpBuilder builder(module.getContext());
    for (auto [name, id] : {std::pair<const char *, int64_t>{"bos", o.bos},
                            {"eos", o.eos}})
      if (id < 0 || id > INT32_MAX) {
        module.emitError() << name << " " << id << " is not a token id";
        return signalPassFailure();
      }
    module->setAttr(kPlanAttrName,
                    PlanAttr::get(module.getContext(), batch, context, o.bos,
                                  o.eos, o.tokenizer, /*worldSize=*/1));

    // Prefill and decode: the same graph for up to `context` tokens or one.
    builder.setInsertionPoint(main);
    for (auto [name, tokens] :
         {std::pair<StringRef, int64_t>{"prefill", chunk}, {"decode", 1}}) {
      func::FuncOp entry = cast<func::FuncOp>(builder.clone(*main));
      entry.setSymName(name);
      entry->setAttr(kEntryAttrName,
                     EntryAttr::get(module.getContext(), tokens, std::nullopt));
    }
    main.erase();
  }

  /// Every dimension that is the batch becomes static: arguments, results
  /// and the values between (the token and cache-length dimensions stay
  /// dynamic).
  LogicalResult specializeBatch(func::FuncOp main) {
    PlanShapes shapes(batch);
    SmallVector<std::pair<Value, Type>> refined;
    auto refine = [&](Value value) {
      auto type = dyn_cast<RankedTensorType>(value.getType());
      if (!type)
        return;
      SmallVector<int64_t> dims(type.getShape());
      bool changed = false;
      for (int64_t d = 0; d < type.getRank(); ++d) {
        if (!ShapedType::isDynamic(dims[d]))
          continue;
        std::optional<int64_t> size = shapes.dimension(value, d);
        if (size && *size == batch) {
          dims[d] = batch;
          changed = true;
        }
      }
      if (changed)
        refined.push_back({value, RankedTensorType::get(dims,
                                                        type.getElementType(),
                                                        type.getEncoding())});
    };
    for (BlockArgument arg : main.getArguments())
      refine(arg);
    main.walk([&](Operation *op) {
      for (Value result : op->getResults())
        refine(result);
    });
    // All answers first: they trace through the types being changed.
    for (auto [value, type] : refined)
      value.setType(type);
    auto ret = cast<func::ReturnOp>(main.getBody().front().getTerminator());
    main.setFunctionType(FunctionType::get(
        main.getContext(), main.getBody().front().getArgumentTypes(),
        ret.getOperandTypes()));
    if (failed(verify(main)))
      return main.emitError() << "is invalid with batch " << batch.getValue();
    return success();
  }

  int64_t defaultContext(ModuleOp module, func::FuncOp main) {
    if (auto metadata = module->getAttrOfType<DictionaryAttr>(kMetadataAttrName))
      if (auto value = metadata.getAs<StringAttr>("max_seq_len")) {
        int64_t n;
        if (!value.getValue().getAsInteger(10, n) && n > 0)
          return n;
      }
    int64_t rows = 0;
    main.walk([&](RotaryOp op) {
      if (Value cos = op.getCosCache())
        rows = cast<RankedTensorType>(cos.getType()).getDimSize(0);
    });
    return rows > 0 ? rows : 2048;
  }

  LogicalResult checkInterface(func::FuncOp main) {
    OpBuilder builder(main.getContext());
    llvm::DenseMap<int64_t, std::pair<Value, Value>> pasts;
    Value tokens;
    for (BlockArgument arg : main.getArguments()) {
      auto name =
          main.getArgAttrOfType<StringAttr>(arg.getArgNumber(), kNameAttrName);
      std::optional<Role> role =
          name ? argumentRole(name.getValue()) : std::nullopt;
      if (!role)
        return emitError(arg.getLoc())
               << "argument '" << (name ? name.getValue() : StringRef("?"))
               << "' is not part of the decoder interface the runtime drives "
                  "(input_ids, position_ids, attention_mask, "
                  "past_key_values.N.key/value)";
      main.setArgAttr(arg.getArgNumber(), kRoleAttrName,
                      role->attr(main.getContext()));
      if (role->layer >= 0)
        (role->name == InterfaceRole::past_key ? pasts[role->layer].first
                                               : pasts[role->layer].second) =
            arg;
      if (role->name == InterfaceRole::tokens)
        tokens = arg;
      // What each input may feed.
      for (OpOperand &use : arg.getUses()) {
        Operation *user = use.getOwner();
        bool ok = true;
        if (role->name == InterfaceRole::positions)
          ok = isa<RotaryOp>(user) && use.getOperandNumber() == 1;
        else if (role->name == InterfaceRole::mask)
          ok = isa<AttentionOp>(user) &&
               cast<AttentionOp>(user).getAttentionMask() == arg;
        else if (role->layer >= 0)
          ok = isa<AttentionOp>(user);
        if (!ok)
          return user->emitError()
                 << "uses the model input '" << name.getValue()
                 << "' in a way the runtime cannot provide (it feeds "
                 << role->text() << " only to "
                 << (role->name == InterfaceRole::positions ? "rotary"
                                                            : "attention")
                 << " ops)";
      }
    }
    if (!tokens)
      return main.emitError() << "the model has no input_ids argument";

    auto ret = cast<func::ReturnOp>(main.getBody().front().getTerminator());
    bool logits = false;
    for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
      auto name = main.getResultAttrOfType<StringAttr>(i, kNameAttrName);
      std::optional<Role> role =
          name ? resultRole(name.getValue()) : std::nullopt;
      if (!role)
        return main.emitError()
               << "result '" << (name ? name.getValue() : StringRef("?"))
               << "' is not part of the decoder interface (logits, "
                  "present.N.key/value)";
      main.setResultAttr(i, kRoleAttrName, role->attr(main.getContext()));
      logits |= role->name == InterfaceRole::logits;
      if (role->layer >= 0) {
        auto attention = value.getDefiningOp<AttentionOp>();
        if (!attention || (role->name == InterfaceRole::present_key
                               ? attention.getPresentKey() != value
                               : attention.getPresentValue() != value))
          return main.emitError()
                 << "result '" << name.getValue()
                 << "' is not the present cache of an attention";
      }
    }
    if (!logits)
      return main.emitError() << "the model has no logits result";

    // Every attention: causal, no bias, its caches from one layer.
    WalkResult walk = main.walk([&](AttentionOp op) -> WalkResult {
      if (op.getAttentionBias())
        return op.emitError()
               << "has an attention bias the runtime cannot apply (it was not "
                  "recognized as a causal mask; run quant-import-cleanup)";
      if (!op.getCausal())
        return op.emitError() << "is not causal; the runtime runs causal "
                                 "decoder attention only";
      auto past = dyn_cast_or_null<BlockArgument>(op.getPastKey());
      if (!past)
        return op.emitError() << "does not read its past keys from a "
                                 "past_key_values input";
      auto role = main.getArgAttrOfType<RoleAttr>(past.getArgNumber(),
                                                  kRoleAttrName);
      if (!role || role.getRole() != InterfaceRole::past_key)
        return op.emitError() << "does not read its past keys from a "
                                 "past_key_values.N.key input";
      int64_t layer = *role.getLayer();
      if (pasts[layer].second != op.getPastValue())
        return op.emitError()
               << "reads past keys and values of different layers";
      op->setAttr(kLayerAttrName, builder.getI64IntegerAttr(layer));
      return WalkResult::advance();
    });
    return failure(walk.wasInterrupted());
  }
};

} // namespace

std::unique_ptr<Pass>
mlir::qllm::createQLLMSpecializeEntriesPass(const EntryOptions &options) {
  auto pass = std::make_unique<QLLMSpecializeEntriesPass>();
  pass->options.assign(options);
  return pass;
}
