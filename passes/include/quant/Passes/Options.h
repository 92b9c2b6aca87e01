//===- Options.h - typed options shared by passes and pipelines -*- C++ -*-===//
//
// Each option of the compiler is declared once, here, in an option set: a
// group of typed options (enums for closed choices) that a pass and the
// quant-compile pipeline both hold. An option set is a template over its
// owner: `QuantizeOptionSet<Pass>` declares the options on a pass (its
// command-line options), `QuantizeOptionSet<detail::PassOptions>` on a
// pipeline's options struct. `values()` reads them as a plain struct, which
// the pipeline hands to the pass's create function (the one way a pass
// with shared options is built), so quant-compile sets every option the
// pass has, under the same name.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_PASSES_OPTIONS_H
#define QUANT_PASSES_OPTIONS_H

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"
#include "llvm/Support/CommandLine.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::qllm {

//===----------------------------------------------------------------------===//
// Closed choices
//===----------------------------------------------------------------------===//

/// How weights are stored: as floats, or quantized.
enum class WeightMethod { fp32, fp16, int8, int4, intN, nf4, fp4, gptq, llmInt8 };
/// The kernel target of a plan.
enum class Target { cpu, cuda };
/// The storage type of quantization scales.
enum class ScaleTypeChoice { byMethod, f32, f16, bf16 };
/// Symmetric quantization (zero point 2^(bits-1)) or not.
enum class SymmetryChoice { byMethod, symmetric, asymmetric };
/// Floating-point storage of weights.
enum class FloatStorage { f32, f16 };
/// Whether CPU matmuls with quantized weights round their activations to 8
/// bits (integer dot products): by the weight's scheme, never, or always.
enum class ActivationChoice { byScheme, f32, int8 };
/// How calibration text becomes token samples.
enum class CalibrationMode { documents, windows };

/// The command-line name of a choice ("int4", "cuda", ...).
llvm::StringRef nameOf(WeightMethod method);
llvm::StringRef nameOf(Target target);
/// Whether `method` quantizes (int8, int4, int, nf4, fp4, gptq, llm-int8).
inline bool isQuantized(WeightMethod method) {
  return method != WeightMethod::fp32 && method != WeightMethod::fp16;
}

//===----------------------------------------------------------------------===//
// Option values
//===----------------------------------------------------------------------===//

/// Weight quantization (qllm-quantize-weights).
struct QuantizeOptions {
  WeightMethod method = WeightMethod::int4;
  int bits = 0;
  int64_t groupSize = 0;
  SymmetryChoice symmetric = SymmetryChoice::byMethod;
  ScaleTypeChoice scaleType = ScaleTypeChoice::byMethod;
  bool doubleQuant = false;
  int64_t doubleQuantBlockSize = 256;
  std::vector<std::string> exclude;
  bool quantizeOutput = false;
  bool clipSearch = false;
  double outlierThreshold = 6.0;
};

/// GPTQ and its calibration (qllm-gptq); the scheme (bits, group size,
/// symmetry, scale type) comes from QuantizeOptions.
struct GptqPassOptions {
  bool actOrder = false;
  bool staticGroups = false;
  double dampPercent = 0.01;
  int64_t blockSize = 128;
  bool trueSequential = true;
  std::string calibration;
  std::string calibrationDocSep = "<|endoftext|>";
  int64_t calibrationSamples = 128;
  int64_t calibrationSeqlen = 2048;
  int64_t calibrationOffset = 0;
  CalibrationMode calibrationMode = CalibrationMode::documents;
  uint64_t calibrationSeed = 0;
};

/// The entry points of a plan (qllm-specialize-entries).
struct EntryOptions {
  int64_t maxContext = 0;
  int64_t prefillTokens = 0;
  int64_t bos = 1;
  int64_t eos = 2;
  std::string tokenizer;
};

/// The kernels of a plan (qllm-select-kernels).
struct TargetOptions {
  Target target = Target::cpu;
  ActivationChoice activations = ActivationChoice::byScheme;
};

/// The CUDA code of a plan (qllm-generate-cuda).
struct CudaOptions {
  bool fuseEpilogues = true;
  /// NVRTC targets of plan export: compute_XY (PTX), sm_XY (cubins).
  std::vector<std::string> archs = {"compute_80", "sm_80", "sm_90"};
};

