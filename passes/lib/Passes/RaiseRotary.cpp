//===- RaiseRotary.cpp - rotary embeddings in primitive ops -> qllm.rotary ===//

#include "quant/Passes/Passes.h"

#include "PatternUtils.h"
#include "qllm/Analysis/ReferenceEvaluator.h"
#include "qllm/IR/QLLMPlanAttrs.h"

#include "mlir/IR/PatternMatch.h"

#include <cmath>
#include <map>
#include <tuple>

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMRAISEROTARYPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

/// The angles `positions[b, s] * base^(-2i/d)`, i < d/2.
struct Angles {
  Value positions;
  double base = 0;
  int64_t half = 0;
};

/// Recovers `base` from an inverse-frequency vector, checking every entry.
std::optional<double> fitBase(ArrayRef<double> inv) {
  int64_t half = static_cast<int64_t>(inv.size());
  double d = 2.0 * static_cast<double>(half);
  if (half == 0 || std::abs(inv[0] - 1.0) > 1e-6)
    return std::nullopt;
  double base = half == 1 ? 10000.0 : std::pow(inv[1], -d / 2.0);
  if (!(base > 1.0) || !std::isfinite(base))
    return std::nullopt;
  for (int64_t i = 0; i < half; ++i) {
    double expected = std::pow(base, -2.0 * static_cast<double>(i) / d);
    if (std::abs(inv[i] - expected) > 1e-5 * expected + 1e-9)
      return std::nullopt;
  }
  double rounded = std::round(base);
  return std::abs(base - rounded) < 1e-3 * base ? rounded : base;
}

/// The constant values of `v` (a constant subgraph), or nullopt.
std::optional<std::vector<double>> constantValues(Value v) {
  ReferenceEvaluator evaluator;
  FailureOr<RefTensor> tensor = evaluator.evaluate(v);
  if (failed(tensor))
    return std::nullopt;
  return tensor->data;
}

/// Integer positions [batch, seq] converted to float: cast(positions).
Value positionsOf(Value v) {
  auto cast = v.getDefiningOp<CastOp>();
  if (!cast)
    return {};
  auto type = dyn_cast<RankedTensorType>(cast.getInput().getType());
  if (!type || type.getRank() != 2 || !type.getElementType().isInteger())
    return {};
  return cast.getInput();
}

/// Matches f [batch, seq, d/2] = positions x inv_freq in the forms exporters
/// write: transpose(matmul(inv [.., d/2, 1], positions [b, 1, s])) (Hugging
/// Face) or unsqueeze(positions, -1) * inv.
std::optional<Angles> matchAngles(Value f) {
  auto type = dyn_cast<RankedTensorType>(f.getType());
  if (!type || type.getRank() != 3 || ShapedType::isDynamic(type.getDimSize(2)))
    return std::nullopt;
  Angles angles;
  angles.half = type.getDimSize(2);
  Value inv;
  if (auto transpose = f.getDefiningOp<TransposeOp>()) {
    auto matmul = transpose.getInput().getDefiningOp<MatmulOp>();
    if (!matmul || matmul.getTransposeRhs() ||
        transpose.getPermutation() != ArrayRef<int64_t>{0, 2, 1})
      return std::nullopt;
    auto unsqueeze = matmul.getRhs().getDefiningOp<UnsqueezeOp>();
    if (!unsqueeze || unsqueeze.getAxes() != ArrayRef<int64_t>{1})
      return std::nullopt;
    angles.positions = positionsOf(unsqueeze.getInput());
    inv = matmul.getLhs();
    if (auto expand = inv.getDefiningOp<ExpandOp>())
      inv = expand.getInput();
  } else if (auto mul = f.getDefiningOp<MulOp>()) {
    Value pos, other;
    if (!orderOperands(mul, pos, other, [](Value v) {
          auto u = v.getDefiningOp<UnsqueezeOp>();
          return u && u.getAxes() == ArrayRef<int64_t>{2} &&
                 positionsOf(u.getInput());
        }))
      return std::nullopt;
    angles.positions = positionsOf(pos.getDefiningOp<UnsqueezeOp>().getInput());
    inv = other;
  } else {
    return std::nullopt;
  }
  if (!angles.positions)
    return std::nullopt;
  std::optional<std::vector<double>> values = constantValues(inv);
  if (!values || static_cast<int64_t>(values->size()) != angles.half)
    return std::nullopt;
  std::optional<double> base = fitBase(*values);
  if (!base)
    return std::nullopt;
  angles.base = *base;
  return angles;
}

