//===- Kernels.cpp - Dispatch and work splitting of the CPU kernels -------===//
//
// Chooses the kernel build once (the best the CPU and OS support, capped by
// QRT_ISA), checks arguments, and splits the parallel kernels across the
// thread pool. The arithmetic lives in the per-ISA files.
//
//===----------------------------------------------------------------------===//

#include "qrt/cpu/Kernels.h"

#include "KernelTable.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace qrt::cpu {
namespace {

using detail::grainFor;
using detail::KernelTable;

bool cpuSupports(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  // libgcc's checks include the OS's XCR0 state (AVX, AVX-512 registers
  // saved). The explicit init makes them valid even when first called from a
  // static constructor.
  __builtin_cpu_init();
  switch (isa) {
  case Isa::Scalar:
    return true;
  case Isa::Avx2:
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
  case Isa::Avx512:
    return __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
  }
  return false;
#else
  return isa == Isa::Scalar;
#endif
}

const KernelTable &tableFor(Isa isa) {
  switch (isa) {
  case Isa::Avx512:
    return detail::avx512Kernels();
  case Isa::Avx2:
    return detail::avx2Kernels();
  case Isa::Scalar:
    break;
  }
  return detail::scalarKernels();
}

Isa computeDefaultIsa() {
  Isa best = Isa::Scalar;
  for (Isa isa : {Isa::Avx2, Isa::Avx512})
    if (cpuSupports(isa))
      best = isa;
  const char *request = std::getenv("QRT_ISA");
  if (!request || !*request)
    return best;
  Isa wanted = best;
  if (!std::strcmp(request, "scalar"))
    wanted = Isa::Scalar;
  else if (!std::strcmp(request, "avx2") || !std::strcmp(request, "avx2+fma"))
    wanted = Isa::Avx2;
  else if (!std::strcmp(request, "avx512") || !std::strcmp(request, "avx512f"))
    wanted = Isa::Avx512;
  // An unknown name, or a build the machine cannot run, leaves the best one.
  return static_cast<int>(wanted) < static_cast<int>(best) ? wanted : best;
}

std::atomic<const KernelTable *> &activeTableSlot() {
  static std::atomic<const KernelTable *> slot{&tableFor(defaultIsa())};
  return slot;
}

const KernelTable &kernels() {
  return *activeTableSlot().load(std::memory_order_relaxed);
}

} // namespace

Isa defaultIsa() {
  static const Isa isa = computeDefaultIsa();
  return isa;
}

bool isaSupported(Isa isa) { return cpuSupports(isa); }

Isa activeIsa() { return kernels().isa; }

bool setIsa(Isa isa) {
  if (!cpuSupports(isa))
    return false;
  activeTableSlot().store(&tableFor(isa), std::memory_order_relaxed);
  return true;
}

const char *isaName() { return kernels().name; }

namespace {
std::atomic<bool> &vnniSlot() {
  static std::atomic<bool> slot{[] {
    const char *request = std::getenv("QRT_VNNI");
    return !request || std::strcmp(request, "0") != 0;
  }()};
  return slot;
}
} // namespace

bool vnniEnabled() { return vnniSlot().load(std::memory_order_relaxed); }

void setVnniEnabled(bool enabled) {
  vnniSlot().store(enabled, std::memory_order_relaxed);
}

void matmul(ThreadPool &pool, const float *x, int64_t m, int64_t k,
            const void *w, WeightType wtype, int64_t n, float *y) {
  assert(m >= 0 && k >= 0 && n >= 0);
  if (m <= 0 || n <= 0)
    return;
  if (k <= 0) {
    std::fill(y, y + m * n, 0.0f);
    return;
  }
  const KernelTable &table = kernels();
  if (m == 1) {
    int64_t rows = table.gemvRows;
    int64_t blocks = (n + rows - 1) / rows;
    pool.parallelFor(
        blocks, grainFor(rows * k), [&](int64_t begin, int64_t end) {
          table.gemv(x, k, w, wtype, begin * rows, std::min(n, end * rows), y);
        });
    return;
  }
  int64_t rows = table.gemmRows;
  int64_t blocks = (n + rows - 1) / rows;
  pool.parallelFor(blocks, grainFor(rows * k * m),
                   [&](int64_t begin, int64_t end) {
                     table.gemm(x, m, k, w, wtype, n, begin * rows,
                                std::min(n, end * rows), y);
                   });
}

void rmsNorm(const float *x, int64_t rows, int64_t dim, const float *weight,
             float epsilon, float *y) {
  if (dim <= 0)
    return;
  const KernelTable &table = kernels();
  for (int64_t r = 0; r < rows; ++r)
    table.rmsNormRow(x + r * dim, dim, weight, epsilon, y + r * dim);
}

