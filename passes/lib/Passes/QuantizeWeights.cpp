//===- QuantizeWeights.cpp - round-to-nearest weight quantization ---------===//
//
// Finds the matmul weights to quantize, quantizes each distinct one once (in
// parallel: pure computation on the blobs), then rewrites the IR and frees
// the float originals nothing reads any more (quant/Passes/WeightRewrite.h).
//
//===----------------------------------------------------------------------===//

#include "quant/Passes/Passes.h"

#include "qllm/IR/QLLMAttrs.h"
#include "qllm/IR/Weightless.h"
#include "quant/Passes/WeightRewrite.h"
#include "quant/Quantize/Gptq.h"
#include "quant/Quantize/RoundToNearest.h"

#include "mlir/IR/Threading.h"

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMQUANTIZEWEIGHTSPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

constexpr llvm::StringLiteral kPass = "qllm-quantize-weights";

struct QLLMQuantizeWeightsPass
    : qllm::impl::QLLMQuantizeWeightsPassBase<QLLMQuantizeWeightsPass> {
  QLLMQuantizeWeightsPass() = default;
  QLLMQuantizeWeightsPass(const QLLMQuantizeWeightsPass &other)
      : QLLMQuantizeWeightsPassBase(other) {}

  QuantizeOptionSet<Pass> options{*this};
  Option<bool> report{
      *this, "report",
      llvm::cl::desc("Print bytes before/after and bits per weight to stderr"),
      llvm::cl::init(false)};

  void runOnOperation() override {
    ModuleOp module = getOperation();
    QuantizeOptions o = options.values();
    if (o.method == WeightMethod::gptq) {
      mlir::emitError(module.getLoc())
          << kPass
          << ": method=gptq is calibrated: run qllm-gptq (quant-compile "
          << "does) with calibration=FILE";
      return signalPassFailure();
    }
    FailureOr<QuantSchemeAttrInterface> scheme =
        buildQuantScheme(module, o, kPass);
    if (succeeded(scheme) && o.clipSearch && !isa<IntQuantAttr>(*scheme)) {
      mlir::emitError(module.getLoc())
          << kPass << ": clip-search applies to integer schemes";
      return signalPassFailure();
    }
    WeightRewriter rewriter;
    if (failed(scheme) || failed(rewriter.collect(module, o, kPass)) ||
        failed(quantize(module, *scheme, o, rewriter.jobs())) ||
        failed(rewriter.reportErrors()))
      return signalPassFailure();
    std::optional<float> threshold;
    if (o.method == WeightMethod::llmInt8)
      threshold = static_cast<float>(o.outlierThreshold);
    rewriter.apply(*scheme, threshold);
    if (report)
      rewriter.printReport(llvm::errs(), nameOf(o.method));
  }

  /// Quantizes every job, in parallel (pure computation on the blobs); in a
  /// weightless module only the components' shapes.
  LogicalResult quantize(ModuleOp module, QuantSchemeAttrInterface scheme,
                         const QuantizeOptions &o,
                         std::vector<WeightJob> &jobs) {
    auto intN = dyn_cast<IntQuantAttr>(scheme);
    std::optional<::qrt::Float4Scheme> float4 = float4SchemeOf(scheme);
    bool weightless = isWeightless(module);
    (void)failableParallelForEach(
        module.getContext(), jobs.begin(), jobs.end(),
        [&](WeightJob &job) -> LogicalResult {
          if (weightless) {
            job.result.layout = scheme.getLayout(job.rows, job.cols);
            job.result.components.resize(job.result.layout.components.size());
            return success();
          }
          std::vector<float> w = job.readMatrix();
          if (o.clipSearch)
            job.error = quant::quantizeGptqRtn(intN.getScheme(), true,
                                               w.data(), job.rows, job.cols,
                                               nullptr, job.result);
          else if (o.method == WeightMethod::llmInt8)
            job.error = quant::quantizeLlmInt8(intN.getScheme(), w.data(),
                                               job.rows, job.cols, job.result);
          else if (intN)
            job.error = quant::quantizeIntN(intN.getScheme(), w.data(),
                                            job.rows, job.cols, job.result);
          else
            job.error = quant::quantizeFloat4(*float4, w.data(), job.rows,
                                              job.cols, job.result);
          return success(job.error.empty());
        });
    return success();
  }
};

} // namespace

std::unique_ptr<Pass>
mlir::qllm::createQLLMQuantizeWeightsPass(const QuantizeOptions &options) {
  auto pass = std::make_unique<QLLMQuantizeWeightsPass>();
  pass->options.assign(options);
  return pass;
}