/// A cos or sin table: trig(f) or trig(concat(f, f)) (rotate-half), through
/// casts and an unsqueeze that inserts the head axis.
struct Trig {
  Angles angles;
  Value argument; // what cos/sin was applied to
  SmallVector<int64_t> unsqueezeAxes;
  int64_t tableRows = 0; // the table's rows when gathered from one
};

/// `v` without float casts and the unsqueeze that inserts the head axis
/// (its axes go to `axes`).
Value stripHeadUnsqueeze(Value v, SmallVectorImpl<int64_t> &axes) {
  v = stripFloatCasts(v);
  if (auto unsqueeze = v.getDefiningOp<UnsqueezeOp>()) {
    axes.assign(unsqueeze.getAxes().begin(), unsqueeze.getAxes().end());
    v = stripFloatCasts(unsqueeze.getInput());
  }
  return v;
}

template <typename TrigOp>
std::optional<Trig> matchTrig(Value v, bool duplicated) {
  Trig trig;
  v = stripHeadUnsqueeze(v, trig.unsqueezeAxes);
  auto op = v.getDefiningOp<TrigOp>();
  if (!op)
    return std::nullopt;
  trig.argument = op.getInput();
  Value f = trig.argument;
  if (duplicated) {
    auto concat = f.getDefiningOp<ConcatOp>();
    if (!concat || concat.getInputs().size() != 2 ||
        concat.getInputs()[0] != concat.getInputs()[1] || concat.getAxis() != 2)
      return std::nullopt;
    f = concat.getInputs()[0];
  }
  std::optional<Angles> angles = matchAngles(f);
  if (!angles)
    return std::nullopt;
  trig.angles = *angles;
  return trig;
}

/// The constant table behind views and prefix slices of it: `v` reshaped,
/// squeezed, unsqueezed, cast or sliced to a prefix (`table[:, :, :seq]`,
/// bounds constant or computed at run time) along an axis with only unit
/// dimensions before it. Each view keeps the rows in order, so the table's
/// rows (all dimensions but the last) are positions 0, 1, ...
Value tableRoot(Value v) {
  while (Operation *op = v.getDefiningOp()) {
    if (isa<SqueezeOp, UnsqueezeOp, ReshapeOp>(op) ||
        (isa<CastOp>(op) && isa<FloatType>(getElementTypeOrSelf(
                                op->getOperand(0).getType())))) {
      auto in = cast<RankedTensorType>(op->getOperand(0).getType());
      auto out = cast<RankedTensorType>(op->getResult(0).getType());
      if (in.getRank() == 0 || out.getRank() == 0 ||
          in.getShape().back() != out.getShape().back() ||
          ShapedType::isDynamic(in.getShape().back()))
        return {};
      v = op->getOperand(0);
      continue;
    }
    ArrayRef<int64_t> axes, steps;
    std::optional<int64_t> start;
    if (auto slice = dyn_cast<SliceOp>(op)) {
      axes = slice.getAxes();
      steps = slice.getSteps();
      if (axes.size() == 1)
        start = slice.getStarts()[0];
    } else if (auto slice = dyn_cast<DynamicSliceOp>(op)) {
      axes = slice.getAxes();
      steps = slice.getSteps();
      DenseIntElementsAttr starts;
      if (axes.size() == 1 && matchPattern(slice.getStarts(), m_Constant(&starts)))
        start = (*starts.getValues<APInt>().begin()).getSExtValue();
    } else {
      break;
    }
    auto in = cast<RankedTensorType>(op->getOperand(0).getType());
    if (!start || *start != 0 || steps[0] != 1 ||
        axes[0] == in.getRank() - 1 ||
        llvm::any_of(in.getShape().take_front(axes[0]),
                     [](int64_t d) { return d != 1; }))
      return {};
    v = op->getOperand(0);
  }
  auto type = dyn_cast<RankedTensorType>(v.getType());
  return type && type.hasStaticShape() && type.getRank() >= 2 ? v : Value();
}

