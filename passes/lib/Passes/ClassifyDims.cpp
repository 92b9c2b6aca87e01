//===- ClassifyDims.cpp - what each model input dimension counts ----------===//
//
// The roles of the dimensions of a decoder's inputs and outputs, decided
// once, from the decoder interface rather than from what exporters call the
// dimensions: input_ids and position_ids are [batch, sequence], the
// attention mask [batch, total], a past cache [batch, kv_heads, past,
// head_dim], the logits [batch, sequence, vocab], a present cache [batch,
// kv_heads, total, head_dim]. The ONNX dimension names (`qllm.dims`) only
// link dimensions: a dynamic dimension of another input or output that has
// the name of an anchored one gets its role. So an export that calls its
// batch `N` and its sequence `tokens` classifies like one that says
// `batch_size` and `sequence_length`.
//
//===----------------------------------------------------------------------===//

#include "quant/Passes/Passes.h"

#include "qllm/IR/QLLMOps.h"
#include "qllm/IR/QLLMPlanAttrs.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMCLASSIFYDIMSPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

using Roles = SmallVector<std::optional<DimRole>>;

/// The roles the decoder interface gives the dimensions of a value named
/// `name` of rank `rank` (nullopt where it says nothing).
Roles anchoredRoles(StringRef name, int64_t rank, bool argument) {
  Roles roles(rank);
  auto set = [&](int64_t dim, DimRole role) {
    if (dim < rank)
      roles[dim] = role;
  };
  auto isCache = [&](StringRef prefix) {
    StringRef rest = name;
    if (!rest.consume_front(prefix))
      return false;
    auto [layer, kind] = rest.split('.');
    return !layer.empty() && llvm::all_of(layer, llvm::isDigit) &&
           (kind == "key" || kind == "value");
  };
  if (argument && (name == "input_ids" || name == "position_ids")) {
    set(0, DimRole::batch);
    set(1, DimRole::sequence);
  } else if (argument && name == "attention_mask") {
    set(0, DimRole::batch);
    set(1, DimRole::total_sequence);
  } else if (argument && isCache("past_key_values.")) {
    set(0, DimRole::batch);
    set(2, DimRole::past_sequence);
  } else if (!argument && name == "logits") {
    set(0, DimRole::batch);
    set(1, DimRole::sequence);
  } else if (!argument && isCache("present.")) {
    set(0, DimRole::batch);
    set(2, DimRole::total_sequence);
  }
  return roles;
}

/// Where one symbol's candidate roles disagree, the more specific one wins:
/// a model without past inputs names its mask's keys like its sequence.
int rank(DimRole role) {
  switch (role) {
  case DimRole::batch:
    return 0;
  case DimRole::sequence:
    return 1;
  case DimRole::past_sequence:
    return 2;
  case DimRole::total_sequence:
    return 3;
  case DimRole::other:
    return 4;
  }
  return 4;
}

/// One input or output of the function: its type, ONNX names, anchors.
struct Port {
  RankedTensorType type;
  ArrayAttr names;
  Roles anchored;
};

/// Whether `name` is one the decoder interface knows (anchoredRoles).
bool isInterfaceName(StringRef name) {
  return name == "input_ids" || name == "position_ids" ||
         name == "attention_mask" || name == "logits" ||
         name.starts_with("past_key_values.") || name.starts_with("present.");
}

/// The values `v` reaches through ops that only move or view it.
SmallVector<OpOperand *> usesThroughViews(Value v) {
  SmallVector<OpOperand *> uses;
  SmallVector<Value> worklist{v};
  llvm::DenseSet<Value> seen;
  while (!worklist.empty()) {
    Value x = worklist.pop_back_val();
    if (!seen.insert(x).second)
      continue;
    for (OpOperand &use : x.getUses()) {
      Operation *user = use.getOwner();
      if (isa<CastOp, ReshapeOp, UnsqueezeOp, SqueezeOp, ExpandOp, TransposeOp>(
              user) &&
          use.getOperandNumber() == 0)
        worklist.push_back(user->getResult(0));
      else
        uses.push_back(&use);
    }
  }
  return uses;
}