void add(const float *a, const float *b, int64_t count, float *y) {
  if (count > 0)
    kernels().add(a, b, count, y);
}

void swiglu(const float *gate, const float *up, int64_t count, float *y) {
  if (count > 0)
    kernels().swiglu(gate, up, count, y);
}

void gatherLastDim(const float *x, int64_t rows, int64_t xCols, int64_t n,
                   const int32_t *indices, float *y) {
  // A row at a time through a copy: y may alias x (reads of a row are
  // scattered, bandwidth is the row itself, a few KiB).
  std::vector<float> row(static_cast<size_t>(xCols));
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(row.data(), x + r * xCols,
                static_cast<size_t>(xCols) * sizeof(float));
    float *out = y + r * n;
    for (int64_t j = 0; j < n; ++j)
      out[j] = row[static_cast<size_t>(indices[j])];
  }
}

bool embedding(const void *table, WeightType type, int64_t vocab, int64_t dim,
               const int32_t *ids, int64_t count, float *out) {
  const KernelTable &kernelTable = kernels();
  for (int64_t i = 0; i < count; ++i) {
    int64_t id = ids[i];
    if (id < 0 || id >= vocab)
      return false;
    float *row = out + i * dim;
    if (type == WeightType::F32)
      std::memcpy(row, static_cast<const float *>(table) + id * dim,
                  static_cast<size_t>(dim) * sizeof(float));
    else
      kernelTable.halfToFloat(static_cast<const uint16_t *>(table) + id * dim,
                              dim, row);
  }
  return true;
}

namespace {

/// Rotates the rotary pairs of every head of one token by the angles whose
/// cosines and sines are given ([rotaryDim / 2] each).
void rotateToken(float *token, int64_t heads, int64_t headDim,
                 int64_t rotaryDim, RotaryConvention convention,
                 const float *cosines, const float *sines) {
  int64_t half = rotaryDim / 2;
  for (int64_t h = 0; h < heads; ++h) {
    float *head = token + h * headDim;
    if (convention == RotaryConvention::Interleaved) {
      for (int64_t i = 0; i < half; ++i) {
        float a = head[2 * i], b = head[2 * i + 1];
        head[2 * i] = a * cosines[i] - b * sines[i];
        head[2 * i + 1] = a * sines[i] + b * cosines[i];
      }
    } else {
      for (int64_t i = 0; i < half; ++i) {
        float a = head[i], b = head[i + half];
        head[i] = a * cosines[i] - b * sines[i];
        head[i + half] = a * sines[i] + b * cosines[i];
      }
    }
  }
}

} // namespace

bool rotary(float *x, int64_t seq, int64_t heads, int64_t headDim,
            int64_t rotaryDim, int64_t start, RotaryConvention convention,
            float base, const float *cosTable, const float *sinTable,
            int64_t tablePositions) {
  if (start < 0 || rotaryDim < 0 || rotaryDim > headDim || rotaryDim % 2 != 0)
    return false;
  if (cosTable && (!sinTable || start + seq > tablePositions))
    return false;
  if (seq <= 0 || heads <= 0 || rotaryDim == 0)
    return true;
  int64_t half = rotaryDim / 2;
  int64_t tokenStride = heads * headDim;
  if (cosTable) {
    for (int64_t s = 0; s < seq; ++s)
      rotateToken(x + s * tokenStride, heads, headDim, rotaryDim, convention,
                  cosTable + (start + s) * half, sinTable + (start + s) * half);
    return true;
  }
  // Angles in double: in float, pos * frequency loses ~pos * 2^-24 radians.
  thread_local std::vector<double> frequencies;
  thread_local std::vector<float> angles; // [cos..., sin...]
  frequencies.resize(static_cast<size_t>(half));
  angles.resize(static_cast<size_t>(rotaryDim));
  for (int64_t i = 0; i < half; ++i)
    frequencies[i] =
        std::pow(static_cast<double>(base), -2.0 * static_cast<double>(i) /
                                                static_cast<double>(rotaryDim));
  for (int64_t s = 0; s < seq; ++s) {
    double position = static_cast<double>(start + s);
    for (int64_t i = 0; i < half; ++i) {
      double angle = position * frequencies[i];
      angles[i] = static_cast<float>(std::cos(angle));
      angles[half + i] = static_cast<float>(std::sin(angle));
    }
    rotateToken(x + s * tokenStride, heads, headDim, rotaryDim, convention,
                angles.data(), angles.data() + half);
  }
  return true;
}

