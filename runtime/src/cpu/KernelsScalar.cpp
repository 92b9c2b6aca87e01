//===- KernelsScalar.cpp - The portable build of the CPU kernels ----------===//
//
// Plain C++ for any x86-64 (or other) CPU, and the reference the SIMD builds
// are tested against alongside the tests' own double-precision references.
// Dot products keep 8 interleaved partial sums, like the SIMD builds, which
// bounds their rounding error the same way and gives the CPU independent
// additions to overlap.
//
//===----------------------------------------------------------------------===//

#include "KernelTable.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qrt::cpu::detail {
namespace {

constexpr int kPartialSums = 8;

inline float weightAt(const float *w, int64_t i) { return w[i]; }
inline float weightAt(const uint16_t *w, int64_t i) {
  return halfToFloatScalar(w[i]);
}

template <typename WT> float dot(const float *x, const WT *w, int64_t k) {
  float partial[kPartialSums] = {};
  int64_t i = 0;
  for (; i + kPartialSums <= k; i += kPartialSums)
    for (int lane = 0; lane < kPartialSums; ++lane)
      partial[lane] += x[i + lane] * weightAt(w, i + lane);
  for (int lane = 0; i < k; ++i, ++lane)
    partial[lane] += x[i] * weightAt(w, i);
  float sum = 0.0f;
  for (float value : partial)
    sum += value;
  return sum;
}

template <typename WT>
void gemmRows(const float *x, int64_t m, int64_t k, const WT *w, int64_t n,
              int64_t rowBegin, int64_t rowEnd, float *y) {
  for (int64_t j = rowBegin; j < rowEnd; ++j)
    for (int64_t i = 0; i < m; ++i)
      y[i * n + j] = dot(x + i * k, w + j * k, k);
}

void gemv(const float *x, int64_t k, const void *w, WeightType wtype,
          int64_t rowBegin, int64_t rowEnd, float *y) {
  if (wtype == WeightType::F32)
    gemmRows(x, 1, k, static_cast<const float *>(w), 0, rowBegin, rowEnd, y);
  else
    gemmRows(x, 1, k, static_cast<const uint16_t *>(w), 0, rowBegin, rowEnd, y);
}

void gemm(const float *x, int64_t m, int64_t k, const void *w, WeightType wtype,
          int64_t n, int64_t rowBegin, int64_t rowEnd, float *y) {
  if (wtype == WeightType::F32)
    gemmRows(x, m, k, static_cast<const float *>(w), n, rowBegin, rowEnd, y);
  else
    gemmRows(x, m, k, static_cast<const uint16_t *>(w), n, rowBegin, rowEnd, y);
}

void rmsNormRow(const float *x, int64_t dim, const float *weight, float epsilon,
                float *y) {
  float meanSquare = dot(x, x, dim) / static_cast<float>(dim);
  float scale = 1.0f / std::sqrt(meanSquare + epsilon);
  for (int64_t i = 0; i < dim; ++i)
    y[i] = x[i] * scale * weight[i];
}

void add(const float *a, const float *b, int64_t count, float *y) {
  for (int64_t i = 0; i < count; ++i)
    y[i] = a[i] + b[i];
}

void swiglu(const float *gate, const float *up, int64_t count, float *y) {
  for (int64_t i = 0; i < count; ++i)
    y[i] = gate[i] * up[i] / (1.0f + std::exp(-gate[i]));
}

void halfToFloat(const uint16_t *in, int64_t count, float *out) {
  for (int64_t i = 0; i < count; ++i)
    out[i] = halfToFloatScalar(in[i]);
}

void attendOne(const float *q, const float *keys, const float *values,
               int64_t positions, int64_t headDim, float scale, float *scores,
               float *out) {
  float maximum = -std::numeric_limits<float>::infinity();
  for (int64_t t = 0; t < positions; ++t) {
    scores[t] = scale * dot(q, keys + t * headDim, headDim);
    maximum = std::max(maximum, scores[t]);
  }
  float sum = 0.0f;
  for (int64_t t = 0; t < positions; ++t) {
    scores[t] = std::exp(scores[t] - maximum);
    sum += scores[t];
  }
  float norm = 1.0f / sum;
  std::fill(out, out + headDim, 0.0f);
  for (int64_t t = 0; t < positions; ++t) {
    const float *row = values + t * headDim;
    for (int64_t d = 0; d < headDim; ++d)
      out[d] += scores[t] * row[d];
  }
  for (int64_t d = 0; d < headDim; ++d)
    out[d] *= norm;
}

} // namespace

const KernelTable &scalarKernels() {
  static const KernelTable table = [] {
    KernelTable kernels{};
    kernels.name = "scalar";
    kernels.isa = Isa::Scalar;
    kernels.gemvRows = 4;
    kernels.gemmRows = 4;
    kernels.gemv = gemv;
    kernels.gemm = gemm;
    kernels.rmsNormRow = rmsNormRow;
    kernels.add = add;
    kernels.swiglu = swiglu;
    kernels.halfToFloat = halfToFloat;
    kernels.attendOne = attendOne;
    return kernels;
  }();
  return table;
}

} // namespace qrt::cpu::detail