/// Interface names from structure for the inputs and outputs whose ONNX
/// names say nothing (`input.1`, `ids`, `1188`, ...): the integer [b, s]
/// input that indexes a 2-D float weight (the embedding) is input_ids; a
/// float rank-4 input concatenated first on axis 2 is a past cache (a key
/// when the concatenation reaches a matmul as its transposed right operand,
/// a value otherwise; layers in program order), and that concatenation, as
/// a result, its present; another integer [b, s] input is position_ids when
/// it reaches a gather's indices, a matmul or a rotary (angles), and
/// attention_mask otherwise; the one float rank-3 result left is the logits.
/// The ONNX name stays in `qllm.onnx_name`. A role that some input or output
/// already has by name is not given again.
void nameByStructure(func::FuncOp func) {
  MLIRContext *ctx = func.getContext();
  auto argName = [&](unsigned i) {
    auto name = func.getArgAttrOfType<StringAttr>(i, kNameAttrName);
    return name ? name.getValue() : StringRef();
  };
  auto rename = [&](unsigned i, bool argument, StringRef name) {
    StringAttr old = argument
                         ? func.getArgAttrOfType<StringAttr>(i, kNameAttrName)
                         : func.getResultAttrOfType<StringAttr>(i, kNameAttrName);
    if (!old)
      return;
    auto set = [&](StringRef attr, Attribute value) {
      if (argument)
        func.setArgAttr(i, attr, value);
      else
        func.setResultAttr(i, attr, value);
    };
    set(kOnnxNameAttrName, old);
    set(kNameAttrName, StringAttr::get(ctx, name));
  };
  auto has = [&](auto pred) {
    for (unsigned i = 0; i < func.getNumArguments(); ++i)
      if (pred(argName(i)))
        return true;
    return false;
  };
  auto hasResult = [&](StringRef wanted) {
    for (unsigned i = 0; i < func.getNumResults(); ++i)
      if (auto name = func.getResultAttrOfType<StringAttr>(i, kNameAttrName);
          name && name.getValue() == wanted)
        return true;
    return false;
  };

  auto intMatrix = [](Value v) {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    return t && t.getRank() == 2 && t.getElementType().isInteger() &&
           !t.getElementType().isInteger(1);
  };
  // Tokens: indices of a gather of a 2-D float weight.
  std::optional<unsigned> tokens;
  for (BlockArgument arg : func.getArguments()) {
    if (!intMatrix(arg))
      continue;
    if (argName(arg.getArgNumber()) == "input_ids")
      tokens = arg.getArgNumber();
    if (tokens)
      break;
    for (OpOperand *use : usesThroughViews(arg)) {
      auto gather = dyn_cast<GatherOp>(use->getOwner());
      auto table = gather ? gather.getData().getDefiningOp<WeightOp>() : WeightOp();
      if (gather && use->getOperandNumber() == 1 && table &&
          cast<RankedTensorType>(table.getType()).getRank() == 2)
        tokens = arg.getArgNumber();
    }
  }
  if (!tokens)
    return; // not a decoder we can read
  if (argName(*tokens) != "input_ids")
    rename(*tokens, true, "input_ids");

  // Past caches: concat(past, new) on axis 2; key or value by the matmul.
  SmallVector<std::pair<unsigned, Value>> keys, values; // (arg, concat)
  func.walk([&](ConcatOp concat) {
    auto past = dyn_cast<BlockArgument>(concat.getInputs().front());
    auto type = past ? dyn_cast<RankedTensorType>(past.getType()) : nullptr;
    if (!past || concat.getAxis() != 2 || concat.getInputs().size() != 2 ||
        !type || type.getRank() != 4 || !isa<FloatType>(type.getElementType()))
      return;
    bool key = false;
    for (OpOperand *use : usesThroughViews(concat.getResult())) {
      auto matmul = dyn_cast<MatmulOp>(use->getOwner());
      if (!matmul || use->getOperandNumber() != 1)
        continue;
      // Through a transpose of the last two axes (usesThroughViews passed
      // it), or transpose_rhs: the keys of q @ k^T.
      Value rhs = matmul.getRhs();
      auto transpose = rhs.getDefiningOp<TransposeOp>();
      key |= matmul.getTransposeRhs() ||
             (transpose && transpose.getPermutation().size() == 4 &&
              transpose.getPermutation()[2] == 3);
    }
    (key ? keys : values).push_back({past.getArgNumber(), concat.getResult()});
  });
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  bool namedPast = has([](StringRef n) { return n.starts_with("past_key_values."); });
  if (!namedPast && keys.size() == values.size()) {
    for (auto [layer, kv] : llvm::enumerate(llvm::zip(keys, values))) {
      auto [k, v] = kv;
      for (auto [part, entry] :
           {std::pair{"key", k}, std::pair{"value", v}}) {
        std::string suffix = std::to_string(layer) + "." + part;
        rename(entry.first, true, "past_key_values." + suffix);
        for (OpOperand &result : ret->getOpOperands())
          if (result.get() == entry.second)
            rename(result.getOperandNumber(), false, "present." + suffix);
      }
    }
  }
  // Positions and mask: the other integer [b, s] inputs.
  for (BlockArgument arg : func.getArguments()) {
    if (arg.getArgNumber() == *tokens || !intMatrix(arg) ||
        isInterfaceName(argName(arg.getArgNumber())))
      continue;
    bool angles = llvm::any_of(usesThroughViews(arg), [](OpOperand *use) {
      Operation *user = use->getOwner();
      return (isa<GatherOp>(user) && use->getOperandNumber() == 1) ||
             isa<MatmulOp, MulOp, RotaryOp>(user);
    });
    StringRef role = angles ? "position_ids" : "attention_mask";
    if (!has([&](StringRef n) { return n == role; }))
      rename(arg.getArgNumber(), true, role);
  }
  // Logits: the one float rank-3 result without an interface name.
  if (hasResult("logits"))
    return;
  std::optional<unsigned> logits;
  for (OpOperand &result : ret->getOpOperands()) {
    auto name = func.getResultAttrOfType<StringAttr>(result.getOperandNumber(),
                                                     kNameAttrName);
    auto type = dyn_cast<RankedTensorType>(result.get().getType());
    if (name && !isInterfaceName(name.getValue()) && type &&
        type.getRank() == 3 && isa<FloatType>(type.getElementType())) {
      if (logits)
        return; // ambiguous
      logits = result.getOperandNumber();
    }
  }
  if (logits)
    rename(*logits, false, "logits");
}

