//===- PlanMemory.cpp - arena offsets for the activations of an entry -----===//
//
// Every activation of an entry point lives in one arena. Values that share
// bytes form a group: a view (reshape) shares its input's bytes, and a rotary
// embedding rotates in place when its input dies there. A group is live from
// its first definition to its last use (the logits to the end); groups that
// are never live at the same time may share bytes. Offsets come from first
// fit over the groups in decreasing size, each 64-byte aligned.
//
//===----------------------------------------------------------------------===//

#include "quant/Passes/Passes.h"

#include "qllm/IR/QLLMOps.h"
#include "qllm/IR/QLLMPlanAttrs.h"
#include "quant/Plan/PlanInfo.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

#include <algorithm>

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMPLANMEMORYPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

constexpr int64_t kAlignment = 64;

/// Values that share bytes, their size and live range (op indices).
struct Group {
  int64_t bytes = 0;
  int64_t begin = 0;
  int64_t end = 0;
  int64_t offset = -1;
};

struct QLLMPlanMemoryPass
    : qllm::impl::QLLMPlanMemoryPassBase<QLLMPlanMemoryPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    EntryAttr entry = getEntry(func);
    if (!entry)
      return;
    auto module = func->getParentOfType<ModuleOp>();
    PlanAttr plan = module ? getPlan(module) : PlanAttr();
    if (!plan) {
      func.emitError() << "is not a specialized entry point (run "
                          "qllm-specialize-entries first)";
      return signalPassFailure();
    }
    if (failed(assign(func, entry, plan.getBatch())))
      signalPassFailure();
  }

  LogicalResult assign(func::FuncOp func, EntryAttr entry, int64_t batch) {
    const int64_t maxTokens = entry.getMaxTokens();
    Block &body = func.getBody().front();
    llvm::DenseMap<Value, unsigned> groupOf;
    SmallVector<Group> groups;
    llvm::DenseMap<Operation *, int64_t> index;
    int64_t position = 0;
    for (Operation &op : body)
      index[&op] = position++;
    int64_t end = position; // the logits live to the end
    PlanShapes shapes(batch);

    auto lastUse = [&](Value value) {
      int64_t last = index[value.getDefiningOp()];
      for (Operation *user : value.getUsers())
        last = std::max(last, isa<func::ReturnOp>(user) ? end : index[user]);
      return last;
    };

    for (Operation &op : body) {
      std::optional<Kernel> kernel = getKernel(&op);
      if (getStorage(&op) == Storage::view) {
        Value input = op.getOperand(0);
        auto it = groupOf.find(input);
        if (it == groupOf.end())
          continue; // a view of a weight or argument: not in the arena
        unsigned shared = it->second; // inserting may move the map's entries
        groupOf[op.getResult(0)] = shared;
        Group &group = groups[shared];
        group.end = std::max(group.end, lastUse(op.getResult(0)));
        continue;
      }
      if (!kernel)
        continue; // weights and constants are not in the arena
      if (kernel == Kernel::attention) {
        // The presents are the KV cache, written by the kernel, not the arena.
        for (Value present : op.getResults().drop_front())
          for (Operation *user : present.getUsers())
            if (!isa<func::ReturnOp>(user))
              return user->emitError()
                     << "reads a present key/value; the runtime keeps them "
                        "only in the KV cache";
      }
      Value result = op.getResult(0);
      auto type = cast<RankedTensorType>(result.getType());
      if (!type.getElementType().isF32())
        return op.emitError() << "produces " << type
                              << "; plan activations are f32 (run "
                                 "qllm-promote-to-f32)";
      FailureOr<SmallVector<int64_t>> shape = shapes.shape(result);
      if (failed(shape))
        return failure();
      int64_t elements = 1;
      for (int64_t d : *shape)
        elements *= d == kTokenDim ? maxTokens : d;
      int64_t bytes = elements * 4;

      if (kernel == Kernel::rotary) {
        // In place when the input's bytes die here.
        auto it = groupOf.find(op.getOperand(0));
        if (it != groupOf.end() && groups[it->second].end == index[&op]) {
          unsigned shared = it->second; // inserting may move the map's entries
          groupOf[result] = shared;
          groups[shared].end = lastUse(result);
          continue;
        }
      }
      Group group;
      group.bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;
      group.begin = index[&op];
      group.end = lastUse(result);
      groupOf[result] = groups.size();
      groups.push_back(group);
    }

    // First fit, largest first.
    SmallVector<unsigned> order(groups.size());
    for (unsigned i = 0; i < order.size(); ++i)
      order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](unsigned a, unsigned b) {
      return groups[a].bytes > groups[b].bytes;
    });
    SmallVector<unsigned> placed;
    int64_t arenaBytes = 0;
    for (unsigned g : order) {
      Group &group = groups[g];
      SmallVector<std::pair<int64_t, int64_t>> busy;
      for (unsigned p : placed)
        if (groups[p].begin <= group.end && group.begin <= groups[p].end)
          busy.push_back(
              {groups[p].offset, groups[p].offset + groups[p].bytes});
      llvm::sort(busy);
      int64_t offset = 0;
      for (auto [from, to] : busy) {
        if (offset + group.bytes <= from)
          break;
        offset = std::max(offset, to);
      }
      group.offset = offset;
      arenaBytes = std::max(arenaBytes, offset + group.bytes);
      placed.push_back(g);
    }

    Builder builder(func.getContext());
    for (Operation &op : body) {
      if (op.getNumResults() == 0)
        continue;
      SmallVector<int64_t> offsets;
      bool any = false;
      for (Value result : op.getResults()) {
        auto it = groupOf.find(result);
        offsets.push_back(it == groupOf.end() ? -1 : groups[it->second].offset);
        any |= it != groupOf.end();
      }
      if (any)
        op.setAttr(kArenaAttrName, ArenaAttr::get(builder.getContext(), offsets));
    }
    func->setAttr(kEntryAttrName,
                  EntryAttr::get(builder.getContext(), maxTokens, arenaBytes));
    return success();
  }
};

} // namespace