//===----------------------------------------------------------------------===//
// Option sets
//===----------------------------------------------------------------------===//

namespace detail {
/// The option types of an owner: a Pass, or a pass pipeline's options.
template <typename Owner> struct OptionTypes {
  template <typename T> using Option = ::mlir::Pass::Option<T>;
  template <typename T> using ListOption = ::mlir::Pass::ListOption<T>;
};
template <> struct OptionTypes<::mlir::detail::PassOptions> {
  template <typename T>
  using Option = ::mlir::detail::PassOptions::Option<T>;
  template <typename T>
  using ListOption = ::mlir::detail::PassOptions::ListOption<T>;
};
} // namespace detail

template <typename Owner> struct QuantizeOptionSet {
  template <typename T>
  using Option = typename detail::OptionTypes<Owner>::template Option<T>;
  template <typename T>
  using ListOption = typename detail::OptionTypes<Owner>::template ListOption<T>;

  /// `defaultMethod`: quant-compile stores f32 weights unless told, the pass
  /// quantizes (int4).
  explicit QuantizeOptionSet(Owner &owner,
                             WeightMethod defaultMethod = WeightMethod::int4)
      : method(owner, "method",
               llvm::cl::desc("Weights: fp32, fp16 (float storage), or "
                              "quantized: int8, int4, int (with bits), nf4, "
                              "fp4, gptq, llm-int8"),
               llvm::cl::init(defaultMethod),
               llvm::cl::values(
                   clEnumValN(WeightMethod::fp32, "fp32", "f32 weights"),
                   clEnumValN(WeightMethod::fp16, "fp16", "f16 weights"),
                   clEnumValN(WeightMethod::int8, "int8",
                              "8-bit codes per channel, symmetric"),
                   clEnumValN(WeightMethod::int4, "int4",
                              "4-bit codes in groups of 128, asymmetric"),
                   clEnumValN(WeightMethod::intN, "int",
                              "codes of `bits` bits (2, 3, 4, 8)"),
                   clEnumValN(WeightMethod::nf4, "nf4",
                              "bitsandbytes NF4 in blocks of 64"),
                   clEnumValN(WeightMethod::fp4, "fp4",
                              "bitsandbytes FP4 in blocks of 64"),
                   clEnumValN(WeightMethod::llmInt8, "llm-int8",
                              "bitsandbytes LLM.int8(): 8-bit codes per "
                              "channel, activations quantized per token to "
                              "8 bits but for outlier columns"),
                   clEnumValN(WeightMethod::gptq, "gptq",
                              "GPTQ, calibrated: `bits` (default 4) in "
                              "groups of 128, asymmetric"))),
        bits(owner, "bits",
             llvm::cl::desc("Code bits for method=int: 2, 3, 4 or 8 (0: the "
                            "method's)"),
             llvm::cl::init(0)),
        groupSize(owner, "group-size",
                  llvm::cl::desc("Columns per group (NF4: per block); -1 per "
                                 "channel; 0: the method's default (int8: "
                                 "-1, int4/int: 128, nf4 and fp4: 64)"),
                  llvm::cl::init(int64_t(0))),
        symmetric(owner, "symmetric",
                  llvm::cl::desc("Zero point 2^(bits-1): true, false, or "
                                 "default (int8: true, others: false)"),
                  llvm::cl::init(SymmetryChoice::byMethod),
                  llvm::cl::values(
                      clEnumValN(SymmetryChoice::byMethod, "default",
                                 "the method's"),
                      clEnumValN(SymmetryChoice::symmetric, "true",
                                 "symmetric"),
                      clEnumValN(SymmetryChoice::asymmetric, "false",
                                 "with zero points"))),
        scaleType(owner, "scale-type",
                  llvm::cl::desc("Stored scales: f32, f16, bf16, or default "
                                 "(int8, llm-int8, nf4, fp4: f32, others: "
                                 "f16)"),
                  llvm::cl::init(ScaleTypeChoice::byMethod),
                  llvm::cl::values(
                      clEnumValN(ScaleTypeChoice::byMethod, "default",
                                 "the method's"),
                      clEnumValN(ScaleTypeChoice::f32, "f32", "f32"),
                      clEnumValN(ScaleTypeChoice::f16, "f16", "f16"),
                      clEnumValN(ScaleTypeChoice::bf16, "bf16", "bf16"))),
        doubleQuant(owner, "double-quant",
                    llvm::cl::desc("NF4, FP4: store the absmax as 8-bit "
                                   "codes (QLoRA double quantization)"),
                    llvm::cl::init(false)),
        doubleQuantBlockSize(
            owner, "double-quant-block-size",
            llvm::cl::desc("NF4, FP4 double quantization: absmax values "
                           "per second-level block"),
            llvm::cl::init(QuantizeOptions().doubleQuantBlockSize)),
        exclude(owner, "exclude",
                llvm::cl::desc("Regexes: weights whose name matches one keep "
                               "their precision")),
        quantizeOutput(owner, "quantize-output",
                       llvm::cl::desc("Also quantize the output projection "
                                      "(logits)"),
                       llvm::cl::init(false)),
        clipSearch(owner, "clip-search",
                   llvm::cl::desc("Integer schemes: search each group's "
                                  "range (shrunk by up to 20%) for the "
                                  "smallest error (GPTQ: weighted by the "
                                  "Hessian's diagonal)"),
                   llvm::cl::init(false)),
        outlierThreshold(
            owner, "outlier-threshold",
            llvm::cl::desc("llm-int8: input columns where some |x| reaches "
                           "this are multiplied in f32 (0: none, plain 8-bit "
                           "activations)"),
            llvm::cl::init(QuantizeOptions().outlierThreshold)) {}

  QuantizeOptions values() const {
    QuantizeOptions o;
    o.method = method;
    o.bits = bits;
    o.groupSize = groupSize;
    o.symmetric = symmetric;
    o.scaleType = scaleType;
    o.doubleQuant = doubleQuant;
    o.doubleQuantBlockSize = doubleQuantBlockSize;
    o.exclude.assign(exclude.begin(), exclude.end());
    o.quantizeOutput = quantizeOutput;
    o.clipSearch = clipSearch;
    o.outlierThreshold = outlierThreshold;
    return o;
  }
  void assign(const QuantizeOptions &o) {
    method = o.method;
    bits = o.bits;
    groupSize = o.groupSize;
    symmetric = o.symmetric;
    scaleType = o.scaleType;
    doubleQuant = o.doubleQuant;
    doubleQuantBlockSize = o.doubleQuantBlockSize;
    exclude = llvm::ArrayRef<std::string>(o.exclude);
    quantizeOutput = o.quantizeOutput;
    clipSearch = o.clipSearch;
    outlierThreshold = o.outlierThreshold;
  }

  Option<WeightMethod> method;
  Option<int> bits;
  Option<int64_t> groupSize;
  Option<SymmetryChoice> symmetric;
  Option<ScaleTypeChoice> scaleType;
  Option<bool> doubleQuant;
  Option<int64_t> doubleQuantBlockSize;
  ListOption<std::string> exclude;
  Option<bool> quantizeOutput;
  Option<bool> clipSearch;
  Option<double> outlierThreshold;
};

