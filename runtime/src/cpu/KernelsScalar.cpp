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

#include "qrt/core/Half.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

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

//===----------------------------------------------------------------------===//
// Fused dequantize-matmul: every format through the portable decoder
//===----------------------------------------------------------------------===//

/// Scales and zero points of every group of `row` into the thread's scratch,
/// then the row dequantized into `out` [cols].
void dequantizeRow(const QuantizedView &w, int64_t row, float *out) {
  thread_local std::vector<float> params;
  const int64_t groups = w.groups();
  if (params.size() < static_cast<size_t>(2 * groups))
    params.resize(static_cast<size_t>(2 * groups));
  decodeScales(w, row, 0, groups, params.data());
  decodeZeros(w, row, 0, groups, params.data() + groups);
  dequantizeSegment(w, row, 0, w.cols, params.data(), params.data() + groups, 0,
                    out);
}

/// Each weight row is dequantized once, then multiplied with every x row.
void quantGemm(const QuantMatmulArgs &args, int64_t rowBegin, int64_t rowEnd,
               float *y) {
  const QuantizedView &w = *args.w;
  thread_local std::vector<float> row;
  if (row.size() < static_cast<size_t>(w.cols))
    row.resize(static_cast<size_t>(w.cols));
  for (int64_t j = rowBegin; j < rowEnd; ++j) {
    dequantizeRow(w, j, row.data());
    for (int64_t i = 0; i < args.m; ++i)
      y[i * w.rows + j] = dot(args.x + i * w.cols, row.data(), w.cols);
  }
}

void quantGemv(const QuantMatmulArgs &args, int64_t rowBegin, int64_t rowEnd,
               float *y) {
  quantGemm(args, rowBegin, rowEnd, y);
}

} // namespace

//===----------------------------------------------------------------------===//
// The portable decoder of quantized weights
//===----------------------------------------------------------------------===//

namespace {

/// Code `index` of a packed row of `rowBytes` bytes (WeightFormat.h's bit
/// stream). Reads no byte past the row.
template <int Bits>
inline int codeAt(const uint8_t *row, int64_t rowBytes, int64_t index) {
  constexpr int kMask = (1 << Bits) - 1;
  if constexpr (Bits == 8) {
    (void)rowBytes;
    return row[index];
  } else if constexpr (8 % Bits == 0) {
    (void)rowBytes;
    int64_t bit = index * Bits;
    return (row[bit >> 3] >> (bit & 7)) & kMask;
  } else {
    // A code may straddle two bytes.
    int64_t bit = index * Bits, byte = bit >> 3;
    unsigned pair = row[byte];
    if (byte + 1 < rowBytes)
      pair |= static_cast<unsigned>(row[byte + 1]) << 8;
    return static_cast<int>(pair >> (bit & 7)) & kMask;
  }
}

template <int Bits>
void unpackRange(const uint8_t *packed, int64_t bytes, int64_t begin,
                 int64_t end, float *out) {
  for (int64_t i = begin; i < end; ++i)
    out[i - begin] = static_cast<float>(codeAt<Bits>(packed, bytes, i));
}

template <int Bits, bool IsNF4>
void dequantizeSegmentT(const QuantizedView &w, int64_t row, int64_t c0,
                        int64_t c1, const float *scales, const float *zeros,
                        int64_t g0, float *out) {
  const int64_t rowBytes = w.rowBytes();
  const float *table = float4CodeValues(w.float4.codes);
  const uint8_t *codes = w.data + row * rowBytes;
  auto value = [&](int64_t c, int64_t g) {
    int q = codeAt<Bits>(codes, rowBytes, c);
    // As dequantizeRows: float(q - z) * s (q - z is exact in float).
    if constexpr (IsNF4)
      return table[q] * scales[g - g0];
    else
      return (static_cast<float>(q) - zeros[g - g0]) * scales[g - g0];
  };
  if (w.groupIndex) {
    for (int64_t c = c0; c < c1; ++c) {
      assert(w.groupIndex[c] >= g0 && w.groupIndex[c] < w.groups());
      out[c - c0] = value(c, w.groupIndex[c]);
    }
    return;
  }
  const int64_t groupSize =
      w.groupSize() == kPerChannel ? w.cols : w.groupSize();
  for (int64_t c = c0; c < c1;) {
    int64_t g = c / groupSize;
    int64_t end = std::min(c1, (g + 1) * groupSize);
    for (; c < end; ++c)
      out[c - c0] = value(c, g);
  }
}

} // namespace

