//===- ShardTensorParallel.cpp - one layer across several ranks -----------===//
//
// Megatron-style tensor parallelism of a Llama decoder, on plan-ready IR
// (weights in their stored layout, before kernel selection). Every rank
// runs the same ops on its slice:
//
//   attention: q, k and v are column-parallel (each rank computes heads/N
//     query heads and the KV heads they read: kv_heads/N, or one KV head
//     replicated when kv_heads < N), then attention over its own KV cache;
//     o is row-parallel (its columns are those heads), followed by an
//     all_reduce of the partial products;
//   FFN: gate and up column-parallel, swiglu on the rank's hidden units,
//     down row-parallel, all_reduce;
//   output: the vocabulary split (column-parallel), all_gather of the logits;
//   embedding, norms and residual adds: replicated (every rank holds the
//     same residual stream after each all_reduce).
//
// Stored values never change: a rank's weight is the rows or columns of the
// stored one, with its codes, scales and zero points copied. Where N does
// not divide the hidden units in whole quantization groups, each rank gets
// the same number of whole groups and the last ranks' slices are padded
// with zero weights (zero scales; their activations are exactly 0, so the
// products are unchanged). A split that would cut a group anyway (a row
// slice starting inside a group that continues past it), act-order group
// indices along a split, and double quantization blocks that straddle ranks
// are refused, naming the weight.
//
// Each weight op gets `qllm.shards` (every rank's value; rank 0's is its
// own), the module `qllm.plan`'s world_size and `qllm.unsharded` (the whole
// model's heads, KV heads and hidden units, for the plan's description).
//
//===----------------------------------------------------------------------===//

#include "quant/Passes/Passes.h"

#include "qllm/IR/QLLMAttrs.h"
#include "qllm/IR/QLLMOps.h"
#include "qllm/IR/QLLMPlanAttrs.h"
#include "qllm/IR/QLLMTypes.h"
#include "qllm/IR/Weightless.h"
#include "qrt/core/WeightFormat.h"
#include "quant/Plan/PlanInfo.h"

#include "PatternUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <cmath>
#include <cstring>
#include <map>
#include <numeric>

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMSHARDTENSORPARALLELPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

//===----------------------------------------------------------------------===//
// Slices of stored weights (bytes in the layouts of qrt/core/WeightFormat.h)
//===----------------------------------------------------------------------===//

/// One rank's part of a [rows, cols] weight: rows (column-parallel) or
/// columns (row-parallel) [begin, end), padded with zeros to `size`.
struct Slice {
  bool alongCols = false;
  int64_t begin = 0, end = 0, size = 0;

  std::string key() const {
    return (alongCols ? "c" : "r") + std::to_string(begin) + "-" +
           std::to_string(end) + "/" + std::to_string(size);
  }
};

/// Rows [begin, end) of a [rows, rowBytes] byte matrix, then zero rows up
/// to `size`.
std::vector<char> sliceRows(ArrayRef<char> bytes, int64_t rowBytes,
                            const Slice &s) {
  std::vector<char> out(static_cast<size_t>(s.size * rowBytes), 0);
  std::memcpy(out.data(), bytes.data() + s.begin * rowBytes,
              static_cast<size_t>((s.end - s.begin) * rowBytes));
  return out;
}

/// Columns [begin, end) of each row of a [rows, cols] matrix of
/// `width`-byte elements, zero-padded to `size` columns.
std::vector<char> sliceCols(ArrayRef<char> bytes, int64_t rows, int64_t cols,
                            int64_t width, const Slice &s) {
  std::vector<char> out(static_cast<size_t>(rows * s.size * width), 0);
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(out.data() + r * s.size * width,
                bytes.data() + (r * cols + s.begin) * width,
                static_cast<size_t>((s.end - s.begin) * width));
  return out;
}

/// The same for `bits`-bit codes packed per row (packCodes' layout):
/// `count` codes per row, codes [begin, end) of each, padded with
/// pad(row) (code 0 without `pad`).
std::vector<char> slicePacked(ArrayRef<char> bytes, int64_t rows,
                              int64_t count, int bits, int64_t begin,
                              int64_t end, int64_t size,
                              function_ref<uint8_t(int64_t)> pad = nullptr) {
  int64_t inRow = qrt::packedBytes(count, bits),
          outRow = qrt::packedBytes(size, bits);
  std::vector<char> out(static_cast<size_t>(rows * outRow), 0);
  std::vector<uint8_t> codes(static_cast<size_t>(count)),
      part(static_cast<size_t>(size), 0);
  for (int64_t r = 0; r < rows; ++r) {
    qrt::unpackCodes(reinterpret_cast<const uint8_t *>(bytes.data()) +
                         r * inRow,
                     count, bits, codes.data());
    std::fill(part.begin(), part.end(), pad ? pad(r) : 0);
    std::copy(codes.begin() + begin, codes.begin() + end, part.begin());
    qrt::packCodes(part.data(), size,
                   bits, reinterpret_cast<uint8_t *>(out.data()) + r * outRow);
  }
  return out;
}