/// Checks that `table` holds cos (or sin) of p * base^(-2i/d) at row p and
/// column i (column i mod d/2 when the halves repeat), and returns the base.
std::optional<double> fitTable(Value table, bool isCos, bool duplicated,
                               int64_t half, int64_t &rowsOut) {
  auto type = cast<RankedTensorType>(table.getType());
  int64_t width = type.getShape().back();
  if (width != (duplicated ? 2 * half : half) || half < 1)
    return std::nullopt;
  std::optional<std::vector<double>> values = constantValues(table);
  if (!values)
    return std::nullopt;
  int64_t rows = static_cast<int64_t>(values->size()) / width;
  if (rows < 2)
    return std::nullopt;
  double d = 2.0 * static_cast<double>(half);
  // Column 1 holds trig(p * inv_freq[1]), inv_freq[1] = base^(-2/d): row 1
  // estimates it, a row whose angle is near where acos (asin) is best
  // conditioned (pi/2 for cos, pi/4 for sin) refines it.
  double base = 10000.0;
  if (half > 1) {
    auto angleAt = [&](int64_t p) {
      double t = std::clamp((*values)[p * width + 1], -1.0, 1.0);
      return isCos ? std::acos(t) : std::asin(t);
    };
    double inv1 = angleAt(1);
    if (!(inv1 > 0.0) || inv1 >= 1.0)
      return std::nullopt;
    double target = isCos ? M_PI / 2 : M_PI / 4;
    int64_t p = std::clamp<int64_t>(
        static_cast<int64_t>(std::llround(target / inv1)), 1, rows - 1);
    inv1 = angleAt(p) / static_cast<double>(p);
    base = std::pow(inv1, -d / 2.0);
    double rounded = std::round(base);
    if (std::abs(base - rounded) < 1e-3 * base)
      base = rounded;
  }
  // Float32 tables are computed from float32 angles: the error grows with
  // the position (about 6e-8 relative, twice). fp16 tables round to 2^-11.
  bool f16 = type.getElementType().getIntOrFloatBitWidth() < 32;
  double floor = f16 ? 2e-3 : 2e-6;
  std::vector<double> inv(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    inv[i] = std::pow(base, -2.0 * static_cast<double>(i) / d);
  for (int64_t p = 0; p < rows; ++p)
    for (int64_t i = 0; i < width; ++i) {
      double angle = static_cast<double>(p) * inv[i % half];
      double expected = isCos ? std::cos(angle) : std::sin(angle);
      double tolerance = floor + 2.5e-7 * static_cast<double>(p);
      if (std::abs((*values)[p * width + i] - expected) > tolerance)
        return std::nullopt;
    }
  rowsOut = rows;
  return base;
}

/// Tables checked so far (a model has one or two per layer, and the
/// patterns ask about each several times), and the largest one's rows.
struct TableFits {
  std::map<std::tuple<const void *, bool, bool, int64_t>,
           std::optional<std::pair<double, int64_t>>>
      fits;
  int64_t maxRows = 0;
};

/// fitTable, remembered in `cache` (when given): the base and the rows.
std::optional<std::pair<double, int64_t>>
fitTableOnce(Value table, bool isCos, bool duplicated, int64_t half,
             TableFits *cache) {
  auto compute = [&]() -> std::optional<std::pair<double, int64_t>> {
    int64_t rows = 0;
    std::optional<double> base = fitTable(table, isCos, duplicated, half, rows);
    if (!base)
      return std::nullopt;
    return std::make_pair(*base, rows);
  };
  // Keyed by the table's data (attributes live as long as the context; an
  // op's address may be reused once it is erased): computed tables are not
  // remembered.
  Attribute data;
  if (auto weight = table.getDefiningOp<WeightOp>())
    data = weight.getValue();
  else if (auto constant = table.getDefiningOp<ConstantOp>())
    data = constant.getValue();
  if (!cache || !data)
    return compute();
  auto key = std::make_tuple(data.getAsOpaquePointer(), isCos, duplicated, half);
  auto it = cache->fits.find(key);
  if (it == cache->fits.end())
    it = cache->fits.emplace(key, compute()).first;
  return it->second;
}

/// A cos or sin table gathered by positions: gather(table[:seq], positions)
/// as Hugging Face's rotary cache (transformers 4.3x) writes it, through
/// casts and an unsqueeze that inserts the head axis. The Trig's argument is
/// the positions, shared by the cos and the sin gather. Fits are remembered
/// in `cache` when given.
std::optional<Trig> matchTableTrig(Value v, bool isCos, bool duplicated,
                                   TableFits *cache) {
  Trig trig;
  v = stripHeadUnsqueeze(v, trig.unsqueezeAxes);
  auto gather = v.getDefiningOp<GatherOp>();
  if (!gather || gather.getAxis() != 0)
    return std::nullopt;
  auto positions = dyn_cast<RankedTensorType>(gather.getIndices().getType());
  auto type = cast<RankedTensorType>(gather.getType());
  if (!positions || positions.getRank() != 2 ||
      !positions.getElementType().isInteger() || type.getRank() != 3 ||
      ShapedType::isDynamic(type.getDimSize(2)))
    return std::nullopt;
  int64_t width = type.getDimSize(2);
  int64_t half = duplicated ? width / 2 : width;
  if (duplicated && width % 2)
    return std::nullopt;
  Value table = tableRoot(gather.getData());
  if (!table)
    return std::nullopt;
  std::optional<std::pair<double, int64_t>> fit =
      fitTableOnce(table, isCos, duplicated, half, cache);
  if (!fit)
    return std::nullopt;
  trig.tableRows = fit->second;
  trig.argument = gather.getIndices();
  trig.angles.positions = gather.getIndices();
  trig.angles.base = fit->first;
  trig.angles.half = half;
  return trig;
}

/// cos (sin) in either form: of computed angles, or gathered from a table.
std::optional<Trig> matchCos(Value v, bool duplicated, TableFits *cache) {
  if (std::optional<Trig> trig = matchTrig<CosOp>(v, duplicated))
    return trig;
  return matchTableTrig(v, /*isCos=*/true, duplicated, cache);
}
std::optional<Trig> matchSin(Value v, bool duplicated, TableFits *cache) {
  if (std::optional<Trig> trig = matchTrig<SinOp>(v, duplicated))
    return trig;
  return matchTableTrig(v, /*isCos=*/false, duplicated, cache);
}

/// If `v` = mul(a, b) in either order with pred(a), binds a and b.
template <typename Pred>
bool matchMul(Value v, Value &a, Value &b, Pred pred) {
  auto mul = v.getDefiningOp<MulOp>();
  return mul && orderOperands(mul, a, b, pred);
}

bool isSlice(Value v, Value of, int64_t axis, int64_t start, int64_t minEnd,
             int64_t maxEnd) {
  auto slice = v.getDefiningOp<SliceOp>();
  return slice && slice.getInput() == of &&
         slice.getAxes() == ArrayRef<int64_t>{axis} &&
         slice.getStarts() == ArrayRef<int64_t>{start} &&
         slice.getSteps() == ArrayRef<int64_t>{1} &&
         slice.getEnds()[0] >= minEnd && slice.getEnds()[0] <= maxEnd;
}

Value createRotary(PatternRewriter &rewriter, Location loc, Value x,
                   const Angles &angles, RotaryConvention convention) {
  return RotaryOp::create(rewriter, loc, x.getType(), convention, x,
                          angles.positions, Value(), Value(),
                          rewriter.getF32FloatAttr(static_cast<float>(angles.base)),
                          IntegerAttr());
}

/// x * cos + concat(-x[h:], x[:h]) * sin over the last axis, with cos/sin of
/// concat(f, f) unsqueezed at the head axis (1: [b, h, s, d]; 2: [b, s, h, d]).
struct RaiseRotateHalf : OpRewritePattern<AddOp> {
  /// `tables` remembers the cos/sin tables checked and the largest rows.
  RaiseRotateHalf(MLIRContext *ctx, TableFits *tables)
      : OpRewritePattern(ctx), tables(tables) {}
  TableFits *tables;

  LogicalResult matchAndRewrite(AddOp op,
                                PatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op.getType());
    if (type.getRank() != 4 || ShapedType::isDynamic(type.getDimSize(3)))
      return failure();
    int64_t d = type.getDimSize(3), h = d / 2;
    for (int side = 0; side < 2; ++side) {
      Value cosTerm = op->getOperand(side), sinTerm = op->getOperand(1 - side);
      Value cos, x, sin, rotated;
      if (!matchMul(cosTerm, cos, x, [this](Value v) {
            return matchCos(v, true, tables).has_value();
          }) ||
          !matchMul(sinTerm, sin, rotated, [this](Value v) {
            return matchSin(v, true, tables).has_value();
          }))
        continue;
      auto concat = rotated.getDefiningOp<ConcatOp>();
      if (x.getType() != type || !concat || concat.getInputs().size() != 2 ||
          concat.getAxis() != 3)
        continue;
      auto neg = concat.getInputs()[0].getDefiningOp<NegOp>();
      if (!neg || !isSlice(neg.getInput(), x, 3, h, d, INT64_MAX) ||
          !isSlice(concat.getInputs()[1], x, 3, 0, h, h))
        continue;
      Trig c = *matchCos(cos, true, tables), s = *matchSin(sin, true, tables);
      if (c.argument != s.argument || c.unsqueezeAxes != s.unsqueezeAxes ||
          c.unsqueezeAxes.size() != 1 || 2 * c.angles.half != d ||
          c.angles.base != s.angles.base)
        continue;
      tables->maxRows = std::max({tables->maxRows, c.tableRows, s.tableRows});
      Location loc = op.getLoc();
      if (c.unsqueezeAxes[0] == 2) {
        rewriter.replaceOp(op, createRotary(rewriter, loc, x, c.angles,
                                            RotaryConvention::rotate_half));
        return success();
      }
      if (c.unsqueezeAxes[0] != 1)
        continue;
      // [b, h, s, d]: rotary works on [b, s, h, d].
      auto swap = rewriter.getDenseI64ArrayAttr({0, 2, 1, 3});
      auto bshd = RankedTensorType::get(
          {type.getDimSize(0), type.getDimSize(2), type.getDimSize(1), d},
          type.getElementType());
      Value xt = TransposeOp::create(rewriter, loc, bshd, x, swap);
      Value r = createRotary(rewriter, loc, xt, c.angles,
                             RotaryConvention::rotate_half);
      rewriter.replaceOpWithNewOp<TransposeOp>(op, type, r, swap);
      return success();
    }
    return rewriter.notifyMatchFailure(op, "not a rotate-half rotary");
  }
};