void appendKv(const float *fresh, int64_t seq, int64_t kvHeads, int64_t headDim,
              int64_t past, int64_t capacity, float *cache) {
  assert(past >= 0 && past + seq <= capacity);
  (void)capacity;
  for (int64_t s = 0; s < seq; ++s)
    for (int64_t h = 0; h < kvHeads; ++h)
      std::memcpy(cache + (h * capacity + past + s) * headDim,
                  fresh + (s * kvHeads + h) * headDim,
                  static_cast<size_t>(headDim) * sizeof(float));
}

void attention(ThreadPool &pool, const float *q, const float *kCache,
               const float *vCache, int64_t capacity, int64_t seq, int64_t past,
               int64_t heads, int64_t kvHeads, int64_t headDim, float scale,
               bool causal, float *out) {
  assert(kvHeads > 0 && heads % kvHeads == 0 && past >= 0 &&
         past + seq <= capacity);
  if (seq <= 0 || heads <= 0 || headDim <= 0)
    return;
  const KernelTable &table = kernels();
  int64_t group = heads / kvHeads;
  int64_t total = past + seq;
  // Pairs in (query, head) order: consecutive heads share a KV head, so a
  // chunk re-reads the same keys and values from cache.
  pool.parallelFor(
      seq * heads, grainFor(2 * total * headDim),
      [&](int64_t begin, int64_t end) {
        thread_local std::vector<float> scores;
        if (scores.size() < static_cast<size_t>(total))
          scores.resize(static_cast<size_t>(total));
        for (int64_t pair = begin; pair < end; ++pair) {
          int64_t s = pair / heads, h = pair % heads;
          int64_t positions = causal ? past + s + 1 : total;
          int64_t kvHead = h / group;
          const float *keys = kCache + kvHead * capacity * headDim;
          const float *values = vCache + kvHead * capacity * headDim;
          table.attendOne(q + pair * headDim, keys, values, positions, headDim,
                          scale, scores.data(), out + pair * headDim);
        }
      });
}

namespace {

/// The fast path `table` has for w, if any (QuantPath says which formats).
detail::QuantPath quantPathFor(const QuantizedView &w,
                               const KernelTable &table) {
  if (w.groupIndex) // act order
    return detail::QuantPath::Generic;
  const int64_t groupSize = w.groupSize();
  auto fits = [&](int chunk) {
    return chunk > 0 && (groupSize == kPerChannel || groupSize % chunk == 0);
  };
  // Groups of whole blocks, or several groups of 32 or 64 columns a block.
  const int block = table.nibbleBlock;
  if (w.bits() == 4 && block > 0 &&
      (fits(block) || (groupSize % 32 == 0 && block % groupSize == 0)))
    return detail::QuantPath::Nibble;
  if (w.kind == QuantizedView::Kind::IntN && w.intN.bits == 8 &&
      fits(table.byteChunk))
    return detail::QuantPath::Byte;
  return detail::QuantPath::Generic;
}

/// x [k] transposed in blocks of `block` = 8 * lanes columns (column 8i + j
/// of a block at j * lanes + i), zero-padded to whole blocks, in the calling
/// thread's scratch.
const float *transposeBlocks(const float *x, int64_t k, int64_t block) {
  thread_local std::vector<float> transposed;
  const int64_t padded = (k + block - 1) / block * block, lanes = block / 8;
  if (transposed.size() < static_cast<size_t>(padded))
    transposed.resize(static_cast<size_t>(padded));
  for (int64_t c0 = 0; c0 < padded; c0 += block)
    for (int64_t j = 0; j < 8; ++j)
      for (int64_t i = 0; i < lanes; ++i) {
        int64_t column = c0 + 8 * i + j;
        transposed[c0 + j * lanes + i] = column < k ? x[column] : 0.0f;
      }
  return transposed.data();
}

} // namespace

void dequantMatmul(ThreadPool &pool, const float *x, int64_t m,
                   const QuantizedView &w, float *y,
                   ActivationPrecision activations) {
  assert(m >= 0 && w.rows >= 0 && w.cols >= 0);
  const int64_t n = w.rows, k = w.cols;
  if (m <= 0 || n <= 0)
    return;
  if (k <= 0) {
    std::fill(y, y + m * n, 0.0f);
    return;
  }
  if (activations == ActivationPrecision::Int8) {
    detail::dotMatmul(pool, x, m, w, y);
    return;
  }
  const KernelTable &table = kernels();
  detail::QuantMatmulArgs args;
  args.w = &w;
  args.path = quantPathFor(w, table);
  args.groupSize = w.groupSize() == kPerChannel ? k : w.groupSize();
  args.x = x;
  args.m = m;
  if (m == 1) {
    if (args.path == detail::QuantPath::Nibble)
      args.xBlocks = transposeBlocks(x, k, table.nibbleBlock);
    int64_t rows = table.quantGemvRows;
    int64_t blocks = (n + rows - 1) / rows;
    pool.parallelFor(
        blocks, grainFor(rows * k), [&](int64_t begin, int64_t end) {
          table.quantGemv(args, begin * rows, std::min(n, end * rows), y);
        });
    return;
  }
  int64_t rows = table.gemmRows;
  int64_t blocks = (n + rows - 1) / rows;
  pool.parallelFor(
      blocks, grainFor(rows * k * m), [&](int64_t begin, int64_t end) {
        table.quantGemm(args, begin * rows, std::min(n, end * rows), y);
      });
}