/// A quantized weight's scheme, as the slicing needs it.
struct SchemeFacts {
  int bits = 4;
  int64_t groupSize = 0; // columns per group (a whole row: cols)
  bool actOrder = false, doubleQuant = false;
  int64_t doubleQuantBlock = 0;
};

SchemeFacts factsOf(QTensorType type) {
  SchemeFacts f;
  if (auto intN = dyn_cast<IntQuantAttr>(type.getScheme())) {
    qrt::IntNScheme s = intN.getScheme();
    f.bits = s.bits;
    f.groupSize = s.groupSize == qrt::kPerChannel ? type.getCols()
                                                  : s.groupSize;
    f.actOrder = s.actOrder;
  } else if (std::optional<qrt::Float4Scheme> s =
                 float4SchemeOf(type.getScheme())) {
    f.bits = 4;
    f.groupSize = s->blockSize;
    f.doubleQuant = s->doubleQuant;
    f.doubleQuantBlock = s->doubleQuantBlockSize;
  }
  return f;
}

/// Why `s` cannot be taken from a quantized [rows, cols] weight without
/// changing a stored value; empty if it can. The rank's part keeps the
/// scheme (its group size): a column slice must start at a group boundary,
/// or lie in one group that its padded size fits in.
std::string whyNotSliceable(QTensorType type, const Slice &s) {
  SchemeFacts f = factsOf(type);
  int64_t rows = type.getRows(), cols = type.getCols();
  if (s.alongCols) {
    if (f.actOrder)
      return "its columns belong to groups by an act-order group index "
             "(qllm-fold-act-order could not make them contiguous)";
    if (f.doubleQuant)
      return "its double quantization blocks run over whole rows of "
             "absmax values, which a column split cuts";
    int64_t g = f.groupSize;
    bool aligned = s.begin % g == 0;
    bool inOneGroup = s.begin / g == (s.end - 1) / g &&
                      (g == cols || s.size <= g);
    if (!aligned && !inOneGroup)
      return "columns [" + std::to_string(s.begin) + ", " +
             std::to_string(s.end) + ") cut its groups of " +
             std::to_string(g) + " columns";
    return {};
  }
  if (f.doubleQuant) {
    int64_t blocks = qrt::numGroups(cols, f.groupSize);
    bool aligned = (s.begin * blocks) % f.doubleQuantBlock == 0 &&
                   (s.end == rows || (s.end * blocks) % f.doubleQuantBlock == 0) &&
                   s.size == s.end - s.begin;
    if (!aligned)
      return "rows [" + std::to_string(s.begin) + ", " +
             std::to_string(s.end) + ") cut its double quantization blocks "
             "of " + std::to_string(f.doubleQuantBlock) + " absmax values";
  }
  return {};
}

