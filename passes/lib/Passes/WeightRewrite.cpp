//===- WeightRewrite.cpp - rewriting matmul weights as quantized
//-----------===//

#include "quant/Passes/WeightRewrite.h"

#include "qllm/IR/QLLMPlanAttrs.h"
#include "qllm/IR/QLLMTypes.h"
#include "qllm/IR/Weightless.h"
#include "qrt/core/Half.h"
#include "quant/Plan/PlanInfo.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Regex.h"

#include <cmath>
#include <cstring>
#include <map>

using namespace mlir;
using namespace mlir::qllm;

namespace {

/// The weight op under `value` (directly or through a storage cast), or null.
WeightOp weightUnder(Value value) {
  return cast_or_null<WeightOp>(weightOf(value));
}

/// Adds to `out` the matmuls that compute `func`'s logits result (through
/// reshapes and casts): the output projection.
void collectOutputProjections(func::FuncOp func,
                              llvm::SmallPtrSetImpl<Operation *> &out) {
  auto ret = dyn_cast<func::ReturnOp>(func.getBody().front().getTerminator());
  if (!ret)
    return;
  for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
    bool logits = false;
    if (auto name = func.getResultAttrOfType<StringAttr>(i, kNameAttrName))
      logits |= name.getValue() == "logits";
    if (auto role = func.getResultAttrOfType<RoleAttr>(i, kRoleAttrName))
      logits |= role.getRole() == InterfaceRole::logits;
    if (!logits)
      continue;
    Value v = value;
    while (Operation *def = v.getDefiningOp()) {
      if (isa<MatmulOp>(def)) {
        out.insert(def);
        break;
      }
      if (!isa<ReshapeOp, CastOp>(def))
        break;
      v = def->getOperand(0);
    }
  }
}

/// A weight's values as an f32 [N, K] matrix (transposed from [K, N] when
/// `transpose`).
std::vector<float> readWeightMatrix(WeightOp weight, bool transpose) {
  auto type = cast<RankedTensorType>(weight.getType());
  auto resource = cast<DenseResourceElementsAttr>(weight.getValue());
  const char *bytes = resource.getRawHandle().getBlob()->getData().data();
  Type element = type.getElementType();
  int64_t rows = type.getDimSize(0), cols = type.getDimSize(1);
  auto load = [&](int64_t i) -> float {
    if (element.isF32()) {
      float v;
      std::memcpy(&v, bytes + 4 * i, 4);
      return v;
    }
    uint16_t h;
    std::memcpy(&h, bytes + 2 * i, 2);
    return element.isF16() ? ::qrt::halfToFloat(h) : ::qrt::bfloat16ToFloat(h);
  };
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      out[transpose ? c * rows + r : r * cols + c] = load(r * cols + c);
  return out;
}

/// The blob of a quantized component: `bytes`, or in a weightless module
/// zero bytes of its size that nothing computes or touches.
AsmResourceBlob componentBlob(const ::qrt::Component &component,
                              ArrayRef<uint8_t> bytes, bool weightless) {
  size_t alignment = ::qrt::elementKindBytes(component.element);
  if (weightless)
    return zeroBlob(component.bytes(), alignment);
  return HeapAsmResourceBlob::allocateAndCopyWithAlign(
      ArrayRef<char>(reinterpret_cast<const char *>(bytes.data()),
                     bytes.size()),
      alignment);
}

} // namespace

std::vector<float> WeightJob::readMatrix() const {
  return readWeightMatrix(weight, transpose);
}

