//===- FoldActOrder.cpp - act-order weights as contiguous groups ----------===//
//
// An act-order weight (GPTQ desc_act, MatMulNBits with g_idx) keeps a group
// index per column; kernels that read it gather scales per column and run
// slowly. Sorting the columns by group makes the groups contiguous:
//
//   y = W x = W[:, P] x[P],   P = the stable order of the columns by g_idx,
//
// so the weight is stored with its columns in the order P (plain contiguous
// groups, no g_idx) and the matmul reads x[P] instead. Where x is produced:
//
//   - x = swiglu(gate(h), up(h)) (the down projection): x[P] is
//     swiglu(gate'(h), up'(h)) with the rows of the gate and up weights in
//     the order P, so the permutation costs nothing at run time;
//   - otherwise (q/k/v after the input norm, o after attention): one
//     `qllm.gather` of x's last dimension with the indices P as an i32
//     weight, shared by every matmul that reads x in the same order (q, k
//     and v share their Hessian, hence their order).
//
// Applies when every group then holds consecutive columns, G of them (the
// last one fewer), as GPTQ's act order and static groups make; other group
// indices are left to the kernels. Weightless modules have no group index
// values and are left as they are.
//
//===----------------------------------------------------------------------===//

#include "quant/Passes/Passes.h"

#include "qllm/IR/QLLMAttrs.h"
#include "qllm/IR/QLLMOps.h"
#include "qllm/IR/QLLMTypes.h"
#include "qllm/IR/Weightless.h"
#include "qrt/core/WeightFormat.h"
#include "quant/Passes/WeightRewrite.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <cstring>
#include <map>
#include <numeric>

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMFOLDACTORDERPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

using Permutation = std::vector<int32_t>;

ArrayRef<char> bytesOf(Value value) {
  auto weight = value.getDefiningOp<WeightOp>();
  auto resource =
      weight ? dyn_cast<DenseResourceElementsAttr>(weight.getValue()) : nullptr;
  AsmResourceBlob *blob =
      resource ? resource.getRawHandle().getBlob() : nullptr;
  return blob ? blob->getData() : ArrayRef<char>();
}

/// A new weight op `name` holding `bytes` with the type of `like`.
Value newWeight(OpBuilder &builder, Location loc, StringRef name, Type type,
                ArrayRef<char> bytes, size_t alignment) {
  auto shaped = cast<ShapedType>(type);
  auto attr = DenseResourceElementsAttr::get(
      shaped, name,
      HeapAsmResourceBlob::allocateAndCopyWithAlign(bytes, alignment));
  return WeightOp::create(builder, loc, name, attr);
}

/// The values of a group index: a weight's blob (GPTQ) or an inline
/// constant (an imported MatMulNBits' g_idx).
std::optional<std::vector<int32_t>> groupIndexOf(Value value, int64_t cols) {
  std::vector<int32_t> group;
  if (auto constant = value.getDefiningOp<ConstantOp>()) {
    auto dense = dyn_cast<DenseIntElementsAttr>(constant.getValue());
    if (!dense)
      return std::nullopt;
    for (const APInt &v : dense.getValues<APInt>())
      group.push_back(static_cast<int32_t>(v.getSExtValue()));
  } else {
    ArrayRef<char> bytes = bytesOf(value);
    group.resize(bytes.size() / 4);
    std::memcpy(group.data(), bytes.data(), group.size() * 4);
  }
  if (static_cast<int64_t>(group.size()) != cols)
    return std::nullopt;
  return group;
}

/// The order that makes the groups of `group` contiguous, if each group
/// then holds `groupSize` consecutive columns (the last fewer).
std::optional<Permutation> contiguousOrder(const std::vector<int32_t> &group,
                                           int64_t groupSize) {
  int64_t cols = static_cast<int64_t>(group.size());
  if (groupSize <= 0)
    return std::nullopt;
  Permutation order(static_cast<size_t>(cols));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return group[a] < group[b]; });
  for (int64_t j = 0; j < cols; ++j)
    if (group[order[j]] != j / groupSize)
      return std::nullopt;
  return order;
}