/// The bytes of component `role` of a quantized weight's part `s` (the
/// scheme valid for it: whyNotSliceable is empty); `zeroPointBytes`, the
/// whole weight's stored zero points (asymmetric intN), give the codes of
/// padding columns.
std::vector<char> sliceComponent(QTensorType type, qrt::ComponentRole role,
                                 ArrayRef<char> bytes, int64_t width,
                                 const Slice &s,
                                 ArrayRef<char> zeroPointBytes) {
  SchemeFacts f = factsOf(type);
  int64_t rows = type.getRows(), cols = type.getCols();
  int64_t groups = qrt::numGroups(cols, f.groupSize);
  using qrt::ComponentRole;
  if (!s.alongCols) {
    switch (role) {
    case ComponentRole::Data:
      return sliceRows(bytes, qrt::packedBytes(cols, f.bits), s);
    case ComponentRole::Scales:
      return sliceRows(bytes, groups * width, s);
    case ComponentRole::ZeroPoints:
      return sliceRows(bytes, qrt::packedBytes(groups, f.bits), s);
    case ComponentRole::GroupIndex:
    case ComponentRole::DoubleQuantOffset:
      return std::vector<char>(bytes.begin(), bytes.end()); // every rank's
    case ComponentRole::DoubleQuantScales: {
      int64_t first = s.begin * groups / f.doubleQuantBlock;
      int64_t count = qrt::numGroups(s.size * groups, f.doubleQuantBlock);
      return std::vector<char>(bytes.begin() + first * 4,
                               bytes.begin() + (first + count) * 4);
    }
    }
  }
  // Columns: codes sliced and padded; group k of the part is group
  // first + k of the row while it holds some of the part's real columns,
  // else padding (zero scale and zero point).
  int64_t first = s.begin / f.groupSize;
  int64_t partGroups = qrt::numGroups(s.size, f.groupSize == cols
                                                  ? qrt::kPerChannel
                                                  : f.groupSize);
  int64_t real = 0;
  while (real < partGroups && first + real < groups &&
         (first + real) * f.groupSize < s.end)
    ++real;
  switch (role) {
  case ComponentRole::Data: {
    // Padding columns hold the code of the value 0: the zero point (of the
    // last real group: padding in a real group shares its scale), 2^(bits-1)
    // when symmetric, the index of 0 in a 4-bit code table.
    auto intN = dyn_cast<IntQuantAttr>(type.getScheme());
    uint8_t zero = 0;
    if (intN && intN.getSymmetric())
      zero = static_cast<uint8_t>(qrt::implicitZeroPoint(f.bits));
    if (auto float4 = float4SchemeOf(type.getScheme())) {
      const float *values = qrt::float4CodeValues(float4->codes);
      for (uint8_t c = 0; c < 16; ++c)
        if (values[c] == 0.0f && !std::signbit(values[c])) {
          zero = c;
          break;
        }
    }
    ArrayRef<char> zeroPoints;
    if (intN && !intN.getSymmetric())
      zeroPoints = zeroPointBytes;
    int64_t lastGroup = first + std::max<int64_t>(real, 1) - 1;
    return slicePacked(
        bytes, rows, cols, f.bits, s.begin, s.end, s.size, [&](int64_t r) {
          if (zeroPoints.empty())
            return zero;
          return qrt::unpackCode(
              reinterpret_cast<const uint8_t *>(zeroPoints.data()) +
                  r * qrt::packedBytes(groups, f.bits),
              lastGroup, f.bits);
        });
  }
  case ComponentRole::Scales: {
    std::vector<char> out(static_cast<size_t>(rows * partGroups * width), 0);
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(out.data() + r * partGroups * width,
                  bytes.data() + (r * groups + first) * width,
                  static_cast<size_t>(real * width));
    return out;
  }
  case ComponentRole::ZeroPoints:
    return slicePacked(bytes, rows, groups, f.bits, first, first + real,
                       partGroups);
  default:
    return {}; // refused by whyNotSliceable
  }
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

ArrayRef<char> blobBytes(WeightOp weight) {
  auto resource = dyn_cast<DenseResourceElementsAttr>(weight.getValue());
  AsmResourceBlob *blob =
      resource ? resource.getRawHandle().getBlob() : nullptr;
  return blob ? blob->getData() : ArrayRef<char>();
}

const void *resourceKey(WeightOp weight) {
  auto resource = dyn_cast<DenseResourceElementsAttr>(weight.getValue());
  return resource ? resource.getRawHandle().getResource() : nullptr;
}

int64_t elementWidth(Type type) {
  return std::max<int64_t>(1, type.getIntOrFloatBitWidth() / 8);
}

/// The name of an op in the source model, from its location.
std::string nameOf(Operation *op) {
  if (auto name = dyn_cast<NameLoc>(op->getLoc()))
    return name.getName().str();
  if (auto fused = dyn_cast<FusedLoc>(op->getLoc()))
    for (Location part : fused.getLocations())
      if (auto name = dyn_cast<NameLoc>(part))
        return name.getName().str();
  return op->getName().getStringRef().str();
}

RankedTensorType withLastDim(Type type, int64_t size) {
  return withDim(type, cast<RankedTensorType>(type).getRank() - 1, size);
}

/// The location of a collective after `op`: its name + ".all_reduce".
Location collectiveLoc(Operation *op, StringRef what) {
  return NameLoc::get(
      StringAttr::get(op->getContext(), nameOf(op) + "." + what.str()),
      op->getLoc());
}

struct QLLMShardTensorParallelPass
    : qllm::impl::QLLMShardTensorParallelPassBase<
          QLLMShardTensorParallelPass> {
  using Base::Base;

  void runOnOperation() override;

private:
  /// Splits the matmul `op` (qllm.matmul with a stored [N, K] weight, or
  /// qllm.dequant_matmul) by `slices` (one per rank, all of one size); a
  /// column-parallel split (rows) also narrows its result to that size.
  LogicalResult splitMatmul(Operation *op, ArrayRef<Slice> slices);
  /// A weight op of `type` holding every rank's part of `weight`, made by
  /// `slice` from its bytes (zero blobs in a weightless module), once per
  /// blob and slicing (the entries share them).
  FailureOr<WeightOp> slicedWeight(OpBuilder &builder, WeightOp weight,
                                   ArrayRef<Slice> slices,
                                   RankedTensorType type,
                                   function_ref<std::vector<char>(
                                       ArrayRef<char>, const Slice &)>
                                       slice);
  LogicalResult shardAttention(AttentionOp attention);
  LogicalResult shardPermutedO(ReshapeOp merge, GatherOp permute,
                               int64_t perRank);
  LogicalResult shardFfn(SwiGluOp swiglu);
  LogicalResult shardOutput(func::FuncOp func);
  void allReduceAfter(Operation *op);
  /// `count` rows or columns in equal parts, one per rank, each a multiple
  /// of `align`: rank r's [r * part, (r + 1) * part) of them, the last
  /// ranks' parts padded.
  SmallVector<Slice> evenParts(int64_t count, int64_t align,
                               bool alongCols) const;
  /// The rows (output channels) of a matmul op's weight, or failure.
  FailureOr<int64_t> weightRows(Operation *op);

  int64_t ranks = 1;
  /// Slices made so far: per blob and slicing, every rank's value (shared
  /// by the entries, which read the same blobs).
  std::map<std::pair<const void *, std::string>, SmallVector<Attribute>>
      made;
  int64_t heads = 0, kvHeads = 0, hidden = 0;
};

FailureOr<int64_t> QLLMShardTensorParallelPass::weightRows(Operation *op) {
  if (auto matmul = dyn_cast<MatmulOp>(op)) {
    Operation *weight = weightOf(matmul.getRhs());
    if (!weight || !matmul.getTransposeRhs())
      return op->emitError() << "multiplies by a value that is not a stored "
                                "[N, K] weight; tensor parallelism splits "
                                "weights";
    return cast<RankedTensorType>(weight->getResult(0).getType())
        .getDimSize(0);
  }
  if (auto dq = dyn_cast<DequantMatmulOp>(op))
    return dq.getWeight().getType().getRows();
  return op->emitError() << "is not a matmul of a weight";
}

FailureOr<WeightOp> QLLMShardTensorParallelPass::slicedWeight(
    OpBuilder &builder, WeightOp weight, ArrayRef<Slice> slices,
    RankedTensorType type,
    function_ref<std::vector<char>(ArrayRef<char>, const Slice &)> slice) {
  std::string key;
  for (const Slice &s : slices)
    key += s.key() + ";";
  auto &values = made[{resourceKey(weight), key}];
  if (values.empty()) {
    bool weightless = isWeightless(weight);
    ArrayRef<char> bytes = blobBytes(weight);
    if (!weightless && bytes.empty())
      return weight.emitError()
             << "weight '" << weight.getName() << "' has no data to split";
    int64_t width = elementWidth(type.getElementType());
    size_t size = static_cast<size_t>(type.getNumElements() * width);
    for (auto [rank, s] : llvm::enumerate(slices)) {
      std::string name =
          (weight.getName() + ".rank" + Twine(rank)).str();
      AsmResourceBlob blob;
      if (weightless) {
        blob = zeroBlob(size, static_cast<size_t>(width));
      } else {
        std::vector<char> part = slice(bytes, s);
        if (part.size() != size)
          return weight.emitError() << "internal error: a slice of '"
                                    << weight.getName() << "' has "
                                    << part.size() << " bytes, not " << size;
        blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
            part, static_cast<size_t>(width));
      }
      values.push_back(
          DenseResourceElementsAttr::get(type, name, std::move(blob)));
    }
  }
  auto result = WeightOp::create(builder, weight.getLoc(), weight.getName(),
                                 cast<ElementsAttr>(values.front()));
  result->setAttr(kShardsAttrName, builder.getArrayAttr(values));
  return result;
}

