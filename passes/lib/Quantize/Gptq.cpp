//===- Gptq.cpp - GPTQ weight quantization --------------------------------===//
//
// Linear algebra with Eigen (header-only: nothing to link or carry to
// another machine, and its LLT and blocked products are enough here): the
// Hessian, its Cholesky factors and the weight being updated are float64,
// as the solver's accuracy needs for Hessians of thousands of inputs with
// a condition number raised only by the dampening. With OpenMP, Eigen's
// Cholesky and products use every core; rows are independent given U, so
// the column loop runs on row ranges in parallel.
//
//===----------------------------------------------------------------------===//

#include "quant/Quantize/Gptq.h"

#include "QuantizerCommon.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

using namespace qrt;

namespace quant {

namespace {

using MatrixRM =
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// The quantization parameters of one group of one row.
struct Params {
  double scale = 0;
  int zero = 0;
};

struct Quantizer {
  IntNScheme scheme;
  int maxq = 0;

  explicit Quantizer(const IntNScheme &s)
      : scheme(s), maxq((1 << s.bits) - 1) {}

  double stored(double x) const {
    uint8_t bytes[4];
    return storeScale(static_cast<float>(x), scheme.scaleType, bytes);
  }
  int code(double x, const Params &p) const {
    if (p.scale == 0) // a range that underflows the scale type
      return p.zero;
    double q = std::nearbyint(x / p.scale) + p.zero;
    return static_cast<int>(std::clamp(q, 0.0, double(maxq)));
  }
  double dequant(int q, const Params &p) const {
    return p.scale * (q - p.zero);
  }
  Params fromRange(double xmin, double xmax) const {
    Params p;
    p.scale = stored((xmax - xmin) / maxq);
    p.zero = scheme.symmetric ? implicitZeroPoint(scheme.bits)
             : p.scale == 0
                 ? 0
                 : static_cast<int>(std::clamp(std::nearbyint(-xmin / p.scale),
                                               0.0, double(maxq)));
    return p;
  }
  /// Parameters of x[0..count) (stride apart), clip-searched with weights c
  /// (null: none; stride-1 over the same columns) when `search`.
  Params find(const double *x, int64_t count, bool search,
              const double *c) const {
    double xmin = 0, xmax = 0;
    for (int64_t j = 0; j < count; ++j) {
      xmin = std::min(xmin, x[j]);
      xmax = std::max(xmax, x[j]);
    }
    if (scheme.symmetric) {
      xmax = std::max(std::fabs(xmin), xmax);
      if (xmin < 0)
        xmin = -xmax;
    }
    if (xmin == 0 && xmax == 0) {
      xmin = -1;
      xmax = 1;
    }
    Params best = fromRange(xmin, xmax);
    if (!search)
      return best;
    double bestError = error(x, count, c, best);
    for (int i = 1; i < 80; ++i) {
      double p = 1.0 - i / 100.0;
      Params candidate = fromRange(p * xmin, p * xmax);
      double e = error(x, count, c, candidate);
      if (e < bestError) {
        bestError = e;
        best = candidate;
      }
    }
    return best;
  }
  double error(const double *x, int64_t count, const double *c,
               const Params &p) const {
    double sum = 0;
    for (int64_t j = 0; j < count; ++j) {
      double d = dequant(code(x[j], p), p) - x[j];
      sum += (c ? c[j] : 1.0) * d * d;
    }
    return sum;
  }
};

/// Writes codes [rows, cols] and per-(row, group) parameters into `out`
/// (already laid out for `scheme`).
void store(const IntNScheme &scheme, int64_t rows, int64_t cols,
           const std::vector<uint8_t> &codes, const std::vector<Params> &params,
           int64_t groups, const std::vector<int32_t> *groupIndex,
           QuantizedWeight &out) {
  const unsigned scaleBytes = elementKindBytes(elementKindOf(scheme.scaleType));
  const int64_t rowBytes = packedBytes(cols, scheme.bits);
  const int64_t zeroRowBytes = packedBytes(groups, scheme.bits);
  std::vector<uint8_t> zeros(static_cast<size_t>(groups));
  size_t component = 2;
  uint8_t *zeroPoints =
      scheme.symmetric ? nullptr : out.components[component++].data();
  for (int64_t r = 0; r < rows; ++r) {
    packCodes(codes.data() + r * cols, cols, scheme.bits,
              out.components[0].data() + r * rowBytes);
    for (int64_t g = 0; g < groups; ++g) {
      const Params &p = params[r * groups + g];
      storeScale(static_cast<float>(p.scale), scheme.scaleType,
                 out.components[1].data() + (r * groups + g) * scaleBytes);
      zeros[g] = static_cast<uint8_t>(p.zero);
    }
    if (zeroPoints)
      packCodes(zeros.data(), groups, scheme.bits,
                zeroPoints + r * zeroRowBytes);
  }
  if (groupIndex)
    std::memcpy(out.components[component].data(), groupIndex->data(),
                groupIndex->size() * sizeof(int32_t));
}

int threadCount(int requested, int64_t rows) {
  int n = requested > 0 ? requested : omp_get_num_procs();
  return static_cast<int>(
      std::clamp<int64_t>(n, 1, std::max<int64_t>(rows, 1)));
}

/// Runs f(begin, end) over row ranges on `threads` OpenMP threads (Eigen's
/// products inside then run on one thread each: nested regions are off).
template <typename F> void forRows(int threads, int64_t rows, F f) {
  int64_t chunk = (rows + threads - 1) / threads;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int t = 0; t < threads; ++t) {
    int64_t begin = t * chunk, end = std::min(rows, begin + chunk);
    if (begin < end)
      f(begin, end);
  }
}

} // namespace