FailureOr<QuantSchemeAttrInterface>
mlir::qllm::buildQuantScheme(ModuleOp module, const QuantizeOptions &o,
                             StringRef pass, bool actOrder) {
  MLIRContext *ctx = module.getContext();
  auto fail = [&](const Twine &message) -> FailureOr<QuantSchemeAttrInterface> {
    mlir::emitError(module.getLoc()) << pass << ": " << message;
    return failure();
  };
  auto floatType = [&](ScaleTypeChoice choice, FloatType fallback) {
    switch (choice) {
    case ScaleTypeChoice::f32:
      return FloatType(Float32Type::get(ctx));
    case ScaleTypeChoice::f16:
      return FloatType(Float16Type::get(ctx));
    case ScaleTypeChoice::bf16:
      return FloatType(BFloat16Type::get(ctx));
    case ScaleTypeChoice::byMethod:
      break;
    }
    return fallback;
  };
  // getChecked reports a bad scheme at the module.
  auto emitAtModule = [&] {
    return mlir::emitError(module.getLoc()) << pass << ": ";
  };
  if (!isQuantized(o.method))
    return fail(
        "method=" + nameOf(o.method) +
        " stores floats; quantizing methods are int8, int4, int, nf4, fp4, "
        "gptq, llm-int8");
  if (o.method != WeightMethod::llmInt8 &&
      o.outlierThreshold != QuantizeOptions().outlierThreshold)
    return fail("outlier-threshold applies to method=llm-int8 only");
  if (o.method == WeightMethod::nf4 || o.method == WeightMethod::fp4) {
    StringRef name = nameOf(o.method);
    if (o.bits != 0 && o.bits != 4)
      return fail(name + " has 4-bit codes, got bits=" + Twine(o.bits));
    if (o.symmetric != SymmetryChoice::byMethod)
      return fail("symmetric has no meaning for " + name);
    if (o.clipSearch)
      return fail("clip-search applies to integer schemes, not " + name);
    int64_t block = o.groupSize == 0 ? 64 : o.groupSize;
    if (block <= 0)
      return fail(name + " needs a positive block size (group-size), got " +
                  Twine(block));
    FloatType scale = floatType(o.scaleType, Float32Type::get(ctx));
    if (o.doubleQuant && !scale.isF32())
      return fail("with double-quant the absmax is stored as 8-bit codes; "
                  "scale-type must stay f32");
    int64_t dqBlock = o.doubleQuant
                          ? o.doubleQuantBlockSize
                          : ::qrt::Float4Scheme().doubleQuantBlockSize;
    Attribute attr =
        o.method == WeightMethod::fp4
            ? Attribute(FP4Attr::getChecked(emitAtModule, ctx, block,
                                            o.doubleQuant, dqBlock, scale))
            : Attribute(NF4Attr::getChecked(emitAtModule, ctx, block,
                                            o.doubleQuant, dqBlock, scale));
    if (!attr)
      return failure();
    return cast<QuantSchemeAttrInterface>(attr);
  }
  if (o.method == WeightMethod::llmInt8) {
    // bitsandbytes' Int8Params: 8-bit codes per output row, symmetric,
    // absmax / 127 as the scale.
    if ((o.bits != 0 && o.bits != 8) ||
        (o.groupSize != 0 && o.groupSize != ::qrt::kPerChannel) ||
        o.symmetric == SymmetryChoice::asymmetric || o.clipSearch ||
        o.doubleQuant)
      return fail("llm-int8 has a fixed weight scheme (8-bit codes per "
                  "channel, symmetric): bits, group-size, symmetric, "
                  "clip-search and double-quant do not apply");
    if (!(o.outlierThreshold >= 0.0) || !std::isfinite(o.outlierThreshold))
      return fail("outlier-threshold must be a finite number >= 0, got " +
                  std::to_string(o.outlierThreshold));
    auto attr = IntQuantAttr::getChecked(
        emitAtModule, ctx, 8u, ::qrt::kPerChannel, /*symmetric=*/true,
        /*act_order=*/false,
        floatType(o.scaleType, FloatType(Float32Type::get(ctx))));
    if (!attr)
      return failure();
    return cast<QuantSchemeAttrInterface>(attr);
  }
  bool gptq = o.method == WeightMethod::gptq;
  int codeBits = o.method == WeightMethod::int8   ? 8
                 : o.method == WeightMethod::int4 ? 4
                 : gptq && o.bits == 0            ? 4
                                                  : o.bits;
  if (o.method != WeightMethod::intN && !gptq && o.bits != 0 &&
      o.bits != codeBits)
    return fail("method=" + nameOf(o.method) + " has " + Twine(codeBits) +
                "-bit codes, got bits=" + Twine(o.bits) + " (use method=int)");
  if (codeBits != 2 && codeBits != 3 && codeBits != 4 && codeBits != 8)
    return fail("method=" + nameOf(o.method) +
                " needs bits=2, 3, 4 or 8, got " + Twine(codeBits));
  if (o.doubleQuant)
    return fail("double-quant applies to nf4 and fp4 only");
  bool int8 = o.method == WeightMethod::int8;
  int64_t group = o.groupSize != 0 ? o.groupSize
                  : int8           ? ::qrt::kPerChannel
                                   : 128;
  if (group <= 0 && group != ::qrt::kPerChannel)
    return fail("group-size must be positive or -1 (per channel), got " +
                Twine(group));
  bool sym = o.symmetric == SymmetryChoice::byMethod
                 ? int8
                 : o.symmetric == SymmetryChoice::symmetric;
  FloatType scale =
      floatType(o.scaleType, int8 ? FloatType(Float32Type::get(ctx))
                                  : FloatType(Float16Type::get(ctx)));
  auto attr = IntQuantAttr::getChecked(emitAtModule, ctx,
                                       static_cast<unsigned>(codeBits), group,
                                       sym, actOrder, scale);
  if (!attr)
    return failure();
  return cast<QuantSchemeAttrInterface>(attr);
}