LogicalResult QLLMShardTensorParallelPass::splitMatmul(
    Operation *op, ArrayRef<Slice> slices) {
  OpBuilder builder(op);
  const Slice &first = slices.front();
  if (auto matmul = dyn_cast<MatmulOp>(op)) {
    auto weight = cast<WeightOp>(weightOf(matmul.getRhs()));
    auto stored = cast<RankedTensorType>(weight.getType());
    int64_t rows = stored.getDimSize(0), cols = stored.getDimSize(1);
    int64_t width = elementWidth(stored.getElementType());
    auto type = first.alongCols ? withDim(stored, 1, first.size)
                                : withDim(stored, 0, first.size);
    FailureOr<WeightOp> part = slicedWeight(
        builder, weight, slices, type,
        [&](ArrayRef<char> bytes, const Slice &s) {
          return s.alongCols ? sliceCols(bytes, rows, cols, width, s)
                             : sliceRows(bytes, cols * width, s);
        });
    if (failed(part))
      return failure();
    Value rhs = *part;
    if (auto cast = matmul.getRhs().getDefiningOp<CastOp>())
      rhs = CastOp::create(builder, cast.getLoc(),
                           RankedTensorType::get(type.getShape(),
                                                 cast.getType()
                                                     .getElementType()),
                           rhs);
    matmul.getRhsMutable().assign(rhs);
    if (!first.alongCols)
      matmul.getResult().setType(withLastDim(matmul.getType(), first.size));
    return success();
  }
  auto dq = cast<DequantMatmulOp>(op);
  auto q = dq.getWeight().getDefiningOp<QuantizedWeightOp>();
  if (!q)
    return op->emitError() << "reads a quantized weight that is not a "
                              "qllm.quantized_weight of stored components";
  QTensorType qtype = dq.getWeight().getType();
  for (const Slice &s : slices)
    if (std::string why = whyNotSliceable(qtype, s); !why.empty())
      return op->emitError()
             << "cannot split weight '" << q.getName() << "' across "
             << ranks << " ranks without changing its stored values: "
             << why;
  int64_t rows = first.alongCols ? qtype.getRows() : first.size;
  int64_t cols = first.alongCols ? first.size : qtype.getCols();
  auto partType = QTensorType::get(op->getContext(), {rows, cols},
                                   qtype.getScheme());
  qrt::WeightLayout layout = partType.getLayout();
  qrt::WeightLayout whole = qtype.getLayout();
  ArrayRef<char> zeroPoints;
  if (Value z = q.getZeroPoints())
    if (auto weight = z.getDefiningOp<WeightOp>())
      zeroPoints = blobBytes(weight);
  SmallVector<Value> components;
  for (auto [c, value] : llvm::enumerate(q->getOperands())) {
    auto weight = value.getDefiningOp<WeightOp>();
    if (!weight)
      return q.emitError() << "has a component that is not a stored weight";
    auto stored = cast<RankedTensorType>(weight.getType());
    const qrt::Component &component = layout.components[c];
    auto type = RankedTensorType::get(component.shape,
                                      stored.getElementType());
    int64_t width = elementWidth(stored.getElementType());
    qrt::ComponentRole role = whole.components[c].role;
    FailureOr<WeightOp> part = slicedWeight(
        builder, weight, slices, type,
        [&](ArrayRef<char> bytes, const Slice &s) {
          return sliceComponent(qtype, role, bytes, width, s, zeroPoints);
        });
    if (failed(part))
      return failure();
    components.push_back(*part);
  }
  auto assembled = QuantizedWeightOp::create(
      builder, q.getLoc(), partType, q.getNameAttr(), components[0],
      components[1], q.getZeroPoints() ? components[q.getODSOperandIndexAndLength(2).first] : Value(),
      q.getGIdx() ? components[q.getODSOperandIndexAndLength(3).first] : Value(),
      q.getDoubleQuantScales()
          ? components[q.getODSOperandIndexAndLength(4).first]
          : Value(),
      q.getDoubleQuantOffset()
          ? components[q.getODSOperandIndexAndLength(5).first]
          : Value());
  assembled->setDiscardableAttrs(q->getDiscardableAttrDictionary());
  dq.getWeightMutable().assign(assembled);
  if (!first.alongCols)
    dq.getResult().setType(withLastDim(dq.getType(), first.size));
  return success();
}