IntNScheme storedScheme(const GptqOptions &options) {
  IntNScheme s = options.scheme;
  s.actOrder =
      s.actOrder && !options.staticGroups && s.groupSize != kPerChannel;
  return s;
}

/// H made ready for the solver, once for every weight that reads the same
/// input.
struct GptqHessian::Impl {
  int64_t cols = 0;
  Eigen::VectorXd diag;      // of H as given
  std::vector<bool> dead;    // H_jj == 0
  std::vector<int64_t> perm; // act order (identity without)
  MatrixRM U;                // upper Cholesky factor of the damped H^-1
  GptqStats stats;           // dead columns, dampening, trace
};

GptqHessian::GptqHessian() = default;
GptqHessian::~GptqHessian() = default;
int64_t GptqHessian::cols() const { return impl ? impl->cols : 0; }

namespace {

using MatrixCM = Eigen::MatrixXd;

/// L^-1 of the lower triangular `l`, its column blocks on all threads (each
/// block solves only the rows at and below it).
MatrixCM lowerInverse(const MatrixCM &l) {
  const int64_t n = l.rows(), block = 128;
  MatrixCM inverse = MatrixCM::Zero(n, n);
  const int64_t blocks = (n + block - 1) / block;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t b = 0; b < blocks; ++b) {
    int64_t j0 = b * block, width = std::min(n, j0 + block) - j0;
    MatrixCM x = MatrixCM::Identity(n - j0, width);
    l.bottomRightCorner(n - j0, n - j0)
        .triangularView<Eigen::Lower>()
        .solveInPlace(x);
    inverse.block(j0, j0, n - j0, width) = x;
  }
  return inverse;
}

} // namespace

std::string prepareGptqHessian(const GptqOptions &options, const double *h,
                               int64_t cols, GptqHessian &out) {
  if (cols <= 0)
    return "the Hessian has no columns";
  if (!(options.dampPercent > 0))
    return "damp-percent must be positive, got " +
           std::to_string(options.dampPercent);
  for (int64_t i = 0; i < cols * cols; ++i)
    if (!std::isfinite(h[i]))
      return "the Hessian holds a NaN or infinity at row " +
             std::to_string(i / cols) + ", column " + std::to_string(i % cols);
  auto impl = std::make_shared<GptqHessian::Impl>();
  impl->cols = cols;
  Eigen::Map<const MatrixRM> hIn(h, cols, cols);
  impl->diag = hIn.diagonal();
  GptqStats &stats = impl->stats;
  stats.hessianTrace = impl->diag.sum();

  // Dead inputs (H_jj = 0: H_jj = 1) and act order (columns by descending
  // diag(H), stable).
  impl->dead.assign(static_cast<size_t>(cols), false);
  for (int64_t j = 0; j < cols; ++j)
    if (impl->diag[j] == 0) {
      ++stats.deadColumns;
      impl->dead[j] = true;
    }
  std::vector<int64_t> &perm = impl->perm;
  perm.resize(static_cast<size_t>(cols));
  std::iota(perm.begin(), perm.end(), 0);
  auto diagonal = [&](int64_t j) {
    return impl->dead[j] ? 1.0 : impl->diag[j];
  };
  if (options.scheme.actOrder)
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
      return diagonal(a) > diagonal(b);
    });
  double mean = 0;
  for (int64_t j = 0; j < cols; ++j)
    mean += diagonal(j);
  mean /= static_cast<double>(cols);

  // The factor: with J the reversal and Hd the damped, permuted H, the
  // Cholesky factor L of J Hd J gives Hd = V V^T for the upper triangular
  // V = J L J, so Hd^-1 = (V^-1)^T V^-1 and U = V^-1 = J L^-1 J: one
  // Cholesky (in place) and one triangular inverse, no full inverse, three
  // matrices of H's size at the most. A Hessian that is not positive
  // definite raises the dampening.
  MatrixCM R(cols, cols);
  stats.dampPercent = options.dampPercent;
  for (;; ++stats.dampRetries) {
    if (stats.dampRetries == 6)
      return "the Hessian is not positive definite even with damp-percent " +
             std::to_string(stats.dampPercent / 10);
    stats.damp = stats.dampPercent * mean;
    for (int64_t c = 0; c < cols; ++c) {
      int64_t pc = perm[cols - 1 - c];
      for (int64_t r = 0; r < cols; ++r) {
        int64_t pr = perm[cols - 1 - r];
        R(r, c) = pr == pc ? diagonal(pr) + stats.damp : hIn(pr, pc);
      }
    }
    Eigen::LLT<Eigen::Ref<MatrixCM>> llt(R);
    if (llt.info() == Eigen::Success) {
      MatrixCM inverse = lowerInverse(R);
      R.resize(0, 0);
      impl->U = inverse.reverse();
      const MatrixRM &U = impl->U;
      if (U.allFinite() && (U.diagonal().array() > 0).all())
        break;
      R.resize(cols, cols);
    }
    stats.dampPercent *= 10;
  }
  out.impl = std::move(impl);
  return {};
}