LogicalResult WeightRewriter::collect(ModuleOp module, const QuantizeOptions &o,
                                      StringRef pass) {
  module_ = module;
  jobs_.clear();
  rewrites_.clear();
  SmallVector<llvm::Regex> excluded;
  for (const std::string &pattern : o.exclude) {
    llvm::Regex regex(pattern);
    std::string problem;
    if (!regex.isValid(problem))
      return mlir::emitError(module.getLoc())
             << pass << ": exclude pattern '" << pattern
             << "' is not a valid regex: " << problem;
    excluded.push_back(std::move(regex));
  }
  std::vector<WeightJob> &jobs = jobs_;
  auto &rewrites = rewrites_;
  {
    llvm::SmallPtrSet<Operation *, 4> outputs;
    if (!o.quantizeOutput)
      for (auto func : module.getOps<func::FuncOp>())
        collectOutputProjections(func, outputs);
    std::map<std::pair<const void *, bool>, size_t> jobOf;
    module.walk([&](MatmulOp matmul) {
      WeightOp weight = weightUnder(matmul.getRhs());
      if (!weight || !resourceOf(weight) || outputs.contains(matmul))
        return;
      auto type = cast<RankedTensorType>(weight.getType());
      if (type.getRank() != 2 ||
          !isa<Float32Type, Float16Type, BFloat16Type>(type.getElementType()))
        return;
      if (llvm::any_of(excluded, [&](const llvm::Regex &regex) {
            return regex.match(weight.getName());
          }))
        return;
      bool transpose = !matmul.getTransposeRhs();
      auto [it, inserted] =
          jobOf.try_emplace({resourceOf(weight), transpose}, jobs.size());
      if (inserted) {
        WeightJob job;
        job.weight = weight;
        job.name = weight.getName().str();
        job.floatBits = type.getElementTypeBitWidth();
        job.transpose = transpose;
        job.rows = type.getDimSize(transpose ? 1 : 0);
        job.cols = type.getDimSize(transpose ? 0 : 1);
        jobs.push_back(std::move(job));
      }
      rewrites.push_back({matmul, it->second});
    });
  }
  return success();
}