void QLLMShardTensorParallelPass::allReduceAfter(Operation *op) {
  OpBuilder builder(op->getContext());
  builder.setInsertionPointAfter(op);
  Value partial = op->getResult(0);
  auto sum = AllReduceOp::create(builder, collectiveLoc(op, "all_reduce"),
                                 partial.getType(), partial);
  partial.replaceAllUsesExcept(sum, sum);
}

SmallVector<Slice>
QLLMShardTensorParallelPass::evenParts(int64_t count, int64_t align,
                                       bool alongCols) const {
  int64_t part = (count + ranks * align - 1) / (ranks * align) * align;
  SmallVector<Slice> slices;
  for (int64_t r = 0; r < ranks; ++r)
    slices.push_back({alongCols, std::min(count, r * part),
                      std::min(count, (r + 1) * part), part});
  return slices;
}

/// Columns per part of a row-parallel matmul's input so that no part cuts
/// one of its weight's groups, nor a block of 32 of its 8-bit activations.
int64_t rowParallelAlignment(Operation *matmul) {
  auto dq = dyn_cast<DequantMatmulOp>(matmul);
  if (!dq)
    return 1;
  QTensorType type = dq.getWeight().getType();
  SchemeFacts f = factsOf(type);
  return f.groupSize == type.getCols() ? 32
                                       : std::lcm<int64_t>(f.groupSize, 32);
}

/// The ops from a matmul to an attention operand: [rotary] <- reshape <-
/// matmul, each the only user of the one before.
struct HeadsChain {
  Operation *matmul = nullptr;
  ReshapeOp reshape;
  RotaryOp rotary;
};

