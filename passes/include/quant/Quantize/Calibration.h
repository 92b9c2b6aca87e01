//===- Calibration.h - calibrated quantization through the runtime -*- C++ -*-===//
//
// GPTQ needs the activations that reach each projection. They are computed
// by our own runtime: a float plan of the model (f32 weights, one prefill
// chunk per sample) runs the calibration samples on the CPU backend, and a
// StepObserver accumulates sum x x^T at the matmul steps of interest. The
// model is quantized sequentially, in stages of projections:
//
//   unit   the projections that read one activation (q/k/v, o, gate/up,
//          down): consecutive MatMul steps of the prefill entry with the
//          same input buffer; they share one Hessian;
//   stage  one unit (true-sequential), or all units of a layer.
//
// For each stage, in plan order: run every sample through the stage's
// layer only, up to the stage's last step (the observer skips the steps of
// the earlier layers, writes the layer's cached input into the forward, and
// stops it after the stage), solve each weight of the stage, and write its
// dequantized values over the float weight in the plan, so that later
// stages see the quantized model. When a layer is done, one more forward
// through it (quantized) gives the next layer's inputs, as the GPTQ
// reference does. Memory: the model's float plan, one layer's inputs
// (samples x tokens x dim floats) and one stage's Hessians.
//
// No MLIR here: the qllm-gptq pass exports the plan and rewrites the IR.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_QUANTIZE_CALIBRATION_H
#define QUANT_QUANTIZE_CALIBRATION_H

#include "quant/Quantize/Gptq.h"

#include "qrt/core/Plan.h"
#include "qrt/text/Tokenizer.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace quant {

/// Where calibration tokens come from.
struct CalibrationText {
  std::string path;
  std::string docSep = "<|endoftext|>";
  int64_t samples = 128;
  int64_t seqlen = 2048;
  /// Documents skipped first (e.g. an evaluation set).
  int64_t offset = 0;
  /// false: each sample is one document, BOS + its tokens truncated to
  /// seqlen (documents offset, offset + 1, ...). true: windows of seqlen
  /// tokens at uniformly random starts (std::mt19937_64 seeded with `seed`)
  /// in the token stream of the documents from `offset` on, each document
  /// as BOS + its tokens (the GPTQ repository's loaders take windows so).
  bool windows = false;
  uint64_t seed = 0;
};

/// The token samples `text` describes, each at most `maxTokens` long (the
/// calibration plan's prefill). Returns an empty string or what is wrong
/// (the file cannot be read, no document after the offset, too little text
/// for a window).
std::string calibrationSamples(const CalibrationText &text,
                               const qrt::text::Tokenizer &tokenizer,
                               int64_t maxTokens,
                               std::vector<std::vector<int32_t>> &samples);

/// How runGptq runs.
struct GptqRun {
  GptqOptions solver;
  bool trueSequential = true;
  /// Also quantize each weight by round to nearest (GPTQ's rules) and
  /// measure both output errors against the Hessian.
  bool compareRtn = false;
  /// When not empty: each weight's Hessian (2/n sum x x^T, f64) is written
  /// there as `<weight name>.npy` (characters other than [A-Za-z0-9._-] as
  /// '_').
  std::string saveHessians;
  /// Progress lines (layer i of n, weights, seconds, ETA); null: none.
  std::function<void(const std::string &)> progress;
};

/// One quantized weight.
struct GptqResult {
  std::string name;
  /// The stage that solved it (results of one stage share forwardSeconds).
  int64_t stage = 0;
  int64_t layer = 0;
  int64_t rows = 0, cols = 0;
  qrt::QuantizedWeight weight;
  GptqStats stats;
  /// Calibration tokens of its Hessian.
  int64_t tokens = 0;
  /// ||WX - QX||^2 per token: GPTQ's, and round to nearest's (compareRtn).
  double gptqError = 0, rtnError = 0;
  /// Seconds of its stage's forwards (with the forward through the layer
  /// before, when the stage is a layer's first), and of its solve (with
  /// preparing the Hessian, for the first weight of a unit).
  double forwardSeconds = 0, solveSeconds = 0;
};

/// GPTQ of the MatMul weights named in `weights` (each read as f32 [N, K] by
/// a MatMul step of the largest-max_tokens entry) of `plan`, which must be
/// opened from memory: its weights are overwritten with the quantized
/// values as stages finish. `samples` run from position 0, each in one
/// chunk (at most the entry's max_tokens; longer ones are truncated).
/// Returns an empty string or the first error, naming the weight.
std::string runGptq(qrt::LoadedPlan &plan,
                    const std::vector<std::vector<int32_t>> &samples,
                    const std::vector<std::string> &weights,
                    const GptqRun &run, std::vector<GptqResult> &results);

} // namespace quant

#endif // QUANT_QUANTIZE_CALIBRATION_H