LogicalResult WeightRewriter::reportErrors() {
  bool failed = false;
  for (WeightJob &job : jobs_)
    if (!job.error.empty()) {
      failed = true;
      job.weight.emitError()
          << "cannot quantize weight '" << job.weight.getName() << "' ("
          << job.rows << "x" << job.cols << " as [N, K]): " << job.error;
    }
  return failure(failed);
}

namespace {

/// Component blobs, shared by every function that reads the weight.
void createComponents(ModuleOp module, std::vector<WeightJob> &jobs) {
  MLIRContext *ctx = module.getContext();
  bool weightless = isWeightless(module);
  for (WeightJob &job : jobs) {
    for (auto [component, bytes] :
         llvm::zip_equal(job.result.layout.components, job.result.components)) {
      auto type = RankedTensorType::get(
          component.shape, componentElementType(ctx, component.element));
      std::string key = job.weight.getName().str() + "." +
                        ::qrt::componentRoleName(component.role);
      job.components.push_back(DenseResourceElementsAttr::get(
          type, key, componentBlob(component, bytes, weightless)));
      std::vector<uint8_t>().swap(bytes);
    }
  }
}

/// The quantized_weight of `job` and its dequantize to `element`, after
/// `original`.
Value assemble(OpBuilder &builder, QuantSchemeAttrInterface scheme,
               WeightJob &job, WeightOp original, Type element) {
  builder.setInsertionPointAfter(original);
  Location loc = original.getLoc();
  SmallVector<Value> parts;
  for (auto [component, attr] :
       llvm::zip_equal(job.result.layout.components, job.components)) {
    std::string name = original.getName().str() + "." +
                       ::qrt::componentRoleName(component.role);
    parts.push_back(WeightOp::create(builder, loc, name, attr));
  }
  auto part = [&](::qrt::ComponentRole role) -> Value {
    for (auto [i, component] : llvm::enumerate(job.result.layout.components))
      if (component.role == role)
        return parts[i];
    return Value();
  };
  auto qtype =
      QTensorType::get(builder.getContext(), {job.rows, job.cols}, scheme);
  Value q = QuantizedWeightOp::create(
      builder, loc, qtype, original.getName(), part(::qrt::ComponentRole::Data),
      part(::qrt::ComponentRole::Scales),
      part(::qrt::ComponentRole::ZeroPoints),
      part(::qrt::ComponentRole::GroupIndex),
      part(::qrt::ComponentRole::DoubleQuantScales),
      part(::qrt::ComponentRole::DoubleQuantOffset));
  return DequantizeOp::create(
      builder, loc, RankedTensorType::get({job.rows, job.cols}, element), q);
}

/// One quantized_weight + dequantize per job and function, right after the
/// original weight op (which dominates all its readers), read by each
/// matmul of the job.
void rewrite(QuantSchemeAttrInterface scheme, std::vector<WeightJob> &jobs,
             ArrayRef<std::pair<MatmulOp, size_t>> rewrites,
             std::optional<float> outlierThreshold) {
  std::map<std::tuple<Operation *, size_t, const void *>, Value> dequantized;
  OpBuilder builder(scheme.getContext());
  for (auto [matmul, index] : rewrites) {
    WeightJob &job = jobs[index];
    auto func = matmul->getParentOfType<func::FuncOp>();
    // The dequantized weight has the element type the matmul computes in
    // (f32 after qllm-promote-to-f32; f16 in an f16 graph).
    Type element =
        cast<RankedTensorType>(matmul.getRhs().getType()).getElementType();
    Value &value =
        dequantized[{func.getOperation(), index, element.getAsOpaquePointer()}];
    if (!value)
      value =
          assemble(builder, scheme, job, weightUnder(matmul.getRhs()), element);
    if (!outlierThreshold) {
      matmul.getRhsMutable().assign(value);
      matmul.setTransposeRhs(true);
      continue;
    }
    builder.setInsertionPoint(matmul);
    auto fused = DequantMatmulOp::create(
        builder, matmul.getLoc(), matmul.getType(), matmul.getLhs(),
        value.getDefiningOp<DequantizeOp>().getInput(),
        builder.getF32FloatAttr(*outlierThreshold));
    matmul.replaceAllUsesWith(fused.getResult());
    matmul.erase();
  }
  // With outlier thresholds, the dequantized copies are read by nothing.
  for (auto &entry : dequantized)
    if (entry.second.use_empty())
      entry.second.getDefiningOp()->erase();
}

/// Frees the float originals nothing reads any more: their storage casts,
/// then the weights and their blobs.
void freeOriginals(ModuleOp module, std::vector<WeightJob> &jobs) {
  llvm::SetVector<const void *> candidates;
  for (WeightJob &job : jobs)
    candidates.insert(resourceOf(job.weight));
  for (bool weights : {false, true}) {
    SmallVector<Operation *> dead;
    module.walk([&](Operation *op) {
      if (weights ? isa<WeightOp>(op)
                  : (isa<CastOp>(op) &&
                     op->getOperand(0).getDefiningOp<WeightOp>()))
        if (op->use_empty() &&
            (!weights || candidates.contains(resourceOf(cast<WeightOp>(op)))))
          dead.push_back(op);
    });
    SmallVector<DenseResourceElementsAttr> freed;
    for (Operation *op : dead) {
      if (weights)
        freed.push_back(
            cast<DenseResourceElementsAttr>(cast<WeightOp>(op).getValue()));
      op->erase();
    }
    if (weights)
      freeUnheldBlobs(module, freed);
  }
}

} // namespace