FailureOr<HeadsChain> traceHeads(Value value, Operation *attention,
                                 StringRef what) {
  HeadsChain chain;
  if (auto rotary = value.getDefiningOp<RotaryOp>()) {
    chain.rotary = rotary;
    value = rotary.getInput();
  }
  chain.reshape = value.getDefiningOp<ReshapeOp>();
  if (chain.reshape)
    chain.matmul = chain.reshape.getInput().getDefiningOp();
  if (!chain.reshape || !chain.matmul ||
      !isa<MatmulOp, DequantMatmulOp>(chain.matmul) ||
      !chain.matmul->hasOneUse() || !chain.reshape->hasOneUse() ||
      (chain.rotary && !chain.rotary->hasOneUse()))
    return attention->emitError()
           << "reads its " << what
           << " other than from a projection reshaped into heads (and "
              "rotated); tensor parallelism splits that form";
  return chain;
}

/// A reshape's new shape operand: the old one with its static sizes made
/// those of `type` (copied and inferred dimensions, 0 and -1, stay).
LogicalResult reshapeTo(ReshapeOp reshape, RankedTensorType type) {
  auto constant = reshape.getShape().getDefiningOp<ConstantOp>();
  auto values =
      constant ? dyn_cast<DenseIntElementsAttr>(constant.getValue()) : nullptr;
  if (!values || values.getNumElements() != type.getRank())
    return reshape.emitError() << "has a shape that is not a constant of "
                                  "its result's rank";
  SmallVector<int64_t> shape;
  for (auto [i, v] : llvm::enumerate(values.getValues<int64_t>()))
    shape.push_back(v > 0 && !type.isDynamicDim(i) ? type.getDimSize(i) : v);
  OpBuilder builder(reshape);
  auto attr = DenseIntElementsAttr::get(
      RankedTensorType::get({type.getRank()}, builder.getI64Type()), shape);
  reshape.getShapeMutable().assign(
      ConstantOp::create(builder, constant.getLoc(), attr));
  reshape.getResult().setType(type);
  return success();
}

LogicalResult QLLMShardTensorParallelPass::shardAttention(
    AttentionOp attention) {
  auto qType = cast<RankedTensorType>(attention.getQuery().getType());
  auto kType = cast<RankedTensorType>(attention.getKey().getType());
  int64_t h = qType.getDimSize(2), kv = kType.getDimSize(2),
          d = qType.getDimSize(3), vd = cast<RankedTensorType>(
                                            attention.getValue().getType())
                                            .getDimSize(3);
  if (h % ranks != 0)
    return attention.emitError() << "has " << h << " heads, which " << ranks
                                 << " ranks cannot share evenly";
  int64_t hPer = h / ranks, group = h / kv;
  int64_t kvPer;
  if (kv % ranks == 0)
    kvPer = kv / ranks;
  else if (ranks % kv == 0 && group % hPer == 0)
    kvPer = 1; // each rank's query heads read one KV head: replicated
  else
    return attention.emitError()
           << "has " << kv << " KV heads for " << h
           << " query heads, which " << ranks
           << " ranks cannot share (each rank needs whole KV heads)";
  heads = h;
  kvHeads = kv;
  SmallVector<Slice> qSlices, kvSlices, vSlices, oSlices;
  for (int64_t r = 0; r < ranks; ++r) {
    int64_t q0 = r * hPer, kv0 = kv % ranks == 0 ? r * kvPer : q0 / group;
    qSlices.push_back({false, q0 * d, (q0 + hPer) * d, hPer * d});
    kvSlices.push_back({false, kv0 * d, (kv0 + kvPer) * d, kvPer * d});
    vSlices.push_back({false, kv0 * vd, (kv0 + kvPer) * vd, kvPer * vd});
    oSlices.push_back({true, q0 * vd, (q0 + hPer) * vd, hPer * vd});
  }
  // q, k, v: projections, reshapes into heads, rotations.
  struct Operand {
    Value value;
    ArrayRef<Slice> slices;
    int64_t heads;
    const char *what;
  };
  for (const Operand &operand :
       {Operand{attention.getQuery(), qSlices, hPer, "query"},
        Operand{attention.getKey(), kvSlices, kvPer, "key"},
        Operand{attention.getValue(), vSlices, kvPer, "value"}}) {
    FailureOr<HeadsChain> chain =
        traceHeads(operand.value, attention, operand.what);
    if (failed(chain) || failed(splitMatmul(chain->matmul, operand.slices)))
      return failure();
    auto reshaped = withDim(chain->reshape.getType(), 2, operand.heads);
    if (failed(reshapeTo(chain->reshape, reshaped)))
      return failure();
    if (chain->rotary)
      chain->rotary.getResult().setType(reshaped);
  }
  // The results and the caches of the rank's heads.
  attention.getOutput().setType(
      withDim(attention.getOutput().getType(), 2, hPer));
  for (Value present : {attention.getPresentKey(), attention.getPresentValue()})
    present.setType(withDim(present.getType(), 1, kvPer));
  for (Value past : {attention.getPastKey(), attention.getPastValue()}) {
    if (!past)
      continue;
    auto arg = dyn_cast<BlockArgument>(past);
    if (!arg || !past.hasOneUse())
      return attention.emitError() << "reads a past cache that is not an "
                                      "input of its own";
    past.setType(withDim(past.getType(), 1, kvPer));
  }
  // o: the heads merged back, a row-parallel projection, the sum.
  Operation *user = attention.getOutput().hasOneUse()
                        ? *attention.getOutput().getUsers().begin()
                        : nullptr;
  auto merge = dyn_cast_or_null<ReshapeOp>(user);
  Operation *next = merge && merge->hasOneUse()
                        ? *merge->getUsers().begin()
                        : nullptr;
  if (auto permute = dyn_cast_or_null<GatherOp>(next))
    return shardPermutedO(merge, permute, hPer * vd);
  Operation *o = next;
  if (!o || !isa<MatmulOp, DequantMatmulOp>(o) || o->getOperand(0) != merge)
    return attention.emitError()
           << "has an output that does not reach the o projection "
              "directly (merged heads into a matmul); tensor parallelism "
              "splits that form";
  if (failed(reshapeTo(merge, withLastDim(merge.getType(), hPer * vd))) ||
      failed(splitMatmul(o, oSlices)))
    return failure();
  allReduceAfter(o);
  return success();
}