std::string quantizeGptq(const GptqOptions &options, const float *w,
                         int64_t rows, int64_t cols, const double *h,
                         QuantizedWeight &out, GptqStats &stats) {
  GptqHessian hessian;
  std::string error = prepareGptqHessian(options, h, cols, hessian);
  if (!error.empty()) {
    stats = GptqStats();
    return error;
  }
  return quantizeGptq(options, w, rows, cols, hessian, out, stats);
}

std::string quantizeGptq(const GptqOptions &options, const float *w,
                         int64_t rows, int64_t cols, const GptqHessian &hessian,
                         QuantizedWeight &out, GptqStats &stats) {
  stats = GptqStats();
  IntNScheme scheme = options.scheme;
  scheme.actOrder = false;
  std::string error = validate(scheme);
  if (!error.empty())
    return error;
  if (rows <= 0 || cols <= 0)
    return "weight has no elements";
  if (!hessian.impl || hessian.cols() != cols)
    return "the Hessian has " + std::to_string(hessian.cols()) +
           " columns, the weight " + std::to_string(cols);
  if (options.blockSize <= 0)
    return "block-size must be positive, got " +
           std::to_string(options.blockSize);
  if (!(error = detail::findNonFinite(w, rows, cols)).empty())
    return "the weight " + error;
  const GptqHessian::Impl &prepared = *hessian.impl;
  stats = prepared.stats;

  const Quantizer quantizer(scheme);
  const bool perChannel = scheme.groupSize == kPerChannel;
  const int64_t group = perChannel ? cols : scheme.groupSize;
  const int64_t groups = numGroups(cols, scheme.groupSize);
  const bool staticGroups = options.staticGroups && !perChannel;
  const IntNScheme stored = storedScheme(options);
  const Eigen::VectorXd &diag = prepared.diag;
  const std::vector<int64_t> &perm = prepared.perm;
  const MatrixRM &U = prepared.U;
  MatrixRM W =
      Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic,
                                     Eigen::RowMajor>>(w, rows, cols)
          .cast<double>();

  // Per-channel parameters from W as given (before dead columns are zeroed).
  std::vector<Params> params(static_cast<size_t>(rows * groups));
  auto clipWeights = [&](std::vector<double> &c, int64_t begin, int64_t count) {
    c.assign(diag.data() + begin, diag.data() + begin + count);
  };
  if (perChannel) {
    std::vector<double> c;
    clipWeights(c, 0, cols);
    for (int64_t r = 0; r < rows; ++r)
      params[r] =
          quantizer.find(W.row(r).data(), cols, options.clipSearch, c.data());
  }
  for (int64_t j = 0; j < cols; ++j)
    if (prepared.dead[j])
      W.col(j).setZero();

  // Static groups: contiguous groups' parameters before the permutation.
  if (staticGroups) {
    std::vector<double> c;
    for (int64_t g = 0; g < groups; ++g) {
      int64_t begin = g * group, count = std::min(cols, begin + group) - begin;
      clipWeights(c, begin, count);
      for (int64_t r = 0; r < rows; ++r)
        params[r * groups + g] = quantizer.find(W.row(r).data() + begin, count,
                                                options.clipSearch, c.data());
    }
  }
  if (options.scheme.actOrder) {
    MatrixRM Wp(rows, cols);
    for (int64_t j = 0; j < cols; ++j)
      Wp.col(j) = W.col(perm[j]);
    W.swap(Wp);
  }

  // The lazy-batch loop, rows split over threads.
  std::vector<uint8_t> codes(static_cast<size_t>(rows * cols));
  std::vector<double> losses(static_cast<size_t>(rows), 0.0);
  std::vector<double> diagPermuted(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j)
    diagPermuted[j] = diag[perm[j]];
  const int64_t block = options.blockSize;
  forRows(
      threadCount(options.threads, rows), rows, [&](int64_t r0, int64_t r1) {
        const int64_t n = r1 - r0;
        Eigen::Ref<MatrixRM> Wr = W.middleRows(r0, n);
        MatrixRM W1, Err1;
        for (int64_t i1 = 0; i1 < cols; i1 += block) {
          int64_t i2 = std::min(i1 + block, cols), count = i2 - i1;
          W1 = Wr.middleCols(i1, count);
          Err1.setZero(n, count);
          for (int64_t i = 0; i < count; ++i) {
            int64_t j = i1 + i;
            double d = U(j, j);
            if (!perChannel && !staticGroups && j % group == 0) {
              int64_t width = std::min(cols, j + group) - j;
              for (int64_t r = 0; r < n; ++r)
                params[(r0 + r) * groups + j / group] =
                    quantizer.find(Wr.row(r).data() + j, width,
                                   options.clipSearch, diagPermuted.data() + j);
            }
            int64_t g = perChannel     ? 0
                        : staticGroups ? perm[j] / group
                                       : j / group;
            for (int64_t r = 0; r < n; ++r) {
              const Params &p = params[(r0 + r) * groups + g];
              double x = W1(r, i);
              int q = quantizer.code(x, p);
              codes[(r0 + r) * cols + perm[j]] = static_cast<uint8_t>(q);
              double diff = x - quantizer.dequant(q, p);
              losses[r0 + r] += diff * diff / (d * d) / 2;
              double e = diff / d;
              Err1(r, i) = e;
              W1.row(r).segment(i, count - i) -=
                  e * U.row(j).segment(j, count - i);
            }
          }
          if (i2 < cols)
            Wr.middleCols(i2, cols - i2).noalias() -=
                Err1 * U.block(i1, i2, count, cols - i2);
        }
      });
  for (double l : losses)
    stats.loss += l;

  std::vector<int32_t> groupIndex;
  if (stored.actOrder) {
    groupIndex.resize(static_cast<size_t>(cols));
    for (int64_t j = 0; j < cols; ++j)
      groupIndex[perm[j]] = static_cast<int32_t>(j / group);
  }
  detail::allocateComponents(out, layoutFor(stored, rows, cols));
  store(stored, rows, cols, codes, params, groups,
        stored.actOrder ? &groupIndex : nullptr, out);
  return {};
}

