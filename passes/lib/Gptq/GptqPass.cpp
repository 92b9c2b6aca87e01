//===- GptqPass.cpp - GPTQ, calibrated through the runtime ----------------===//
//
// The pass exports a float calibration plan of a clone of the module (f32
// weights, one prefill chunk per sample, CPU kernels), hands it to the
// calibration driver (quant/Quantize/Calibration.h), which runs our runtime
// over the samples and solves each weight, and rewrites the IR with the
// results as qllm-quantize-weights does (quant/Passes/WeightRewrite.h).
// It sits in its own library (QuantGptq) because it needs plan export and
// the runtime, which sit above QuantPasses.
//
//===----------------------------------------------------------------------===//

#include "quant/Passes/Passes.h"

#include "qllm/IR/QLLMAttrs.h"
#include "qllm/IR/Weightless.h"
#include "quant/Passes/WeightRewrite.h"
#include "quant/Plan/ExportPlan.h"
#include "quant/Quantize/Calibration.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Process.h"

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMGPTQPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

constexpr llvm::StringLiteral kPass = "qllm-gptq";

/// The float calibration plan of `module`: a clone compiled with f32
/// weights, entries of `prefillTokens` (at most the model's context), CPU
/// kernels. The clone shares the module's blobs; the ones its layout made
/// are freed once the plan is written.
FailureOr<std::vector<uint8_t>> calibrationPlan(ModuleOp module,
                                                int64_t prefillTokens) {
  llvm::DenseSet<const void *> shared;
  module.walk([&](WeightOp w) { shared.insert(resourceOf(w)); });
  OwningOpRef<ModuleOp> clone = module.clone();
  PassManager pm(module.getContext());
  EntryOptions entries;
  entries.prefillTokens = prefillTokens;
  pm.addPass(createQLLMSpecializeEntriesPass(entries));
  QLLMLayoutWeightsPassOptions layout;
  layout.weightType = FloatStorage::f32;
  layout.freeOriginals = false;
  pm.addPass(createQLLMLayoutWeightsPass(layout));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addNestedPass<func::FuncOp>(createQLLMSelectKernelsPass(TargetOptions()));
  pm.addNestedPass<func::FuncOp>(createQLLMPlanMemoryPass());
  FailureOr<std::vector<uint8_t>> bytes = failure();
  if (succeeded(pm.run(*clone)))
    bytes = exportPlanToMemory(*clone);
  clone->walk([&](WeightOp w) {
    if (const void *r = resourceOf(w); r && !shared.contains(r))
      cast<DenseResourceElementsAttr>(w.getValue())
          .getRawHandle()
          .getResource()
          ->setBlob(AsmResourceBlob());
  });
  if (failed(bytes))
    mlir::emitError(module.getLoc())
        << kPass << ": cannot build the float calibration plan (see above)";
  return bytes;
}

struct QLLMGptqPass : qllm::impl::QLLMGptqPassBase<QLLMGptqPass> {
  QLLMGptqPass() = default;
  QLLMGptqPass(const QLLMGptqPass &other) : QLLMGptqPassBase(other) {}

  QuantizeOptionSet<Pass> options{*this, WeightMethod::gptq};
  GptqOptionSet<Pass> gptq{*this};
  Option<std::string> tokenizer{
      *this, "tokenizer",
      llvm::cl::desc("Tokenizer of the calibration text (llama2.c .bin, "
                     "SentencePiece .model, Hugging Face tokenizer.json)"),
      llvm::cl::init(std::string())};
  Option<bool> report{*this, "report",
                      llvm::cl::desc("Print per weight: Hessian, dampening, "
                                     "GPTQ and round-to-nearest errors, "
                                     "seconds; and bytes per weight"),
                      llvm::cl::init(false)};
  Option<std::string> saveHessians{
      *this, "save-hessians",
      llvm::cl::desc("Directory: write each weight's Hessian as <weight>.npy"),
      llvm::cl::init(std::string())};
  Option<int> threads{*this, "threads",
                      llvm::cl::desc("Threads of the calibration runtime and "
                                     "solver (0: all cores)"),
                      llvm::cl::init(0)};

  LogicalResult fail(const Twine &message) {
    return mlir::emitError(getOperation().getLoc()) << kPass << ": " << message;
  }

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

