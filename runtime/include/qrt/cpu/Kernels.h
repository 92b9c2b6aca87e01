//===- Kernels.h - CPU kernels of a Llama 2 decoder -------------*- C++ -*-===//
//
// The CPU backend's kernels: fp32 activations, fp32 accumulation, weights in
// f32 or f16, or packed quantized (dequantMatmul). Each kernel exists in three
// builds chosen at run time: AVX-512 (avx512f with bw/vl, fma, f16c), AVX2
// (avx2, fma, f16c) and portable scalar C++. The best one the machine supports
// is taken unless the environment variable QRT_ISA (`scalar`, `avx2`, `avx512`)
// asks for a lower one; setIsa() switches at run time (tests run every kernel
// under each).
//
// Parallel kernels take a ThreadPool; the element-wise ones run on the
// calling thread. No kernel allocates per call, except that attention,
// rotary and dequantMatmul grow a per-thread scratch buffer when it is too
// small.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CPU_KERNELS_H
#define QRT_CPU_KERNELS_H

#include "qrt/core/QuantizedWeight.h"

#include <cstdint>
#include <functional>
#include <memory>

namespace qrt::cpu {

/// A fixed pool of worker threads for data-parallel loops; the calling thread
/// works too.
class ThreadPool {
public:
  /// threads: in all, the caller included; 0 for
  /// std::thread::hardware_concurrency().
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  /// Threads including the caller.
  int size() const;
  /// Calls fn(begin, end) on disjoint chunks covering [0, n), in parallel,
  /// each at least `grain` items (except the last), and returns when all are
  /// done. n <= grain runs inline.
  ///
  /// Chunks are handed out dynamically (about four per thread), so a thread
  /// that the OS delays does not hold the others up. A call made from inside
  /// `fn` runs inline; calls from several outside threads are serialized. If
  /// `fn` throws, the remaining chunks are skipped and the first exception is
  /// rethrown here once all threads have stopped.
  void parallelFor(int64_t n, int64_t grain,
                   const std::function<void(int64_t, int64_t)> &fn);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// F16: IEEE binary16 stored as uint16_t.
enum class WeightType { F32, F16 };
enum class RotaryConvention { Interleaved, RotateHalf };

/// y[i][j] = sum_k x[i][k] * w[j][k] for i < m, j < n. x: [m, k] f32
/// row-major; w: [n, k] row-major ("Linear" layout, one output channel per
/// row) in f32 or f16; y: [m, n] f32. m == 1 is the decode GEMV (memory-bound:
/// stream w once, split the n rows across threads); m > 1 the prefill GEMM
/// (block over m so each weight row is reused across activation rows from
/// cache).
///
/// Every path sums each output as at least 8 interleaved partial sums, so its
/// rounding error is at most about (k/8 + 32) * 2^-23 * sum_k |x w|. y must
/// not overlap x or w.
void matmul(ThreadPool &pool, const float *x, int64_t m, int64_t k,
            const void *w, WeightType wtype, int64_t n, float *y);
/// RMSNorm per row: y = x / sqrt(mean(x^2) + epsilon) * weight;
/// x, y: [rows, dim]; y may equal x.
void rmsNorm(const float *x, int64_t rows, int64_t dim, const float *weight,
             float epsilon, float *y);
/// y = a + b; y may alias a or b.
void add(const float *a, const float *b, int64_t count, float *y);
/// y = silu(gate) * up = gate * up / (1 + exp(-gate)); y may alias either.
void swiglu(const float *gate, const float *up, int64_t count, float *y);
/// y[r, j] = x[r, indices[j]] for rows r < rows, x rows of xCols floats, y
/// rows of n (indices in [0, xCols): a permutation of 0..n-1 when n ==
/// xCols, or a tensor-parallel rank's part of one; checked by the plan
/// verifier); y may alias x.
void gatherLastDim(const float *x, int64_t rows, int64_t xCols, int64_t n,
                   const int32_t *indices, float *y);
/// out[i] = table[ids[i]] (rows of dim, table [vocab, dim] f32 or f16). False
/// (and out untouched from the bad id on) if an id is outside [0, vocab).
bool embedding(const void *table, WeightType type, int64_t vocab, int64_t dim,
               const int32_t *ids, int64_t count, float *out);
/// In place on x [seq, heads, headDim]: token s is at position start + s;
/// pairs (2i, 2i+1) (Interleaved) or (i, i + rotaryDim/2) (RotateHalf) for
/// i < rotaryDim/2 are rotated by angle pos * base^(-2i/rotaryDim) (cosTable ==
/// nullptr) or by the tables cosTable/sinTable [tablePositions, rotaryDim/2]
/// f32 at row pos; dims >= rotaryDim pass through. Returns false if a position
/// is outside the tables.
///
/// Also false, with x untouched, for a negative start or a rotaryDim that is
/// odd or outside [0, headDim]. Angles from `base` are computed in double.
bool rotary(float *x, int64_t seq, int64_t heads, int64_t headDim,
            int64_t rotaryDim, int64_t start, RotaryConvention convention,
            float base, const float *cosTable, const float *sinTable,
            int64_t tablePositions);
/// Appends fresh keys or values [seq, kvHeads, headDim] to a cache
/// [kvHeads, capacity, headDim] at positions [past, past + seq). Requires
/// past + seq <= capacity.
void appendKv(const float *fresh, int64_t seq, int64_t kvHeads, int64_t headDim,
              int64_t past, int64_t capacity, float *cache);
/// Grouped-query attention over caches that already hold past + seq positions
/// (the new ones appended): q [seq, heads, headDim]; query s (absolute position
/// past + s) attends positions 0..past+s when causal, else 0..past+seq-1; query
/// head h reads KV head h / (heads / kvHeads); scores = scale * q.k, softmax in
/// f32; out [seq, heads, headDim] = sum p * v. Parallel over (query, head)
/// pairs; no allocation per call beyond a per-thread scratch of `past + seq`
/// floats.
void attention(ThreadPool &pool, const float *q, const float *kCache,
               const float *vCache, int64_t capacity, int64_t seq, int64_t past,
               int64_t heads, int64_t kvHeads, int64_t headDim, float scale,
               bool causal, float *out);
/// What the dispatcher chose, e.g. "avx512f", "avx2+fma", "scalar".
const char *isaName();

/// The kernel builds, lowest first.
enum class Isa { Scalar, Avx2, Avx512 };
/// Whether this machine (CPU and OS) can run `isa`; Scalar always can.
bool isaSupported(Isa isa);
/// The build the kernels use now.
Isa activeIsa();
/// Makes the kernels use `isa`; false (and nothing changes) if it is not
/// supported. Process-wide: call it while no kernel is running.
bool setIsa(Isa isa);
/// The build chosen at start-up: the best supported one, or the one QRT_ISA
/// names if that is supported and lower.
Isa defaultIsa();
/// Whether the integer-dot-product kernels (8-bit activations, LLM.int8())
/// may use VNNI, AVX-512's or AVX-VNNI's vpdpbusd, where the CPU has it:
/// true unless the environment sets QRT_VNNI=0. Without it they take the
/// build's vpmaddubsw form. Process-wide, like setIsa.
bool vnniEnabled();
void setVnniEnabled(bool enabled);

//===----------------------------------------------------------------------===//
// Quantized weights
//===----------------------------------------------------------------------===//

/// How dequantMatmul treats the activations.
enum class ActivationPrecision : uint8_t {
  /// f32, never rounded: the product of x with the dequantized weights.
  F32,
  /// Rounded to int8 once per call, per block of 32 columns (scale
  /// max|x| / 127, codes rint(x * 127 / max|x|)), and multiplied with the
  /// weights' integer codes (NF4, FP4: round(2047 * value), scale
  /// absmax / 2047) by exact integer dot products; the scales are applied
  /// per block and group in f32. The formats int8ActivationsSupported
  /// accepts.
  Int8,
};

/// Fused dequantize-matmul with a packed quantized weight (Quantize.h):
/// y[i][j] = sum_k x[i][k] * dequantize(w)[j][k] for i < m, j < w.rows;
/// x [m, w.cols] f32, y [m, w.rows] f32; f32 accumulation. m == 1: the
/// decode GEMV; m > 1: prefill (batched).
///
/// With ActivationPrecision::F32 (the default) the activations stay f32 and
/// the weights are the values qrt::dequantizeRows computes. Every format is
/// supported. The SIMD builds have fused fast paths for 4-bit intN and NF4
/// (with or without double quantization) whose groups are whole rows, a
/// multiple of 128 columns (64 for AVX2), or 32 or 64 columns, and for 8-bit
/// intN whose groups are whole rows or a multiple of 16 columns (8 for
/// AVX2); anything else (2 and 3 bits, act order, other group sizes) is
/// dequantized row by row to f32 first, correct but slower. Threads split
/// the output rows; m > 1 decodes each weight block once per 64 rows of x.
/// Sums keep at least 8 interleaved partial sums, as matmul.
///
/// ActivationPrecision::Int8 (see there) requires
/// int8ActivationsSupported(w); integer dot products: AVX-512 VNNI, AVX2
/// (vpmaddubsw), scalar.
///
/// No allocation per call except per-thread scratch (group parameters,
/// transposed or quantized x, a dequantized row) that grows when too small.
/// y must not overlap x or the weight.
void dequantMatmul(ThreadPool &pool, const float *x, int64_t m,
                   const qrt::QuantizedView &w, float *y,
                   ActivationPrecision activations = ActivationPrecision::F32);
/// Whether dequantMatmul takes ActivationPrecision::Int8 for w: what
/// qrt::int8ActivationsSupported accepts of its scheme.
bool int8ActivationsSupported(const qrt::QuantizedView &w);
/// The kernel dequantMatmul's ActivationPrecision::Int8 uses under the
/// active ISA ("avx512-vnni", "avx2", "scalar").
const char *int8ActivationKernelName();

/// LLM.int8() (bitsandbytes' 8-bit matmul, with f32 activations):
/// y [m, w.rows] = x [m, w.cols] @ dequantize(w)^T for an 8-bit, per-channel,
/// symmetric weight (codes q, scales s: w[j][c] = (q - 128) * s[j]):
///  - outlier columns: the columns c where some |x[t][c]| >= threshold
///    (none when threshold is 0);
///  - each row t of x is quantized to a[t] = round(x[t] * (127 / absmax[t]))
///    (f32 product, ties to even), absmax[t] the largest |x[t][c]| less than
///    the threshold (elements at or above it left out, the rest of their
///    columns not), with a[t][c] = 0 in outlier columns (all 0 if absmax is);
///  - y[t][j] = s[j] * (acc * absmax[t] / 127 + sum over outlier columns of
///    x[t][c] * (q[j][c] - 128)), acc = sum_c a[t][c] * (q[j][c] - 128)
///    exactly in int32.
/// Returns the number of outlier columns. Threads split the rows; each row
/// is read once (its outlier columns while it is in cache). Integer dot
/// products: AVX-512 VNNI or AVX-VNNI (vpdpbusd), AVX2
/// (vpmaddubsw/vpmaddwd), scalar.
/// No allocation per call but a per-thread scratch that grows.
int64_t int8Matmul(ThreadPool &pool, const float *x, int64_t m,
                   const qrt::QuantizedView &w, float threshold, float *y);
/// The integer kernel int8Matmul uses under the active ISA ("avx512-vnni",
/// "avx-vnni", "avx2", "scalar").
const char *int8KernelName();

} // namespace qrt::cpu

#endif // QRT_CPU_KERNELS_H