/// Meta's interleaved form on x [b, s, h, d]: view as [.., d/2, 2] pairs,
/// (x0 c - x1 s, x0 s + x1 c), concatenated on the pair axis and reshaped
/// back; cos/sin of f unsqueezed to [b, s, 1, d/2, 1].
struct RaiseInterleaved : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op.getType());
    auto concat = op.getInput().getDefiningOp<ConcatOp>();
    if (type.getRank() != 4 || !concat || concat.getInputs().size() != 2 ||
        concat.getAxis() != 4)
      return failure();
    auto sub = concat.getInputs()[0].getDefiningOp<SubOp>();
    auto add = concat.getInputs()[1].getDefiningOp<AddOp>();
    if (!sub || !add)
      return failure();
    // Find x0, x1 as the two slices of one [.., d/2, 2] view.
    auto isPair = [](Value v, int64_t index) {
      auto slice = v.getDefiningOp<SliceOp>();
      return slice && slice.getAxes() == ArrayRef<int64_t>{4} &&
             slice.getStarts() == ArrayRef<int64_t>{index} &&
             slice.getEnds() == ArrayRef<int64_t>{index + 1} &&
             slice.getSteps() == ArrayRef<int64_t>{1};
    };
    Value x0c, x0s, x1c, x1s, c0, s0, c1, s1;
    auto isCos = [](Value v) { return matchTrig<CosOp>(v, false).has_value(); };
    auto isSin = [](Value v) { return matchTrig<SinOp>(v, false).has_value(); };
    // sub = x0 * c - x1 * s; add = x0 * s + x1 * c (either order).
    if (!matchMul(sub.getLhs(), c0, x0c, isCos) ||
        !matchMul(sub.getRhs(), s0, x1s, isSin))
      return failure();
    Value addTerms[2] = {add.getLhs(), add.getRhs()};
    bool found = false;
    for (int side = 0; side < 2 && !found; ++side)
      found = matchMul(addTerms[side], s1, x0s, isSin) &&
              matchMul(addTerms[1 - side], c1, x1c, isCos);
    if (!found || x0c != x0s || x1c != x1s || !isPair(x0c, 0) ||
        !isPair(x1c, 1))
      return failure();
    Value view = x0c.getDefiningOp<SliceOp>().getInput();
    if (x1c.getDefiningOp<SliceOp>().getInput() != view)
      return failure();
    // The [b, s, h, d/2, 2] view of x = [b, s, h, d] (or of the [b, s, h*d]
    // x came from, once canonicalization merged the reshapes).
    auto reshape = view.getDefiningOp<ReshapeOp>();
    if (!reshape)
      return failure();
    Value x = reshape.getInput();
    if (x.getType() != type) {
      DenseIntElementsAttr viewShape;
      if (!reshape.getShape() ||
          !matchPattern(reshape.getShape(), m_Constant(&viewShape)) ||
          viewShape.getNumElements() != 5)
        return failure();
      SmallVector<int64_t> shape;
      for (const APInt &v : viewShape.getValues<APInt>())
        shape.push_back(v.getSExtValue());
      int64_t heads = type.getDimSize(2), d = type.getDimSize(3);
      if (shape[2] != heads || shape[3] * shape[4] != d || shape[4] != 2 ||
          shape[0] < 0 || shape[1] < 0)
        return failure();
      auto shapeType = RankedTensorType::get({4}, rewriter.getI64Type());
      Value newShape = ConstantOp::create(
          rewriter, op.getLoc(),
          DenseIntElementsAttr::get(
              shapeType, ArrayRef<int64_t>{shape[0], shape[1], heads, d}));
      x = ReshapeOp::create(rewriter, op.getLoc(), type, x, newShape);
    }
    Trig c = *matchTrig<CosOp>(c0, false), s = *matchTrig<SinOp>(s0, false);
    if (c.argument != s.argument || c.argument !=
            matchTrig<CosOp>(c1, false)->argument ||
        c.argument != matchTrig<SinOp>(s1, false)->argument ||
        c.unsqueezeAxes != ArrayRef<int64_t>{2, 4} ||
        2 * c.angles.half != type.getDimSize(3))
      return failure();
    rewriter.replaceOp(op, createRotary(rewriter, op.getLoc(), x, c.angles,
                                        RotaryConvention::interleaved));
    return success();
  }
};