template <typename Owner> struct GptqOptionSet {
  template <typename T>
  using Option = typename detail::OptionTypes<Owner>::template Option<T>;

  explicit GptqOptionSet(Owner &owner)
      : actOrder(owner, "act-order",
                 llvm::cl::desc("GPTQ: quantize columns by descending "
                                "Hessian diagonal (desc_act)"),
                 llvm::cl::init(false)),
        staticGroups(owner, "static-groups",
                     llvm::cl::desc("GPTQ with act-order: group parameters "
                                    "from contiguous groups before the "
                                    "permutation (no group index stored)"),
                     llvm::cl::init(false)),
        dampPercent(owner, "damp-percent",
                    llvm::cl::desc("GPTQ: dampening added to diag(H), as a "
                                   "fraction of its mean (raised 10x while H "
                                   "is not positive definite)"),
                    llvm::cl::init(GptqPassOptions().dampPercent)),
        blockSize(owner, "block-size",
                  llvm::cl::desc("GPTQ: columns per lazy batch update"),
                  llvm::cl::init(GptqPassOptions().blockSize)),
        trueSequential(owner, "true-sequential",
                       llvm::cl::desc("GPTQ: inside a layer, each group of "
                                      "projections sharing an input (q/k/v, "
                                      "o, up/gate, down) is calibrated after "
                                      "the earlier ones are quantized; false: "
                                      "the whole layer from one forward"),
                       llvm::cl::init(true)),
        calibration(owner, "calibration",
                    llvm::cl::desc("GPTQ: calibration text file"),
                    llvm::cl::init(std::string())),
        calibrationDocSep(owner, "calibration-doc-sep",
                          llvm::cl::desc("GPTQ: document separator of the "
                                         "calibration text"),
                          llvm::cl::init(GptqPassOptions().calibrationDocSep)),
        calibrationSamples(owner, "calibration-samples",
                           llvm::cl::desc("GPTQ: calibration samples"),
                           llvm::cl::init(
                               GptqPassOptions().calibrationSamples)),
        calibrationSeqlen(owner, "calibration-seqlen",
                          llvm::cl::desc("GPTQ: tokens per sample (at most "
                                         "the model's context)"),
                          llvm::cl::init(GptqPassOptions().calibrationSeqlen)),
        calibrationOffset(owner, "calibration-offset",
                          llvm::cl::desc("GPTQ: first document used (skip "
                                         "an evaluation set)"),
                          llvm::cl::init(int64_t(0))),
        calibrationMode(
            owner, "calibration-mode",
            llvm::cl::desc("GPTQ: documents (each BOS + its tokens, "
                           "truncated) or windows (random windows of the "
                           "documents' tokens concatenated)"),
            llvm::cl::init(CalibrationMode::documents),
            llvm::cl::values(
                clEnumValN(CalibrationMode::documents, "documents",
                           "one document per sample"),
                clEnumValN(CalibrationMode::windows, "windows",
                           "random windows of the concatenated text"))),
        calibrationSeed(owner, "calibration-seed",
                        llvm::cl::desc("GPTQ: seed of the windows"),
                        llvm::cl::init(uint64_t(0))) {}

  GptqPassOptions values() const {
    GptqPassOptions o;
    o.actOrder = actOrder;
    o.staticGroups = staticGroups;
    o.dampPercent = dampPercent;
    o.blockSize = blockSize;
    o.trueSequential = trueSequential;
    o.calibration = calibration;
    o.calibrationDocSep = calibrationDocSep;
    o.calibrationSamples = calibrationSamples;
    o.calibrationSeqlen = calibrationSeqlen;
    o.calibrationOffset = calibrationOffset;
    o.calibrationMode = calibrationMode;
    o.calibrationSeed = calibrationSeed;
    return o;
  }
  void assign(const GptqPassOptions &o) {
    actOrder = o.actOrder;
    staticGroups = o.staticGroups;
    dampPercent = o.dampPercent;
    blockSize = o.blockSize;
    trueSequential = o.trueSequential;
    calibration = o.calibration;
    calibrationDocSep = o.calibrationDocSep;
    calibrationSamples = o.calibrationSamples;
    calibrationSeqlen = o.calibrationSeqlen;
    calibrationOffset = o.calibrationOffset;
    calibrationMode = o.calibrationMode;
    calibrationSeed = o.calibrationSeed;
  }

  Option<bool> actOrder;
  Option<bool> staticGroups;
  Option<double> dampPercent;
  Option<int64_t> blockSize;
  Option<bool> trueSequential;
  Option<std::string> calibration;
  Option<std::string> calibrationDocSep;
  Option<int64_t> calibrationSamples;
  Option<int64_t> calibrationSeqlen;
  Option<int64_t> calibrationOffset;
  Option<CalibrationMode> calibrationMode;
  Option<uint64_t> calibrationSeed;
};