struct QLLMClassifyDimsPass
    : qllm::impl::QLLMClassifyDimsPassBase<QLLMClassifyDimsPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    nameByStructure(func);
    SmallVector<Port> arguments, results;
    bool named = false;
    auto port = [&](Type type, DictionaryAttr attrs, bool argument) {
      Port p;
      p.type = dyn_cast<RankedTensorType>(type);
      auto name = attrs ? attrs.getAs<StringAttr>(kNameAttrName) : StringAttr();
      named |= static_cast<bool>(name);
      p.names = attrs ? attrs.getAs<ArrayAttr>(kDimsAttrName) : ArrayAttr();
      if (p.type)
        p.anchored = name ? anchoredRoles(name.getValue(), p.type.getRank(),
                                          argument)
                          : Roles(p.type.getRank());
      return p;
    };
    for (unsigned i = 0; i < func.getNumArguments(); ++i)
      arguments.push_back(
          port(func.getArgument(i).getType(), func.getArgAttrDict(i), true));
    for (unsigned i = 0; i < func.getNumResults(); ++i)
      results.push_back(
          port(func.getResultTypes()[i], func.getResultAttrDict(i), false));
    bool anchored = false;
    for (const SmallVector<Port> *ports : {&arguments, &results})
      for (const Port &p : *ports)
        anchored |= llvm::any_of(p.anchored, [](auto r) { return r.has_value(); });
    if (!named || !anchored)
      return; // not a decoder's interface: roles stay as they are

    // Each anchored dimension's name carries its role to the others.
    llvm::StringMap<DimRole> byName;
    for (const SmallVector<Port> *ports : {&arguments, &results})
      for (const Port &p : *ports)
        for (auto [d, role] : llvm::enumerate(p.anchored)) {
          StringRef name = dimName(p, d);
          if (!role || name.empty())
            continue;
          auto [it, inserted] = byName.try_emplace(name, *role);
          if (!inserted && rank(*role) < rank(it->second))
            it->second = *role;
        }

    Builder builder(func.getContext());
    auto roles = [&](const Port &p) {
      SmallVector<Attribute> out;
      for (int64_t d = 0; d < p.type.getRank(); ++d) {
        DimRole role = DimRole::other;
        StringRef name = dimName(p, d);
        if (ShapedType::isDynamic(p.type.getDimSize(d)) ||
            p.anchored[d] == DimRole::batch) {
          if (p.anchored[d])
            role = *p.anchored[d];
          else if (auto it = byName.find(name);
                   !name.empty() && it != byName.end())
            role = it->second;
        }
        out.push_back(DimRoleAttr::get(func.getContext(), role));
      }
      return builder.getArrayAttr(out);
    };
    for (auto [i, p] : llvm::enumerate(arguments))
      if (p.type)
        func.setArgAttr(i, kDimRolesAttrName, roles(p));
    for (auto [i, p] : llvm::enumerate(results))
      if (p.type)
        func.setResultAttr(i, kDimRolesAttrName, roles(p));
  }

  /// The ONNX name of dimension `d` of a port ("" if none).
  static StringRef dimName(const Port &p, int64_t d) {
    if (!p.names || d >= static_cast<int64_t>(p.names.size()))
      return {};
    auto name = dyn_cast<StringAttr>(p.names[d]);
    return name ? name.getValue() : StringRef();
  }
};

} // namespace