void decodeScales(const QuantizedView &w, int64_t row, int64_t g0, int64_t g1,
                  float *out) {
  const int64_t first = row * w.groups() + g0, count = g1 - g0;
  if (w.kind == QuantizedView::Kind::Float4 && w.float4.doubleQuant) {
    // absmax = map[code] * c[index / block] + offset, as QuantizedView::scale.
    const uint8_t *codes = static_cast<const uint8_t *>(w.scales);
    const float *map = dynamicMap8();
    const int64_t block = w.float4.doubleQuantBlockSize;
    int64_t outer = first / block, next = (outer + 1) * block;
    for (int64_t i = 0; i < count; ++i) {
      if (first + i == next) {
        ++outer;
        next += block;
      }
      out[i] = map[codes[first + i]] * w.doubleQuantScales[outer] +
               w.doubleQuantOffset;
    }
    return;
  }
  ScaleType type =
      w.kind == QuantizedView::Kind::Float4 ? w.float4.scaleType : w.intN.scaleType;
  switch (type) {
  case ScaleType::F32:
    std::memcpy(out, static_cast<const float *>(w.scales) + first,
                static_cast<size_t>(count) * sizeof(float));
    return;
  case ScaleType::F16: {
    const uint16_t *halves = static_cast<const uint16_t *>(w.scales) + first;
    for (int64_t i = 0; i < count; ++i)
      out[i] = halfToFloatScalar(halves[i]);
    return;
  }
  case ScaleType::BF16: {
    const uint16_t *halves = static_cast<const uint16_t *>(w.scales) + first;
    for (int64_t i = 0; i < count; ++i) {
      uint32_t bits = static_cast<uint32_t>(halves[i]) << 16;
      std::memcpy(&out[i], &bits, sizeof(float));
    }
    return;
  }
  }
}

void decodeZeros(const QuantizedView &w, int64_t row, int64_t g0, int64_t g1,
                 float *out) {
  const int64_t count = g1 - g0;
  if (w.kind == QuantizedView::Kind::Float4 || w.intN.symmetric) {
    float zero = w.kind == QuantizedView::Kind::Float4
                     ? 0.0f
                     : static_cast<float>(implicitZeroPoint(w.intN.bits));
    std::fill(out, out + count, zero);
    return;
  }
  const int64_t bytes = packedBytes(w.groups(), w.intN.bits);
  const uint8_t *packed = w.zeroPoints + row * bytes;
  switch (w.intN.bits) {
  case 2:
    return unpackRange<2>(packed, bytes, g0, g1, out);
  case 3:
    return unpackRange<3>(packed, bytes, g0, g1, out);
  case 4: {
    // Whole bytes two nibbles at a time (a loop the compiler vectorizes).
    int64_t g = g0;
    if (g & 1) {
      out[0] = static_cast<float>(packed[g >> 1] >> 4);
      ++g;
    }
    for (; g + 2 <= g1; g += 2) {
      uint8_t byte = packed[g >> 1];
      out[g - g0] = static_cast<float>(byte & 15);
      out[g + 1 - g0] = static_cast<float>(byte >> 4);
    }
    if (g < g1)
      out[g - g0] = static_cast<float>(packed[g >> 1] & 15);
    return;
  }
  default:
    return unpackRange<8>(packed, bytes, g0, g1, out);
  }
}

void dequantizeSegment(const QuantizedView &w, int64_t row, int64_t c0,
                       int64_t c1, const float *scales, const float *zeros,
                       int64_t g0, float *out) {
  if (w.kind == QuantizedView::Kind::Float4)
    return dequantizeSegmentT<4, true>(w, row, c0, c1, scales, zeros, g0, out);
  switch (w.intN.bits) {
  case 2:
    return dequantizeSegmentT<2, false>(w, row, c0, c1, scales, zeros, g0, out);
  case 3:
    return dequantizeSegmentT<3, false>(w, row, c0, c1, scales, zeros, g0, out);
  case 4:
    return dequantizeSegmentT<4, false>(w, row, c0, c1, scales, zeros, g0, out);
  default:
    return dequantizeSegmentT<8, false>(w, row, c0, c1, scales, zeros, g0, out);
  }
}

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
    kernels.nibbleBlock = 0;
    kernels.byteChunk = 0;
    kernels.quantGemvRows = 4;
    kernels.quantGemv = quantGemv;
    kernels.quantGemm = quantGemm;
    return kernels;
  }();
  return table;
}

} // namespace qrt::cpu::detail