template <typename Owner> struct EntryOptionSet {
  template <typename T>
  using Option = typename detail::OptionTypes<Owner>::template Option<T>;

  explicit EntryOptionSet(Owner &owner)
      : maxContext(owner, "max-context",
                   llvm::cl::desc("KV-cache positions (0: the model's own "
                                  "maximum, from its rotary tables or "
                                  "metadata, else 2048)"),
                   llvm::cl::init(int64_t(0))),
        prefillTokens(owner, "prefill-tokens",
                      llvm::cl::desc("Tokens per prefill step (0: "
                                     "min(max-context, 512)); longer prompts "
                                     "run in several steps"),
                      llvm::cl::init(int64_t(0))),
        bos(owner, "bos", llvm::cl::desc("BOS token id"),
            llvm::cl::init(EntryOptions().bos)),
        eos(owner, "eos", llvm::cl::desc("EOS token id"),
            llvm::cl::init(EntryOptions().eos)),
        tokenizer(owner, "tokenizer",
                  llvm::cl::desc("Tokenizer file the runtime uses by default"),
                  llvm::cl::init(std::string())) {}

  EntryOptions values() const {
    EntryOptions o;
    o.maxContext = maxContext;
    o.prefillTokens = prefillTokens;
    o.bos = bos;
    o.eos = eos;
    o.tokenizer = tokenizer;
    return o;
  }
  void assign(const EntryOptions &o) {
    maxContext = o.maxContext;
    prefillTokens = o.prefillTokens;
    bos = o.bos;
    eos = o.eos;
    tokenizer = o.tokenizer;
  }

  Option<int64_t> maxContext;
  Option<int64_t> prefillTokens;
  Option<int64_t> bos;
  Option<int64_t> eos;
  Option<std::string> tokenizer;
};