  LogicalResult run() {
    ModuleOp module = getOperation();
    QuantizeOptions o = options.values();
    GptqPassOptions g = gptq.values();
    if (o.method != WeightMethod::gptq)
      return fail("method=" + nameOf(o.method) +
                  " is round to nearest: run qllm-quantize-weights");
    if (g.calibration.empty())
      return fail("GPTQ is calibrated: give calibration=FILE (text)");
    if (tokenizer.empty())
      return fail("give tokenizer=FILE to tokenize the calibration text");
    if (isWeightless(module))
      return fail("a weightless module has no weights to calibrate");
    if (g.staticGroups && !g.actOrder)
      return fail("static-groups applies with act-order=true");

    // The scheme as stored.
    FailureOr<QuantSchemeAttrInterface> plain =
        buildQuantScheme(module, o, kPass);
    if (failed(plain))
      return failure();
    quant::GptqRun run;
    run.solver.scheme = cast<IntQuantAttr>(*plain).getScheme();
    run.solver.scheme.actOrder = g.actOrder;
    run.solver.staticGroups = g.staticGroups;
    run.solver.dampPercent = g.dampPercent;
    run.solver.blockSize = g.blockSize;
    run.solver.clipSearch = o.clipSearch;
    run.solver.threads = threads;
    run.trueSequential = g.trueSequential;
    run.compareRtn = report;
    run.saveHessians = saveHessians;
    if (llvm::sys::Process::StandardErrIsDisplayed())
      run.progress = [](const std::string &line) {
        llvm::errs() << line << "\n";
      };
    FailureOr<QuantSchemeAttrInterface> scheme = buildQuantScheme(
        module, o, kPass, quant::storedScheme(run.solver).actOrder);
    if (failed(scheme))
      return failure();

    WeightRewriter rewriter;
    if (failed(rewriter.collect(module, o, kPass)))
      return failure();
    std::vector<std::string> names;
    for (WeightJob &job : rewriter.jobs())
      names.push_back(job.weight.getName().str());

    std::string error;
    std::unique_ptr<qrt::text::Tokenizer> tok =
        qrt::text::loadTokenizer(tokenizer, error);
    if (!tok)
      return fail(error);
    FailureOr<std::vector<uint8_t>> bytes =
        calibrationPlan(module, g.calibrationSeqlen);
    if (failed(bytes))
      return failure();
    std::unique_ptr<qrt::LoadedPlan> plan = qrt::LoadedPlan::openMemory(
        std::move(*bytes), error, {}, "<calibration plan>");
    if (!plan)
      return fail(error);
    int64_t maxTokens = 0;
    for (const qrt::fb::Entry *e : *plan->plan().entries())
      maxTokens = std::max<int64_t>(maxTokens, e->max_tokens());

    quant::CalibrationText text;
    text.path = g.calibration;
    text.docSep = g.calibrationDocSep;
    text.samples = g.calibrationSamples;
    text.seqlen = g.calibrationSeqlen;
    text.offset = g.calibrationOffset;
    text.windows = g.calibrationMode == CalibrationMode::windows;
    text.seed = g.calibrationSeed;
    std::vector<std::vector<int32_t>> samples;
    error = quant::calibrationSamples(text, *tok, maxTokens, samples);
    if (!error.empty())
      return fail(error);

    std::vector<quant::GptqResult> results;
    error = quant::runGptq(*plan, samples, names, run, results);
    if (!error.empty())
      return fail(error);
    std::map<std::string, quant::GptqResult *> byName;
    for (quant::GptqResult &r : results)
      byName[r.name] = &r;
    for (WeightJob &job : rewriter.jobs()) {
      quant::GptqResult &r = *byName.at(job.weight.getName().str());
      if (r.rows != job.rows || r.cols != job.cols)
        return job.weight.emitError()
               << kPass << ": the calibration plan holds '" << r.name << "' as "
               << r.rows << "x" << r.cols << ", not " << job.rows << "x"
               << job.cols;
      if (r.stats.dampRetries > 0)
        job.weight.emitWarning()
            << kPass << ": the Hessian of '" << r.name
            << "' is not positive definite with damp-percent=" << g.dampPercent
            << "; used " << r.stats.dampPercent;
      job.result = std::move(r.weight);
    }
    rewriter.apply(*scheme);
    if (report) {
      printReport(llvm::errs(), results, samples.size());
      rewriter.printReport(llvm::errs(), "gptq");
    }
    return success();
  }

  void printReport(llvm::raw_ostream &os,
                   const std::vector<quant::GptqResult> &results,
                   size_t samples) {
    os << "gptq (" << samples << " samples):\n";
    os << llvm::formatv("{0,-40} {1,6} {2,8} {3,12} {4,5} {5,9} {6,12} "
                        "{7,12} {8,7} {9,8} {10,8}\n",
                        "weight", "layer", "tokens", "trace(H)", "dead",
                        "damp%", "err gptq", "err rtn", "ratio", "stage s",
                        "solve s");
    double gptq = 0, rtn = 0, solve = 0, forward = 0;
    int64_t stage = -1;
    for (const quant::GptqResult &r : results) {
      gptq += r.gptqError;
      rtn += r.rtnError;
      solve += r.solveSeconds;
      if (r.stage != stage)
        forward += r.forwardSeconds;
      stage = r.stage;
      os << llvm::formatv(
          "{0,-40} {1,6} {2,8} {3,12:e} {4,5} {5,9:g} {6,12:e} {7,12:e} "
          "{8,7:F3} {9,8:F2} {10,8:F2}\n",
          r.name, r.layer, r.tokens, r.stats.hessianTrace, r.stats.deadColumns,
          100 * r.stats.dampPercent, r.gptqError, r.rtnError,
          r.rtnError > 0 ? r.gptqError / r.rtnError : 0.0, r.forwardSeconds,
          r.solveSeconds);
    }
    os << llvm::formatv("total: ||WX-QX||^2 per token gptq {0:e}, rtn {1:e} "
                        "(ratio {2:F3}); calibration forwards {3:F2} s, "
                        "solver {4:F2} s\n",
                        gptq, rtn, rtn > 0 ? gptq / rtn : 0.0, forward, solve);
  }
};

} // namespace

std::unique_ptr<Pass>
mlir::qllm::createQLLMGptqPass(const QuantizeOptions &quantize,
                               const GptqPassOptions &options,
                               const std::string &tokenizer) {
  auto pass = std::make_unique<QLLMGptqPass>();
  pass->options.assign(quantize);
  pass->gptq.assign(options);
  pass->tokenizer = tokenizer;
  return pass;
}