LogicalResult QLLMShardTensorParallelPass::shardPermutedO(ReshapeOp merge,
                                                          GatherOp permute,
                                                          int64_t perRank) {
  // An act-order o projection whose columns qllm-fold-act-order sorted by
  // group reads its input permuted: every rank needs all heads. The merged
  // heads are gathered from the ranks first; each rank then takes its
  // columns of the permuted order (whole groups) by its part of the
  // permutation, and multiplies them with its columns of the weight.
  Operation *o = permute->hasOneUse() ? *permute->getUsers().begin() : nullptr;
  auto indices = permute.getIndices().getDefiningOp<WeightOp>();
  auto whole = cast<RankedTensorType>(merge.getType());
  int64_t k = whole.getShape().back();
  if (!o || !isa<DequantMatmulOp>(o) || o->getOperand(0) != permute ||
      !indices ||
      static_cast<int64_t>(permute.getAxis()) != whole.getRank() - 1 ||
      !cast<RankedTensorType>(indices.getType()).getElementType().isInteger(
          32))
    return permute.emitError()
           << "permutes the merged heads for something other than an o "
              "projection of act-order weights; tensor parallelism splits "
              "that form";
  SmallVector<Slice> slices = evenParts(k, rowParallelAlignment(o), true);
  const int64_t per = slices.front().size;
  if (failed(reshapeTo(merge, withLastDim(whole, perRank))))
    return failure();
  OpBuilder builder(permute);
  auto heads = AllGatherOp::create(
      builder, collectiveLoc(permute, "all_gather"), whole, merge.getResult(),
      builder.getI64IntegerAttr(ranks));
  // Rank r's positions [r * per, ...) of the order (padding reads column
  // 0, against zero weight columns).
  FailureOr<WeightOp> part = slicedWeight(
      builder, indices, slices,
      RankedTensorType::get({per}, builder.getI32Type()),
      [&](ArrayRef<char> bytes, const Slice &s) {
        std::vector<char> out(static_cast<size_t>(s.size * 4), 0);
        std::memcpy(out.data(), bytes.data() + s.begin * 4,
                    static_cast<size_t>((s.end - s.begin) * 4));
        return out;
      });
  if (failed(part))
    return failure();
  permute.getDataMutable().assign(heads);
  permute.getIndicesMutable().assign(*part);
  permute.getResult().setType(withLastDim(whole, per));
  if (failed(splitMatmul(o, slices)))
    return failure();
  allReduceAfter(o);
  return success();
}

LogicalResult QLLMShardTensorParallelPass::shardFfn(SwiGluOp swiglu) {
  Operation *gate = swiglu.getGate().getDefiningOp();
  Operation *up = swiglu.getUp().getDefiningOp();
  Operation *down = swiglu->hasOneUse() ? *swiglu->getUsers().begin() : nullptr;
  if (!gate || !up || !isa<MatmulOp, DequantMatmulOp>(gate) ||
      !isa<MatmulOp, DequantMatmulOp>(up) || !gate->hasOneUse() ||
      !up->hasOneUse() || !down || !isa<MatmulOp, DequantMatmulOp>(down) ||
      down->getOperand(0) != swiglu.getResult())
    return swiglu.emitError() << "is not swiglu(gate(x), up(x)) read by a "
                                 "down projection alone; tensor parallelism "
                                 "splits that form";
  FailureOr<int64_t> units = weightRows(gate);
  if (failed(units))
    return failure();
  // Each rank takes the same number of hidden units, in whole groups of
  // the down projection's columns and whole blocks of 32 (its 8-bit
  // activations), so that no group or block is cut; the last ranks pad.
  const int64_t align = rowParallelAlignment(down);
  hidden = *units;
  SmallVector<Slice> rows = evenParts(*units, align, false);
  if (failed(splitMatmul(gate, rows)) || failed(splitMatmul(up, rows)) ||
      failed(splitMatmul(down, evenParts(*units, align, true))))
    return failure();
  swiglu.getResult().setType(
      withLastDim(swiglu.getType(), rows.front().size));
  allReduceAfter(down);
  return success();
}

