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

#include "qllm/IR/QLLMPlanAttrs.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
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

struct QLLMClassifyDimsPass
    : qllm::impl::QLLMClassifyDimsPassBase<QLLMClassifyDimsPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
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
