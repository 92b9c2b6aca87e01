//===- QuantizeWeights.cpp - round-to-nearest weight quantization ---------===//
//
// Finds the matmul weights to quantize, quantizes each distinct one once (in
// parallel: pure computation on the blobs), then rewrites the IR and frees
// the float originals nothing reads any more.
//
//===----------------------------------------------------------------------===//

#include "quant/Passes/Passes.h"

#include "qllm/IR/QLLMAttrs.h"
#include "qllm/IR/QLLMOps.h"
#include "qllm/IR/QLLMTypes.h"
#include "qllm/IR/Weightless.h"
#include "quant/Plan/PlanInfo.h"

#include "qrt/core/Half.h"
#include "qrt/core/Quantize.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Threading.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Regex.h"

#include <cstring>
#include <map>

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMQUANTIZEWEIGHTSPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

/// The weight op under `value` (directly or through a storage cast), or null.
WeightOp weightUnder(Value value) {
  return cast_or_null<WeightOp>(weightOf(value));
}

const void *resourceOf(WeightOp weight) {
  auto resource = dyn_cast<DenseResourceElementsAttr>(weight.getValue());
  return resource ? resource.getRawHandle().getResource() : nullptr;
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
    for (StringRef attr : {"qllm.name", "qllm.role"})
      if (auto name = func.getResultAttrOfType<StringAttr>(i, attr))
        logits |= name.getValue() == "logits";
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
std::vector<float> readMatrix(WeightOp weight, bool transpose) {
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

/// One distinct weight to quantize (a blob in one orientation).
struct Job {
  WeightOp weight; // the first weight op reading the blob
  bool transpose = false;
  int64_t rows = 0, cols = 0;
  ::qrt::QuantizedWeight result;
  std::string error;
  SmallVector<DenseResourceElementsAttr> components; // created from result
};

struct QLLMQuantizeWeightsPass
    : qllm::impl::QLLMQuantizeWeightsPassBase<QLLMQuantizeWeightsPass> {
  using Base::Base;

  /// The scheme attribute the options describe, or failure with an error.
  FailureOr<QuantSchemeAttrInterface> buildScheme(ModuleOp module) {
    MLIRContext *ctx = &getContext();
    auto fail = [&](const Twine &message) -> InFlightDiagnostic {
      InFlightDiagnostic diag = mlir::emitError(module.getLoc());
      diag << "qllm-quantize-weights: " << message;
      return diag;
    };
    auto floatType = [&](StringRef name, FloatType fallback) -> FloatType {
      if (name == "default")
        return fallback;
      if (name == "f32")
        return Float32Type::get(ctx);
      if (name == "f16")
        return Float16Type::get(ctx);
      if (name == "bf16")
        return BFloat16Type::get(ctx);
      return {};
    };
    if (symmetric != "default" && symmetric != "true" && symmetric != "false") {
      fail("symmetric must be true, false or default, got '" + symmetric + "'");
      return failure();
    }
    if (method == "nf4") {
      if (bits != 0 && bits != 4) {
        fail("nf4 has 4-bit codes, got bits=" + Twine(bits));
        return failure();
      }
      if (symmetric != "default") {
        fail("symmetric has no meaning for nf4");
        return failure();
      }
      int64_t block = groupSize == 0 ? 64 : groupSize;
      if (block <= 0) {
        fail("nf4 needs a positive block size (group-size), got " +
             Twine(block));
        return failure();
      }
      FloatType scale = floatType(scaleType, Float32Type::get(ctx));
      if (!scale) {
        fail("scale-type must be f32, f16, bf16 or default, got '" +
             scaleType + "'");
        return failure();
      }
      if (doubleQuant && !scale.isF32()) {
        fail("with double-quant the absmax is stored as 8-bit codes; "
             "scale-type must stay f32");
        return failure();
      }
      auto attr = NF4Attr::getChecked(
          [&] { return fail(""); }, ctx, block, bool(doubleQuant),
          doubleQuant ? doubleQuantBlockSize.getValue()
                      : ::qrt::NF4Scheme().doubleQuantBlockSize,
          scale);
      if (!attr)
        return failure();
      return cast<QuantSchemeAttrInterface>(attr);
    }
    int codeBits;
    if (method == "int8")
      codeBits = 8;
    else if (method == "int4")
      codeBits = 4;
    else if (method == "int")
      codeBits = bits;
    else {
      fail("unknown method '" + method + "' (int8, int4, int, nf4)");
      return failure();
    }
    if (method != "int" && bits != 0 && bits != codeBits) {
      fail("method=" + method + " has " + Twine(codeBits) +
           "-bit codes, got bits=" + Twine(bits) + " (use method=int)");
      return failure();
    }
    if (codeBits != 2 && codeBits != 3 && codeBits != 4 && codeBits != 8) {
      fail("method=int needs bits=2, 3, 4 or 8, got " + Twine(codeBits));
      return failure();
    }
    if (doubleQuant) {
      fail("double-quant applies to nf4 only");
      return failure();
    }
    bool int8 = method == "int8";
    int64_t group = groupSize != 0 ? groupSize.getValue()
                    : int8         ? ::qrt::kPerChannel
                                   : 128;
    if (group <= 0 && group != ::qrt::kPerChannel) {
      fail("group-size must be positive or -1 (per channel), got " +
           Twine(group));
      return failure();
    }
    bool sym = symmetric == "default" ? int8 : symmetric == "true";
    FloatType scale =
        floatType(scaleType, int8 ? FloatType(Float32Type::get(ctx))
                                  : FloatType(Float16Type::get(ctx)));
    if (!scale) {
      fail("scale-type must be f32, f16, bf16 or default, got '" + scaleType +
           "'");
      return failure();
    }
    auto attr = IntQuantAttr::getChecked([&] { return fail(""); }, ctx,
                                         static_cast<unsigned>(codeBits), group,
                                         sym, /*act_order=*/false, scale);
    if (!attr)
      return failure();
    return cast<QuantSchemeAttrInterface>(attr);
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    FailureOr<QuantSchemeAttrInterface> scheme = buildScheme(module);
    if (failed(scheme))
      return signalPassFailure();

    SmallVector<llvm::Regex> excluded;
    for (const std::string &pattern : exclude) {
      llvm::Regex regex(pattern);
      std::string problem;
      if (!regex.isValid(problem)) {
        mlir::emitError(module.getLoc())
            << "qllm-quantize-weights: exclude pattern '" << pattern
            << "' is not a valid regex: " << problem;
        return signalPassFailure();
      }
      excluded.push_back(std::move(regex));
    }

    // The matmuls to rewrite, and one job per distinct (blob, orientation).
    llvm::SmallPtrSet<Operation *, 4> outputs;
    if (!quantizeOutput)
      for (auto func : module.getOps<func::FuncOp>())
        collectOutputProjections(func, outputs);
    std::vector<Job> jobs;
    std::map<std::pair<const void *, bool>, size_t> jobOf;
    SmallVector<std::pair<MatmulOp, size_t>> rewrites;
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
        Job job;
        job.weight = weight;
        job.transpose = transpose;
        job.rows = type.getDimSize(transpose ? 1 : 0);
        job.cols = type.getDimSize(transpose ? 0 : 1);
        jobs.push_back(std::move(job));
      }
      rewrites.push_back({matmul, it->second});
    });

    auto intN = dyn_cast<IntQuantAttr>(*scheme);
    auto nf4 = dyn_cast<NF4Attr>(*scheme);
    // A weightless module: only the components' shapes, no values.
    bool weightless = isWeightless(module);
    if (failed(failableParallelForEach(
            ctx, jobs.begin(), jobs.end(), [&](Job &job) -> LogicalResult {
              if (weightless) {
                job.result.layout =
                    intN
                        ? ::qrt::layoutFor(intN.getScheme(), job.rows, job.cols)
                        : ::qrt::layoutFor(nf4.getScheme(), job.rows, job.cols);
                job.result.components.resize(
                    job.result.layout.components.size());
                return success();
              }
              std::vector<float> w = readMatrix(job.weight, job.transpose);
              job.error =
                  intN ? ::qrt::quantizeIntN(intN.getScheme(), w.data(),
                                             job.rows, job.cols, job.result)
                       : ::qrt::quantizeNF4(nf4.getScheme(), w.data(),
                                            job.rows, job.cols, job.result);
              return success(job.error.empty());
            }))) {
      for (Job &job : jobs)
        if (!job.error.empty())
          job.weight.emitError()
              << "cannot quantize weight '" << job.weight.getName() << "' ("
              << job.rows << "x" << job.cols << " as [N, K]): " << job.error;
      return signalPassFailure();
    }

    // Component blobs, shared by every function that reads the weight.
    for (Job &job : jobs) {
      for (auto [component, bytes] : llvm::zip_equal(
               job.result.layout.components, job.result.components)) {
        auto type = RankedTensorType::get(
            component.shape, componentElementType(ctx, component.element));
        std::string key = job.weight.getName().str() + "." +
                          ::qrt::componentRoleName(component.role);
        job.components.push_back(DenseResourceElementsAttr::get(
            type, key, componentBlob(component, bytes, weightless)));
        std::vector<uint8_t>().swap(bytes);
      }
    }

    // Rewrite: one quantized_weight + dequantize per job and function, right
    // after the original weight op (which dominates all its readers).
    std::map<std::tuple<Operation *, size_t, const void *>, Value> dequantized;
    OpBuilder builder(ctx);
    for (auto [matmul, index] : rewrites) {
      Job &job = jobs[index];
      auto func = matmul->getParentOfType<func::FuncOp>();
      // The dequantized weight has the element type the matmul computes in
      // (f32 after qllm-promote-to-f32; f16 in an f16 graph).
      Type element =
          cast<RankedTensorType>(matmul.getRhs().getType()).getElementType();
      Value &value =
          dequantized[{func.getOperation(), index, element.getAsOpaquePointer()}];
      if (!value) {
        WeightOp original = weightUnder(matmul.getRhs());
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
          for (auto [i, component] :
               llvm::enumerate(job.result.layout.components))
            if (component.role == role)
              return parts[i];
          return Value();
        };
        auto qtype = QTensorType::get(ctx, {job.rows, job.cols}, *scheme);
        Value q = QuantizedWeightOp::create(
            builder, loc, qtype, original.getName(),
            part(::qrt::ComponentRole::Data),
            part(::qrt::ComponentRole::Scales),
            part(::qrt::ComponentRole::ZeroPoints),
            part(::qrt::ComponentRole::GroupIndex),
            part(::qrt::ComponentRole::DoubleQuantScales),
            part(::qrt::ComponentRole::DoubleQuantOffset));
        value = DequantizeOp::create(
            builder, loc,
            RankedTensorType::get({job.rows, job.cols}, element), q);
      }
      matmul.getRhsMutable().assign(value);
      matmul.setTransposeRhs(true);
    }

    if (report)
      printReport(jobs);

    // Free the float originals nothing reads any more.
    llvm::SetVector<const void *> candidates;
    for (Job &job : jobs)
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
      if (!weights)
        continue;
      llvm::DenseSet<const void *> live;
      module.walk([&](WeightOp op) { live.insert(resourceOf(op)); });
      for (DenseResourceElementsAttr attr : freed)
        if (!live.contains(attr.getRawHandle().getResource()))
          attr.getRawHandle().getResource()->setBlob(AsmResourceBlob());
    }
  }

  void printReport(MutableArrayRef<Job> jobs) {
    llvm::raw_ostream &os = llvm::errs();
    os << "quantized weights (" << method << "):\n";
    os << llvm::formatv("{0,-40} {1,12} {2,14} {3,14} {4,8}\n", "weight",
                        "[N, K]", "bytes before", "bytes after", "bits/w");
    uint64_t before = 0, after = 0, elements = 0;
    for (Job &job : jobs) {
      auto type = cast<RankedTensorType>(job.weight.getType());
      uint64_t count = static_cast<uint64_t>(job.rows * job.cols);
      uint64_t in = count * type.getElementTypeBitWidth() / 8;
      uint64_t out = job.result.layout.totalBytes();
      before += in;
      after += out;
      elements += count;
      os << llvm::formatv("{0,-40} {1,12} {2,14} {3,14} {4,8:F3}\n",
                          job.weight.getName(),
                          llvm::formatv("{0}x{1}", job.rows, job.cols), in,
                          out, job.result.layout.bitsPerWeight());
    }
    os << llvm::formatv(
        "total: {0} weights, {1} elements, {2} bytes before, {3} bytes after, "
        "{4:F3} bits/weight\n",
        jobs.size(), elements, before, after,
        elements ? 8.0 * double(after) / double(elements) : 0.0);
  }
};

} // namespace
