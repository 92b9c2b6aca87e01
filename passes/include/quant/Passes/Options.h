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
enum class WeightMethod { fp32, fp16, int8, int4, intN, nf4 };
/// The kernel target of a plan.
enum class Target { cpu, cuda };
/// The storage type of quantization scales.
enum class ScaleTypeChoice { byMethod, f32, f16, bf16 };
/// Symmetric quantization (zero point 2^(bits-1)) or not.
enum class SymmetryChoice { byMethod, symmetric, asymmetric };
/// Floating-point storage of weights.
enum class FloatStorage { f32, f16 };

/// The command-line name of a choice ("int4", "cuda", ...).
llvm::StringRef nameOf(WeightMethod method);
llvm::StringRef nameOf(Target target);
/// Whether `method` quantizes (int8, int4, int, nf4).
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
};

/// The entry points of a plan (qllm-specialize-entries).
struct EntryOptions {
  int64_t maxContext = 0;
  int64_t prefillTokens = 0;
  int64_t bos = 1;
  int64_t eos = 2;
  std::string tokenizer;
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
                              "quantized: int8, int4, int (with bits), nf4"),
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
                              "bitsandbytes NF4 in blocks of 64"))),
        bits(owner, "bits",
             llvm::cl::desc("Code bits for method=int: 2, 3, 4 or 8 (0: the "
                            "method's)"),
             llvm::cl::init(0)),
        groupSize(owner, "group-size",
                  llvm::cl::desc("Columns per group (NF4: per block); -1 per "
                                 "channel; 0: the method's default (int8: "
                                 "-1, int4/int: 128, nf4: 64)"),
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
                                 "(int8 and nf4: f32, others: f16)"),
                  llvm::cl::init(ScaleTypeChoice::byMethod),
                  llvm::cl::values(
                      clEnumValN(ScaleTypeChoice::byMethod, "default",
                                 "the method's"),
                      clEnumValN(ScaleTypeChoice::f32, "f32", "f32"),
                      clEnumValN(ScaleTypeChoice::f16, "f16", "f16"),
                      clEnumValN(ScaleTypeChoice::bf16, "bf16", "bf16"))),
        doubleQuant(owner, "double-quant",
                    llvm::cl::desc("NF4: store the absmax as 8-bit codes "
                                   "(QLoRA double quantization)"),
                    llvm::cl::init(false)),
        doubleQuantBlockSize(
            owner, "double-quant-block-size",
            llvm::cl::desc("NF4 double quantization: absmax values per "
                           "second-level block"),
            llvm::cl::init(QuantizeOptions().doubleQuantBlockSize)),
        exclude(owner, "exclude",
                llvm::cl::desc("Regexes: weights whose name matches one keep "
                               "their precision")),
        quantizeOutput(owner, "quantize-output",
                       llvm::cl::desc("Also quantize the output projection "
                                      "(logits)"),
                       llvm::cl::init(false)) {}

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
                                           "generated CUDA kernels"))) {}

  Option<Target> target;
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