LogicalResult QLLMShardTensorParallelPass::shardOutput(func::FuncOp func) {
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
    auto role = func.getResultAttrOfType<RoleAttr>(i, kRoleAttrName);
    if (!role || role.getRole() != InterfaceRole::logits)
      continue;
    Operation *head = value.getDefiningOp();
    if (!head || !isa<MatmulOp, DequantMatmulOp>(head) || !head->hasOneUse())
      return func.emitError() << "returns logits that are not the output "
                                 "projection's product alone";
    FailureOr<int64_t> vocab = weightRows(head);
    if (failed(vocab))
      return failure();
    Type whole = value.getType();
    if (failed(splitMatmul(head, evenParts(*vocab, 1, false))))
      return failure();
    OpBuilder builder(ret);
    auto gathered = AllGatherOp::create(
        builder, collectiveLoc(head, "all_gather"), whole, head->getResult(0),
        builder.getI64IntegerAttr(ranks));
    ret->setOperand(i, gathered);
  }
  return success();
}

void QLLMShardTensorParallelPass::runOnOperation() {
  ModuleOp module = getOperation();
  ranks = worldSize;
  if (ranks == 1)
    return;
  PlanAttr plan = getPlan(module);
  if (ranks < 1 || ranks > 4096)
    return (void)(module.emitError() << "world-size must be in [1, 4096], "
                                        "got "
                                     << ranks),
           signalPassFailure();
  if (!plan)
    return (void)(module.emitError()
                  << "tensor parallelism splits plan-ready entry points "
                     "(run it in quant-compile, after "
                     "qllm-specialize-entries and qllm-layout-weights)"),
           signalPassFailure();
  if (plan.getWorldSize() != 1)
    return (void)(module.emitError() << "the module is already split for "
                                     << plan.getWorldSize() << " ranks"),
           signalPassFailure();
  for (auto func : module.getOps<func::FuncOp>()) {
    if (!getEntry(func))
      continue;
    SmallVector<AttentionOp> attentions(func.getOps<AttentionOp>());
    SmallVector<SwiGluOp> ffns(func.getOps<SwiGluOp>());
    for (AttentionOp attention : attentions)
      if (failed(shardAttention(attention)))
        return signalPassFailure();
    for (SwiGluOp swiglu : ffns)
      if (failed(shardFfn(swiglu)))
        return signalPassFailure();
    if (failed(shardOutput(func)))
      return signalPassFailure();
    // The caches' new types in the signature.
    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
    func.setType(FunctionType::get(
        func.getContext(), func.getBody().front().getArgumentTypes(),
        ret.getOperandTypes()));
  }
  // Weights nothing reads any more (the unsplit originals).
  SmallVector<Operation *> dead;
  module.walk([&](Operation *op) {
    if (isa<WeightOp, QuantizedWeightOp, CastOp, ConstantOp>(op) &&
        op->use_empty())
      dead.push_back(op);
  });
  while (!dead.empty()) {
    Operation *op = dead.pop_back_val();
    SmallVector<Operation *> operands;
    for (Value v : op->getOperands())
      if (Operation *def = v.getDefiningOp())
        operands.push_back(def);
    op->erase();
    for (Operation *def : operands)
      if (def->use_empty() &&
          isa<WeightOp, QuantizedWeightOp, CastOp, ConstantOp>(def))
        dead.push_back(def);
  }
  OpBuilder builder(module.getContext());
  module->setAttr(kPlanAttrName,
                  PlanAttr::get(module.getContext(), plan.getBatch(),
                                plan.getMaxContext(), plan.getBos(),
                                plan.getEos(), plan.getTokenizer(), ranks));
  SmallVector<NamedAttribute> whole;
  if (heads)
    whole.push_back(builder.getNamedAttr("heads",
                                         builder.getI64IntegerAttr(heads)));
  if (kvHeads)
    whole.push_back(builder.getNamedAttr(
        "kv_heads", builder.getI64IntegerAttr(kvHeads)));
  if (hidden)
    whole.push_back(builder.getNamedAttr("hidden_dim",
                                         builder.getI64IntegerAttr(hidden)));
  module->setAttr(kUnshardedAttrName, builder.getDictionaryAttr(whole));
}

} // namespace