struct QLLMFoldActOrderPass
    : qllm::impl::QLLMFoldActOrderPassBase<QLLMFoldActOrderPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (isWeightless(module))
      return;
    // Until no act-order weight is left to try: folding a down projection
    // makes new (still act-order) gate and up weights.
    llvm::DenseSet<Operation *> tried;
    for (bool more = true; more;) {
      SmallVector<QuantizedWeightOp> actOrder;
      module.walk([&](QuantizedWeightOp q) {
        auto scheme = dyn_cast<IntQuantAttr>(q.getType().getScheme());
        if (scheme && scheme.getActOrder() && q.getGIdx() && !q->use_empty() &&
            tried.insert(q).second)
          actOrder.push_back(q);
      });
      more = !actOrder.empty();
      for (QuantizedWeightOp q : actOrder)
        if (failed(fold(q)))
          return signalPassFailure();
    }
    eraseReplaced(module);
  }

  /// Erases the replaced ops nothing reads any more, and frees the blobs of
  /// weights no op holds then.
  void eraseReplaced(ModuleOp module) {
    SmallVector<Operation *> dead;
    module.walk([&](Operation *op) {
      if (isa<QuantizedWeightOp, WeightOp, ConstantOp>(op) &&
          replaced.contains(op))
        dead.push_back(op);
    });
    SmallVector<DenseResourceElementsAttr> freed;
    // Readers come after what they read: erase from the last.
    for (Operation *op : llvm::reverse(dead)) {
      if (!op->use_empty())
        continue;
      if (auto w = dyn_cast<WeightOp>(op))
        if (auto r = dyn_cast<DenseResourceElementsAttr>(w.getValue()))
          freed.push_back(r);
      op->erase();
    }
    freeUnheldBlobs(module, freed);
  }

  LogicalResult fold(QuantizedWeightOp q) {
    auto type = q.getType();
    auto scheme = cast<IntQuantAttr>(type.getScheme());
    int64_t rows = type.getRows(), cols = type.getCols();
    std::optional<std::vector<int32_t>> group = groupIndexOf(q.getGIdx(), cols);
    std::optional<Permutation> order =
        group ? contiguousOrder(*group, scheme.getGroupSize()) : std::nullopt;
    SmallVector<DequantMatmulOp> readers;
    for (Operation *user : q->getUsers()) {
      auto reader = dyn_cast<DequantMatmulOp>(user);
      if (!reader || reader.getWeight() != q.getResult())
        return success(); // read otherwise: left to the kernels
      readers.push_back(reader);
    }
    if (!order || readers.empty())
      return success();

    // The weight with its columns in `order` and no group index.
    OpBuilder builder(q);
    int bits = static_cast<int>(scheme.getBits());
    int64_t rowBytes = qrt::packedBytes(cols, bits);
    ArrayRef<char> data = bytesOf(q.getData());
    if (static_cast<int64_t>(data.size()) != rows * rowBytes)
      return q.emitError() << "has no data to reorder";
    std::vector<char> sorted(data.size());
    std::vector<uint8_t> codes(static_cast<size_t>(cols)),
        reordered(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      qrt::unpackCodes(reinterpret_cast<const uint8_t *>(data.data()) +
                           r * rowBytes,
                       cols, bits, codes.data());
      for (int64_t j = 0; j < cols; ++j)
        reordered[j] = codes[(*order)[j]];
      qrt::packCodes(reordered.data(), cols, bits,
                     reinterpret_cast<uint8_t *>(sorted.data()) + r * rowBytes);
    }
    std::string name = q.getName().str();
    Value newData = newWeight(builder, q.getLoc(), name + ".data",
                              q.getData().getType(), sorted, 1);
    auto plain = IntQuantAttr::get(q.getContext(), scheme.getBits(),
                                   scheme.getGroupSize(), scheme.getSymmetric(),
                                   /*act_order=*/false, scheme.getScaleType());
    auto plainType = QTensorType::get(q.getContext(), {rows, cols}, plain);
    auto folded = QuantizedWeightOp::create(
        builder, q.getLoc(), plainType, q.getName(), newData, q.getScales(),
        q.getZeroPoints(), Value(), Value(), Value());

    for (DequantMatmulOp reader : readers) {
      reader.getWeightMutable().assign(folded);
      Value x = reader.getInput();
      if (succeeded(permuteProducer(x, *order)))
        continue;
      reader.getInputMutable().assign(gathered(x, *order, name));
    }
    replaced.insert(q);
    replaced.insert(q.getData().getDefiningOp());
    if (Operation *def = q.getGIdx().getDefiningOp())
      replaced.insert(def);
    return success();
  }

  /// x[..., order] as one gather per (x, order), right after x is defined.
  Value gathered(Value x, const Permutation &order, StringRef name) {
    auto key = std::make_pair(x.getAsOpaquePointer(), order);
    if (Value &known = gathers[key])
      return known;
    OpBuilder builder(x.getContext());
    if (Operation *def = x.getDefiningOp())
      builder.setInsertionPointAfter(def);
    else
      builder.setInsertionPointToStart(cast<BlockArgument>(x).getOwner());
    Location loc = x.getLoc();
    auto indexType = RankedTensorType::get({static_cast<int64_t>(order.size())},
                                           builder.getI32Type());
    Value indices =
        newWeight(builder, loc, (name + ".perm").str(), indexType,
                  ArrayRef<char>(reinterpret_cast<const char *>(order.data()),
                                 order.size() * sizeof(int32_t)),
                  4);
    int64_t last = cast<RankedTensorType>(x.getType()).getRank() - 1;
    Value result = GatherOp::create(builder, loc, x.getType(), x, indices,
                                    builder.getI64IntegerAttr(last));
    gathers[key] = result;
    return result;
  }

  /// Makes x's producer compute x[..., order] when x = swiglu(a, b) with a
  /// and b dequant_matmuls of integer weights read only there: their rows
  /// go in the order instead. Fails (changing nothing) otherwise.
  LogicalResult permuteProducer(Value x, const Permutation &order) {
    auto swiglu = x.getDefiningOp<SwiGluOp>();
    if (!swiglu || !x.hasOneUse())
      return failure();
    SmallVector<DequantMatmulOp> sides;
    for (Value side : swiglu->getOperands()) {
      auto mm = side.getDefiningOp<DequantMatmulOp>();
      auto q = mm ? mm.getWeight().getDefiningOp<QuantizedWeightOp>()
                  : QuantizedWeightOp();
      if (!mm || !side.hasOneUse() || !q || !q->hasOneUse() ||
          !isa<IntQuantAttr>(q.getType().getScheme()) ||
          q.getType().getRows() != static_cast<int64_t>(order.size()) ||
          bytesOf(q.getData()).empty() || bytesOf(q.getScales()).empty() ||
          (q.getZeroPoints() && bytesOf(q.getZeroPoints()).empty()))
        return failure();
      sides.push_back(mm);
    }
    if (sides[0] == sides[1])
      return failure();
    for (DequantMatmulOp mm : sides) {
      auto q = mm.getWeight().getDefiningOp<QuantizedWeightOp>();
      OpBuilder builder(q);
      auto rowsOf = [&](Value component, StringRef suffix) -> Value {
        if (!component)
          return Value();
        ArrayRef<char> bytes = bytesOf(component);
        size_t row = bytes.size() / order.size();
        std::vector<char> out(bytes.size());
        for (size_t i = 0; i < order.size(); ++i)
          std::memcpy(out.data() + i * row, bytes.data() + order[i] * row, row);
        replaced.insert(component.getDefiningOp());
        auto elementType =
            cast<ShapedType>(component.getType()).getElementType();
        return newWeight(
            builder, q.getLoc(), (q.getName() + "." + suffix).str(),
            component.getType(), out,
            std::max<size_t>(1, elementType.getIntOrFloatBitWidth() / 8));
      };
      auto permuted = QuantizedWeightOp::create(
          builder, q.getLoc(), q.getType(), q.getName(),
          rowsOf(q.getData(), "data"), rowsOf(q.getScales(), "scales"),
          rowsOf(q.getZeroPoints(), "zero_points"), q.getGIdx(), Value(),
          Value());
      mm.getWeightMutable().assign(permuted);
      replaced.insert(q);
    }
    return success();
  }

  llvm::DenseSet<Operation *> replaced;
  std::map<std::pair<const void *, Permutation>, Value> gathers;
};

} // namespace
