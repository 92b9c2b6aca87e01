//===- Gptq.h - GPTQ weight quantization (MLIR-free) ------------*- C++ -*-===//
//
// GPTQ (Frantar et al., 2022): quantize a weight W [rows, cols] column by
// column, each column's rounding error spread over the columns not yet
// quantized through the inverse Hessian of the layer's inputs,
// H = 2/n * sum x x^T. The rules follow the reference implementation
// (IST-DASLab/gptq gptq.py / quant.py; GPTQModel for static groups):
//
//   group parameters (per row, over a group of columns x):
//     xmin = min(0, min x), xmax = max(0, max x);
//     symmetric: xmax = max(|xmin|, xmax), and xmin = -xmax where xmin < 0;
//     xmin = -1, xmax = 1 where both are 0;
//     s = stored((xmax - xmin) / (2^bits - 1));
//     z = 2^(bits-1) (symmetric) or clamp(rint(-xmin / s), 0, 2^bits - 1).
//   Unlike the reference, s is rounded to the stored scale type before the
//   codes are chosen, so the error GPTQ feeds back is the stored weight's.
//   clip search: also try the range shrunk by p = 1 - i/100, i < 80, and
//   keep the one with the smallest sum_j c_j (dequant(quant(x_j)) - x_j)^2,
//   c_j = H_jj (GPTQ) or 1 (round to nearest).
//
//   solver: per-channel parameters come from W before dead columns
//   (H_jj = 0) are zeroed; H_jj = 1 for those; with static groups each
//   contiguous group's parameters come from W before the act-order
//   permutation; act order sorts columns by descending diag(H) (stable);
//   H += damp * mean(diag H) * I, increased 10x while H is not positive
//   definite; U = the upper Cholesky factor of H^-1 (computed as the
//   inverse of the reversed Cholesky factor of H); then columns in blocks
//   of blockSize with lazy updates, a group's parameters computed from W as
//   it stands at the start of the current block when its first column
//   comes (as the reference does).
//
// Act order without static groups stores the group index (g_idx); with
// static groups, or per channel, the stored groups are plain contiguous
// ones (storedScheme). The independent reference is
// test/e2e/reference/gptq_numpy.py.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_QUANTIZE_GPTQ_H
#define QUANT_QUANTIZE_GPTQ_H

#include "qrt/core/QuantizedWeight.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace quant {

struct GptqOptions {
  /// Bits, group size (kPerChannel: per row), symmetry, scale type; actOrder
  /// is GPTQ's desc_act (columns by descending diag(H)).
  qrt::IntNScheme scheme;
  /// GPTQModel's static_groups: group parameters from W before the act-order
  /// permutation (stored groups stay contiguous).
  bool staticGroups = false;
  /// Dampening added to diag(H), as a fraction of its mean.
  double dampPercent = 0.01;
  /// Columns per lazy batch update.
  int64_t blockSize = 128;
  /// Search each group's range for the smallest H-weighted error.
  bool clipSearch = false;
  /// Threads over rows (0: all cores).
  int threads = 0;
};

/// What the solver did, for reports and warnings.
struct GptqStats {
  /// Columns with H_jj = 0 (inputs that are always zero).
  int64_t deadColumns = 0;
  /// The dampening fraction used (dampPercent, or larger after retries), and
  /// the value added to diag(H).
  double dampPercent = 0, damp = 0;
  /// Times the dampening was raised because H was not positive definite.
  int dampRetries = 0;
  /// trace(H).
  double hessianTrace = 0;
  /// The reference's loss: sum over columns of (w - q)^2 / (2 U_jj^2).
  double loss = 0;
};

/// A Hessian made ready for the solver (dead inputs, act-order permutation,
/// dampening, the upper Cholesky factor of its inverse): the weights that
/// read one input (q/k/v) share it.
class GptqHessian {
public:
  GptqHessian();
  ~GptqHessian();
  int64_t cols() const;
  struct Impl;
  std::shared_ptr<const Impl> impl;
};

/// Prepares h [cols, cols] (f64, row-major) for weights quantized with
/// `options` (its act order, dampening). Returns an empty string, or what is
/// wrong: a NaN or infinity, a bad dampening, H not positive definite even
/// after raising the dampening.
std::string prepareGptqHessian(const GptqOptions &options, const double *h,
                               int64_t cols, GptqHessian &out);

/// The scheme the solver's result is stored in: act order (a group index)
/// only when groups follow the permutation (act order, not static, not per
/// channel).
qrt::IntNScheme storedScheme(const GptqOptions &options);

/// GPTQ of w [rows, cols] (f32, row-major) with h [cols, cols] (f64,
/// row-major, 2/n * sum x x^T) into `out`, in storedScheme(options). Returns
/// an empty string, or what is wrong: an invalid scheme or option, a NaN or
/// infinity in w or h, a Hessian of the wrong size, or H not positive
/// definite even after raising the dampening.
std::string quantizeGptq(const GptqOptions &options, const float *w,
                         int64_t rows, int64_t cols, const double *h,
                         qrt::QuantizedWeight &out, GptqStats &stats);
/// The same with a prepared Hessian (prepared with the same options).
std::string quantizeGptq(const GptqOptions &options, const float *w,
                         int64_t rows, int64_t cols,
                         const GptqHessian &hessian, qrt::QuantizedWeight &out,
                         GptqStats &stats);

/// Round to nearest with GPTQ's group parameters (above), optionally with
/// the clip search weighted by `columnWeights` ([cols], null: all 1).
std::string quantizeGptqRtn(const qrt::IntNScheme &scheme, bool clipSearch,
                            const float *w, int64_t rows, int64_t cols,
                            const double *columnWeights,
                            qrt::QuantizedWeight &out);

/// Mean over inputs of ||(W - Q) x||^2 given H = 2/n sum x x^T:
/// trace((W - Q) H (W - Q)^T) / 2, with w and q [rows, cols] (f32).
double outputError(const float *w, const float *q, int64_t rows, int64_t cols,
                   const double *h);

} // namespace quant

#endif // QUANT_QUANTIZE_GPTQ_H