const char *int8KernelName() { return detail::int8KernelFor(activeIsa()).name; }

int64_t int8Matmul(ThreadPool &pool, const float *x, int64_t m,
                   const QuantizedView &w, float threshold, float *y) {
  assert(w.kind == QuantizedView::Kind::IntN && w.intN.bits == 8 &&
         w.intN.groupSize == kPerChannel && w.intN.symmetric &&
         !w.groupIndex && "LLM.int8() needs 8-bit per-channel symmetric codes");
  const int64_t n = w.rows, k = w.cols;
  if (m <= 0 || n <= 0)
    return 0;
  // Per-thread scratch, grown when too small.
  thread_local std::vector<int8_t> activations;
  thread_local std::vector<int32_t> sums, outlierCols;
  thread_local std::vector<float> scales, absmax, xOutliers;
  thread_local std::vector<uint8_t> isOutlier;
  const int64_t kPadded = (k + 63) / 64 * 64;
  activations.assign(static_cast<size_t>(m * kPadded), 0);
  sums.assign(static_cast<size_t>(m), 0);
  absmax.assign(static_cast<size_t>(m), 0.0f);
  isOutlier.assign(static_cast<size_t>(k), 0);
  outlierCols.clear();

  // Outlier columns, and each row's absmax without the outlier elements.
  const bool decompose = threshold > 0.0f;
  for (int64_t t = 0; t < m; ++t) {
    const float *row = x + t * k;
    float rowMax = 0.0f;
    for (int64_t c = 0; c < k; ++c) {
      float a = std::fabs(row[c]);
      if (decompose && a >= threshold)
        isOutlier[c] = 1;
      else
        rowMax = std::max(rowMax, a);
    }
    absmax[t] = rowMax;
  }
  for (int64_t c = 0; decompose && c < k; ++c)
    if (isOutlier[c])
      outlierCols.push_back(static_cast<int32_t>(c));
  const int64_t outliers = static_cast<int64_t>(outlierCols.size());
  xOutliers.resize(static_cast<size_t>(m * outliers));
  scales.resize(static_cast<size_t>(m));
  for (int64_t t = 0; t < m; ++t) {
    const float *row = x + t * k;
    int8_t *a = activations.data() + t * kPadded;
    const float inverse = absmax[t] > 0.0f ? 127.0f / absmax[t] : 0.0f;
    int32_t sum = 0;
    for (int64_t c = 0; c < k; ++c) {
      // lrintf rounds half to even; the product is at most 127 in magnitude
      // (NaN inputs give an unspecified code, not undefined behaviour).
      int8_t q = isOutlier[c] ? int8_t(0)
                              : static_cast<int8_t>(std::lrintf(row[c] * inverse));
      a[c] = q;
      sum += q;
    }
    sums[t] = sum;
    scales[t] = absmax[t] / 127.0f;
    for (int64_t o = 0; o < outliers; ++o)
      xOutliers[t * outliers + o] = row[outlierCols[o]];
  }

  // Scales of the weight rows as f32.
  thread_local std::vector<float> rowScales;
  rowScales.resize(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j)
    detail::decodeScales(w, j, 0, 1, &rowScales[j]);

  detail::Int8MatmulArgs args;
  args.codes = w.data;
  args.scales = rowScales.data();
  args.n = n;
  args.k = k;
  args.m = m;
  args.activations = activations.data();
  args.kPadded = kPadded;
  args.activationSums = sums.data();
  args.activationScales = scales.data();
  args.outlierCols = outlierCols.data();
  args.outliers = outliers;
  args.xOutliers = xOutliers.data();
  const detail::Int8Kernel kernel = detail::int8KernelFor(activeIsa());
  constexpr int64_t kRows = 4;
  const int64_t blocks = (n + kRows - 1) / kRows;
  pool.parallelFor(blocks, grainFor(kRows * k * m),
                   [&](int64_t begin, int64_t end) {
                     kernel.rows(args, begin * kRows,
                                 std::min(n, end * kRows), y);
                   });
  return outliers;
}

} // namespace qrt::cpu