std::string quantizeGptqRtn(const IntNScheme &scheme, bool clipSearch,
                            const float *w, int64_t rows, int64_t cols,
                            const double *columnWeights, QuantizedWeight &out) {
  IntNScheme s = scheme;
  s.actOrder = false;
  std::string error = validate(s);
  if (error.empty() && (rows <= 0 || cols <= 0))
    error = "weight has no elements";
  if (error.empty())
    if (!(error = detail::findNonFinite(w, rows, cols)).empty())
      error = "the weight " + error;
  if (!error.empty())
    return error;
  const Quantizer quantizer(s);
  const int64_t group = s.groupSize == kPerChannel ? cols : s.groupSize;
  const int64_t groups = numGroups(cols, s.groupSize);
  std::vector<uint8_t> codes(static_cast<size_t>(rows * cols));
  std::vector<Params> params(static_cast<size_t>(rows * groups));
  std::vector<double> x(static_cast<size_t>(group));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      int64_t begin = g * group, count = std::min(cols, begin + group) - begin;
      for (int64_t j = 0; j < count; ++j)
        x[j] = w[r * cols + begin + j];
      Params p =
          quantizer.find(x.data(), count, clipSearch,
                         columnWeights ? columnWeights + begin : nullptr);
      params[r * groups + g] = p;
      for (int64_t j = 0; j < count; ++j)
        codes[r * cols + begin + j] =
            static_cast<uint8_t>(quantizer.code(x[j], p));
    }
  detail::allocateComponents(out, layoutFor(s, rows, cols));
  store(s, rows, cols, codes, params, groups, nullptr, out);
  return {};
}

double outputError(const float *w, const float *q, int64_t rows, int64_t cols,
                   const double *h) {
  using MatrixF =
      Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  // In f32 (a report's figure; products of thousands of terms keep about
  // six digits), summed in f64.
  MatrixF D = Eigen::Map<const MatrixF>(w, rows, cols) -
              Eigen::Map<const MatrixF>(q, rows, cols);
  MatrixF H = Eigen::Map<const MatrixRM>(h, cols, cols).cast<float>();
  MatrixF DH = D * H;
  return DH.cwiseProduct(D).cast<double>().sum() / 2;
}

} // namespace quant