struct QLLMRaiseRotaryPass
    : qllm::impl::QLLMRaiseRotaryPassBase<QLLMRaiseRotaryPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    TableFits tables;
    patterns.add<RaiseRotateHalf>(&getContext(), &tables);
    patterns.add<RaiseInterleaved>(&getContext());
    if (failed(applyRaisingPatterns(getOperation(), std::move(patterns))))
      return signalPassFailure();
    // A raised table's rows are the positions the model was exported for
    // (Hugging Face's max_position_embeddings): the plan's default context,
    // unless the model's metadata names one.
    auto module = dyn_cast<ModuleOp>(getOperation());
    if (!module)
      module = getOperation()->getParentOfType<ModuleOp>();
    int64_t tableRows = tables.maxRows;
    if (tableRows > 0 && module) {
      Builder builder(&getContext());
      NamedAttrList metadata;
      if (auto dict = module->getAttrOfType<DictionaryAttr>(kMetadataAttrName))
        metadata.append(dict.getValue());
      if (!metadata.get("max_seq_len")) {
        metadata.set("max_seq_len",
                     builder.getStringAttr(std::to_string(tableRows)));
        module->setAttr(kMetadataAttrName,
                        metadata.getDictionary(&getContext()));
      }
    }
  }
};

} // namespace