const void *mlir::qllm::resourceOf(WeightOp weight) {
  auto resource = dyn_cast<DenseResourceElementsAttr>(weight.getValue());
  return resource ? resource.getRawHandle().getResource() : nullptr;
}

void mlir::qllm::freeUnheldBlobs(ModuleOp module,
                                 ArrayRef<DenseResourceElementsAttr> dropped) {
  llvm::DenseSet<const void *> held;
  module.walk([&](WeightOp op) { held.insert(resourceOf(op)); });
  for (DenseResourceElementsAttr attr : dropped)
    if (!held.contains(attr.getRawHandle().getResource()))
      attr.getRawHandle().getResource()->setBlob(AsmResourceBlob());
}

void WeightRewriter::apply(QuantSchemeAttrInterface scheme,
                           std::optional<float> outlierThreshold) {
  createComponents(module_, jobs_);
  rewrite(scheme, jobs_, rewrites_, outlierThreshold);
  freeOriginals(module_, jobs_);
}

void WeightRewriter::printReport(llvm::raw_ostream &os, StringRef method) {
  {
    MutableArrayRef<WeightJob> jobs = jobs_;
    os << "quantized weights (" << method << "):\n";
    os << llvm::formatv("{0,-40} {1,12} {2,14} {3,14} {4,8}\n", "weight",
                        "[N, K]", "bytes before", "bytes after", "bits/w");
    uint64_t before = 0, after = 0, elements = 0;
    for (WeightJob &job : jobs) {
      uint64_t count = static_cast<uint64_t>(job.rows * job.cols);
      uint64_t in = count * job.floatBits / 8;
      uint64_t out = job.result.layout.totalBytes();
      before += in;
      after += out;
      elements += count;
      os << llvm::formatv("{0,-40} {1,12} {2,14} {3,14} {4,8:F3}\n", job.name,
                          llvm::formatv("{0}x{1}", job.rows, job.cols), in, out,
                          job.result.layout.bitsPerWeight());
    }
    os << llvm::formatv(
        "total: {0} weights, {1} elements, {2} bytes before, {3} bytes after, "
        "{4:F3} bits/weight\n",
        jobs.size(), elements, before, after,
        elements ? 8.0 * double(after) / double(elements) : 0.0);
  }
}