template <typename Owner> struct TargetOptionSet {
  template <typename T>
  using Option = typename detail::OptionTypes<Owner>::template Option<T>;

  explicit TargetOptionSet(Owner &owner)
      : target(owner, "target",
               llvm::cl::desc("Kernel target: cpu, or cuda (CUDA kernels "
                              "generated into the plan; it still runs on "
                              "the CPU too)"),
               llvm::cl::init(Target::cpu),
               llvm::cl::values(clEnumValN(Target::cpu, "cpu", "CPU kernels"),
                                clEnumValN(Target::cuda, "cuda",
                                           "generated CUDA kernels"))),
        activations(
            owner, "activations",
            llvm::cl::desc(
                "CPU matmuls with quantized weights: round the activations "
                "to 8 bits per block of 32 and multiply in integers (int8), "
                "keep them f32 (f32), or by the scheme (auto: int8 wherever "
                "the CPU has the kernel: 4- and 8-bit integer codes, NF4 "
                "and FP4 in groups of 32, 64, a multiple of 128 or whole "
                "rows; f32 for act order, other widths and the cuda "
                "target)"),
            llvm::cl::init(ActivationChoice::byScheme),
            llvm::cl::values(
                clEnumValN(ActivationChoice::byScheme, "auto",
                           "by the weight's scheme"),
                clEnumValN(ActivationChoice::f32, "f32", "f32 activations"),
                clEnumValN(ActivationChoice::int8, "int8",
                           "8-bit activations wherever a kernel exists"))) {}

  TargetOptions values() const {
    TargetOptions o;
    o.target = target;
    o.activations = activations;
    return o;
  }

  Option<Target> target;
  Option<ActivationChoice> activations;
};

template <typename Owner> struct CudaOptionSet {
  template <typename T>
  using Option = typename detail::OptionTypes<Owner>::template Option<T>;
  template <typename T>
  using ListOption = typename detail::OptionTypes<Owner>::template ListOption<T>;

  explicit CudaOptionSet(Owner &owner)
      : fuseEpilogues(owner, "fuse-epilogues",
                      llvm::cl::desc("CUDA: fuse a following residual add "
                                     "into matmul kernels"),
                      llvm::cl::init(true)),
        archs(owner, "cuda-archs",
              llvm::cl::desc("CUDA: what plan export compiles the kernels "
                             "for with NVRTC: compute_XY (PTX, JIT-compiled "
                             "by the driver for any later GPU) and sm_XY "
                             "(cubins); default compute_80,sm_80,sm_90")) {}

  CudaOptions values() const {
    CudaOptions o;
    o.fuseEpilogues = fuseEpilogues;
    if (!archs.empty())
      o.archs.assign(archs.begin(), archs.end());
    return o;
  }
  void assign(const CudaOptions &o) {
    fuseEpilogues = o.fuseEpilogues;
    archs = llvm::ArrayRef<std::string>(o.archs);
  }

  Option<bool> fuseEpilogues;
  ListOption<std::string> archs;
};

} // namespace mlir::qllm

#endif // QUANT_PASSES_OPTIONS_H
