//===- cpu-kernels-bench.cpp - Throughput of the CPU kernels --------------===//
//
// A benchmark, not a test: it prints figures and checks nothing.
//
//   build/bin/qrt-cpu-bench [--benchmark_filter=...]
//   QRT_ISA=avx2 build/bin/qrt-cpu-bench        # another kernel build
//   QRT_BENCH_THREADS=1 build/bin/qrt-cpu-bench # another thread count
//
// ReadBandwidth sums a 1 GiB buffer with the same thread pool, each thread
// reading its part as 1 or 4 sequential streams: the machine's streaming read
// bandwidth. The memory-bound kernels report `of_bw`, the fraction of the
// better of the two that they reach. GEMV streams Llama-2-7B MLP weights
// (4096 -> 11008 and 11008 -> 4096, f32 and f16) from enough distinct
// matrices (>= 512 MiB, cycled) that none is in cache; GB/s counts weight
// bytes read. GEMM is prefill at m = 64 over the same weights (GFLOP/s);
// attention is one decode step of 32 heads of 128 over 8 layers' KV caches.
// QuantGEMV / QuantGEMM run dequantMatmul on the same shapes with packed
// quantized weights (16 layers' worth of distinct random weights, cycled);
// GB/s counts the packed bytes read (codes, scales and zero points). The
// llm-int8 rows run int8Matmul (LLM.int8(): 8-bit activations, integer dot
// products) on 8-bit per-channel weights; with threshold 6, 4 of the input
// columns of x are outliers (+-8), as LLM.int8() sees in large models. Its
// GEMM rows (m = 64 and 512) compare GOP/s with the f32 GEMM's GFLOP/s.
// The ReadBandwidth buffer and every weight live in qrt::WeightMemory, as a
// plan's weights do in quant-run (huge pages where the kernel has them: 10-
// 20% faster streams than 4 KiB pages on Zen 4).
//
// Reading the figures: "CPU" is the calling thread's CPU time; well below
// "Time" means another process took a core during the run. On a VM the
// DRAM bandwidth itself moves with the host's load, so compare kernels with
// the ReadBandwidth rows of the same run.
//
//===----------------------------------------------------------------------===//

#include "qrt/core/QuantizedWeight.h"
#include "qrt/core/WeightMemory.h"
#include "qrt/cpu/Kernels.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace qrt::cpu;

namespace {

ThreadPool &pool() {
  static ThreadPool threads([] {
    const char *value = std::getenv("QRT_BENCH_THREADS");
    return value ? std::atoi(value) : 0;
  }());
  return threads;
}

/// Seconds since an arbitrary start.
double now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Fills with small values from a cheap generator (the weights' values do
/// not matter; only that pages are touched and floats are ordinary).
void fill(float *data, size_t count, uint32_t seed) {
  uint32_t state = seed * 2654435761u + 1;
  for (size_t i = 0; i < count; ++i) {
    state = state * 1664525u + 1013904223u;
    data[i] = static_cast<float>(static_cast<int32_t>(state >> 8) - (1 << 23)) *
              0x1p-26f;
  }
}

void fill(uint16_t *data, size_t count, uint32_t seed) {
  uint32_t state = seed * 2654435761u + 1;
  for (size_t i = 0; i < count; ++i) {
    state = state * 1664525u + 1013904223u;
    // Sign, exponent 10..13 (magnitudes 2^-5 .. 2^-1), random mantissa.
    data[i] = static_cast<uint16_t>((state >> 31) << 15 |
                                    (10 + (state >> 28 & 3)) << 10 |
                                    (state >> 12 & 0x3ff));
  }
}

// GB/s that ReadBandwidth<1> and ReadBandwidth<4> last reported (Google
// Benchmark calls a benchmark several times; the last call is the one shown).
double gReadBandwidthByStreams[5] = {};

/// One pass over `count` 64-bit words, split across the pool, each thread
/// reading its range as kStreams concurrent sequential streams (the GEMV
/// reads 4 weight rows at a time).
template <int kStreams>
uint64_t streamingSum(const uint64_t *words, int64_t count) {
  constexpr int64_t kBlock = int64_t(1) << 20; // words per parallelFor item
  int64_t blocks = count / kBlock;             // count is a multiple of kBlock
  std::vector<uint64_t> partial(static_cast<size_t>(blocks));
  pool().parallelFor(blocks, 1, [&](int64_t begin, int64_t end) {
    const uint64_t *p = words + begin * kBlock;
    int64_t length = (end - begin) * kBlock / kStreams;
    // Integer sums are associative, so the compiler vectorizes this with the
    // baseline SSE2 and the loop is bound by memory, not additions.
    uint64_t sums[kStreams] = {};
    for (int64_t i = 0; i < length; ++i)
      for (int64_t s = 0; s < kStreams; ++s)
        sums[s] += p[s * length + i];
    for (uint64_t sum : sums)
      partial[begin] += sum;
  });
  uint64_t total = 0;
  for (uint64_t value : partial)
    total += value;
  return total;
}

constexpr size_t kBandwidthBytes = size_t(1) << 30;

/// Memory as the runtime holds weights (qrt::WeightMemory: huge pages where
/// the kernel has them), so that the figures are the runtime's.
std::unique_ptr<qrt::WeightMemory> weightMemory(size_t bytes) {
  std::string error;
  std::unique_ptr<qrt::WeightMemory> memory =
      qrt::WeightMemory::allocate(bytes, error);
  if (!memory)
    throw std::runtime_error(error);
  return memory;
}

/// The 1 GiB the ReadBandwidth rows sum, in WeightMemory as the weights.
struct BandwidthBuffer {
  std::unique_ptr<qrt::WeightMemory> memory;
  const uint64_t *data() const {
    return reinterpret_cast<const uint64_t *>(memory->data());
  }
  size_t size() const { return memory->size() / sizeof(uint64_t); }
};

const BandwidthBuffer &bandwidthBuffer() {
  static BandwidthBuffer buffer = [] {
    BandwidthBuffer b{weightMemory(kBandwidthBytes)};
    uint64_t *words = reinterpret_cast<uint64_t *>(b.memory->data());
    for (size_t i = 0; i < kBandwidthBytes / sizeof(uint64_t); ++i)
      words[i] = i * 0x9E3779B97F4A7C15ull;
    return b;
  }();
  return buffer;
}

/// The better of the two ReadBandwidth figures shown (GB/s); if neither ran
/// (filtered out), the best of five passes with 4 streams per thread.
double readBandwidth() {
  double reported =
      std::max(gReadBandwidthByStreams[1], gReadBandwidthByStreams[4]);
  if (reported > 0)
    return reported;
  const BandwidthBuffer &buffer = bandwidthBuffer();
  double best = 1e30;
  for (int pass = 0; pass < 5; ++pass) {
    double start = now();
    benchmark::DoNotOptimize(
        streamingSum<4>(buffer.data(), static_cast<int64_t>(buffer.size())));
    best = std::min(best, now() - start);
  }
  gReadBandwidthByStreams[4] = kBandwidthBytes / best * 1e-9;
  return gReadBandwidthByStreams[4];
}

template <int kStreams> void ReadBandwidth(benchmark::State &state) {
  const BandwidthBuffer &buffer = bandwidthBuffer();
  int64_t words = static_cast<int64_t>(buffer.size());
  streamingSum<kStreams>(buffer.data(), words); // warm the pool and the TLB
  double start = now();
  for (auto _ : state)
    benchmark::DoNotOptimize(streamingSum<kStreams>(buffer.data(), words));
  double seconds = now() - start;
  double gbps = kBandwidthBytes * static_cast<double>(state.iterations()) /
                seconds * 1e-9;
  gReadBandwidthByStreams[kStreams] = gbps;
  state.counters["GB/s"] = gbps;
  state.counters["threads"] = pool().size();
}

/// Distinct [n, k] weight matrices, at least 512 MiB together.
struct WeightSet {
  std::vector<std::unique_ptr<qrt::WeightMemory>> matrices;
  size_t bytesEach = 0;
};

const WeightSet &weights(int64_t k, int64_t n, WeightType type) {
  static std::vector<std::pair<std::string, std::unique_ptr<WeightSet>>> cache;
  std::string key = std::to_string(k) + "x" + std::to_string(n) +
                    (type == WeightType::F32 ? "f32" : "f16");
  for (auto &entry : cache)
    if (entry.first == key)
      return *entry.second;
  // Only one shape's weights at a time: free the others.
  cache.clear();
  auto set = std::make_unique<WeightSet>();
  size_t elementBytes = type == WeightType::F32 ? 4 : 2;
  set->bytesEach = static_cast<size_t>(k * n) * elementBytes;
  size_t count = std::max<size_t>(
      2, ((size_t(512) << 20) + set->bytesEach - 1) / set->bytesEach);
  for (size_t i = 0; i < count; ++i) {
    std::unique_ptr<qrt::WeightMemory> matrix = weightMemory(set->bytesEach);
    if (type == WeightType::F32)
      fill(reinterpret_cast<float *>(matrix->data()),
           static_cast<size_t>(k * n), static_cast<uint32_t>(i));
    else
      fill(reinterpret_cast<uint16_t *>(matrix->data()),
           static_cast<size_t>(k * n), static_cast<uint32_t>(i));
    set->matrices.push_back(std::move(matrix));
  }
  cache.emplace_back(key, std::move(set));
  return *cache.back().second;
}

/// matmul at [m, k] x [n, k]^T, cycling through the weight set.
void Matmul(benchmark::State &state, int64_t m, int64_t k, int64_t n,
            WeightType type) {
  const WeightSet &set = weights(k, n, type);
  std::vector<float> x(static_cast<size_t>(m * k)),
      y(static_cast<size_t>(m * n));
  fill(x.data(), x.size(), 99);
  size_t next = 0;
  for (size_t i = 0; i < set.matrices.size();
       ++i) // warm-up: threads, page tables
    matmul(pool(), x.data(), m, k, set.matrices[i]->data(), type, n, y.data());
  double start = now();
  for (auto _ : state) {
    matmul(pool(), x.data(), m, k, set.matrices[next]->data(), type, n, y.data());
    benchmark::DoNotOptimize(y.data());
    next = (next + 1) % set.matrices.size();
  }
  double seconds = (now() - start) / static_cast<double>(state.iterations());
  double gbps = set.bytesEach / seconds * 1e-9;
  state.counters["GB/s"] = gbps;
  state.counters["of_bw"] = gbps / readBandwidth();
  state.counters["GFLOP/s"] = 2.0 * m * n * k / seconds * 1e-9;
  state.counters["us/token"] = seconds / m * 1e6;
  state.SetLabel(std::string(isaName()) + ", " +
                 std::to_string(set.matrices.size()) + " matrices");
}

/// A quantized weight format of the QuantGEMV and QuantGEMM rows.
struct QuantFormat {
  const char *name;
  bool nf4;
  qrt::IntNScheme intN;
  qrt::Float4Scheme nf4Scheme;
  /// int8Matmul (LLM.int8()) with this outlier threshold instead of
  /// dequantMatmul.
  bool llmInt8 = false;
  float threshold = 0.0f;
  /// dequantMatmul with ActivationPrecision::Int8.
  bool int8Activations = false;
};

QuantFormat intNFormat(const char *name, int bits, int64_t groupSize,
                       bool symmetric, bool actOrder = false) {
  QuantFormat format{name, false, {}, {}};
  format.intN.bits = bits;
  format.intN.groupSize = groupSize;
  format.intN.symmetric = symmetric;
  format.intN.actOrder = actOrder;
  format.intN.scaleType = qrt::ScaleType::F16;
  return format;
}

QuantFormat llmInt8Format(const char *name, float threshold) {
  QuantFormat format = intNFormat(name, 8, qrt::kPerChannel, true);
  format.intN.scaleType = qrt::ScaleType::F32;
  format.llmInt8 = true;
  format.threshold = threshold;
  return format;
}

QuantFormat nf4Format(const char *name, bool doubleQuant,
                      qrt::Float4Codes codes = qrt::Float4Codes::NF4) {
  QuantFormat format{name, true, {}, {}};
  format.nf4Scheme.codes = codes;
  format.nf4Scheme.blockSize = 64;
  format.nf4Scheme.doubleQuant = doubleQuant;
  format.nf4Scheme.doubleQuantBlockSize = 256;
  format.nf4Scheme.scaleType = qrt::ScaleType::F32;
  return format;
}

/// Distinct quantized weights cycled by QuantMatmul: 16 layers' worth (at 4
/// bits, 16 x 22.5 MB for one Llama-2-7B MLP matrix, far past the caches).
constexpr int kQuantLayers = 16;

struct QuantWeightSet {
  std::vector<qrt::QuantizedWeight> weights;
  /// Each weight's components copied into WeightMemory (64-byte aligned
  /// each), as a plan's weights are; the views read these.
  std::vector<std::unique_ptr<qrt::WeightMemory>> memory;
  std::vector<qrt::QuantizedView> views;
  uint64_t bytesEach = 0;
};

/// kQuantLayers random [n, k] weights of `format`: random codes and zero
/// points, scales of ordinary magnitude, a random act-order group index.
const QuantWeightSet &quantWeights(const QuantFormat &format, int64_t k,
                                   int64_t n) {
  static std::string cachedKey;
  static std::unique_ptr<QuantWeightSet> cached;
  std::string key = std::string(format.name) + "/" + std::to_string(k) + "x" +
                    std::to_string(n);
  if (cached && cachedKey == key)
    return *cached;
  // Only one set at a time: free the previous one first.
  cached.reset();
  auto set = std::make_unique<QuantWeightSet>();
  uint32_t seed = 1;
  for (int layer = 0; layer < kQuantLayers; ++layer) {
    qrt::QuantizedWeight weight;
    weight.layout = format.nf4 ? qrt::layoutFor(format.nf4Scheme, n, k)
                               : qrt::layoutFor(format.intN, n, k);
    for (const qrt::Component &c : weight.layout.components) {
      std::vector<uint8_t> bytes(static_cast<size_t>(c.bytes()));
      switch (c.role) {
      case qrt::ComponentRole::GroupIndex: {
        auto *groups = reinterpret_cast<int32_t *>(bytes.data());
        for (int64_t i = 0; i < k; ++i)
          groups[i] =
              static_cast<int32_t>((i * 7919) % k / format.intN.groupSize);
        break;
      }
      case qrt::ComponentRole::Scales:
      case qrt::ComponentRole::DoubleQuantScales:
      case qrt::ComponentRole::DoubleQuantOffset:
        if (c.element == qrt::ElementKind::F16) {
          fill(reinterpret_cast<uint16_t *>(bytes.data()), bytes.size() / 2,
               ++seed);
          break;
        }
        if (c.element == qrt::ElementKind::F32) {
          fill(reinterpret_cast<float *>(bytes.data()), bytes.size() / 4,
               ++seed);
          break;
        }
        [[fallthrough]];
      default: { // codes, zero points, double-quant codes: random bytes
        uint32_t state = ++seed * 2654435761u;
        for (uint8_t &b : bytes) {
          state = state * 1664525u + 1013904223u;
          b = static_cast<uint8_t>(state >> 24);
        }
        break;
      }
      }
      weight.components.push_back(std::move(bytes));
    }
    set->bytesEach = weight.layout.totalBytes();
    set->weights.push_back(std::move(weight));
  }
  for (qrt::QuantizedWeight &weight : set->weights) {
    size_t bytes = 0;
    for (const std::vector<uint8_t> &c : weight.components)
      bytes += (c.size() + 63) / 64 * 64;
    set->memory.push_back(weightMemory(std::max<size_t>(bytes, 64)));
    std::vector<const void *> pointers;
    uint8_t *at = set->memory.back()->data();
    for (const std::vector<uint8_t> &c : weight.components) {
      std::memcpy(at, c.data(), c.size());
      pointers.push_back(at);
      at += (c.size() + 63) / 64 * 64;
    }
    qrt::QuantizedView view = format.nf4 ? weight.view(format.nf4Scheme)
                                         : weight.view(format.intN);
    if (!qrt::bindComponents(view, pointers))
      throw std::runtime_error("cannot bind the weight's components");
    set->views.push_back(view);
    weight.components.clear(); // the copy is what runs; keep the layout
    weight.components.shrink_to_fit();
  }
  cached = std::move(set);
  cachedKey = key;
  return *cached;
}

/// dequantMatmul at [m, k] x [n, k]^T, cycling through the weight set.
void QuantMatmul(benchmark::State &state, QuantFormat format, int64_t m,
                 int64_t k, int64_t n) {
  const QuantWeightSet &set = quantWeights(format, k, n);
  std::vector<float> x(static_cast<size_t>(m * k)),
      y(static_cast<size_t>(m * n));
  fill(x.data(), x.size(), 99);
  if (format.llmInt8 && format.threshold > 0)
    for (int64_t t = 0; t < m; ++t)
      for (int64_t c : {k / 7, k / 3, k / 2, k - 5})
        x[t * k + c] = (t + c) % 2 ? 8.0f : -8.0f;
  auto run = [&](const qrt::QuantizedView &view) {
    if (format.llmInt8)
      int8Matmul(pool(), x.data(), m, view, format.threshold, y.data());
    else
      dequantMatmul(pool(), x.data(), m, view, y.data(),
                    format.int8Activations ? ActivationPrecision::Int8
                                           : ActivationPrecision::F32);
  };
  for (const qrt::QuantizedView &view : set.views) // warm-up
    run(view);
  size_t next = 0;
  double start = now();
  for (auto _ : state) {
    run(set.views[next]);
    benchmark::DoNotOptimize(y.data());
    next = (next + 1) % set.views.size();
  }
  double seconds = (now() - start) / static_cast<double>(state.iterations());
  double gbps = static_cast<double>(set.bytesEach) / seconds * 1e-9;
  state.counters["GB/s"] = gbps;
  state.counters["of_bw"] = gbps / readBandwidth();
  state.counters["GFLOP/s"] = 2.0 * m * n * k / seconds * 1e-9;
  state.counters["us/token"] = seconds / m * 1e6;
  state.counters["bits/weight"] = set.weights[0].layout.bitsPerWeight();
  state.SetLabel(std::string(isaName()) +
                 (format.llmInt8 ? std::string(" (") + int8KernelName() + ")"
                  : format.int8Activations
                      ? std::string(" (") + int8ActivationKernelName() + ")"
                      : std::string()) +
                 ", " + std::to_string(set.views.size()) + " matrices");
}

/// One decode step (seq 1) of 32 heads of 128 after `past` positions, over 8
/// layers' KV caches in turn. GB/s counts the keys and values read.
void AttentionDecode(benchmark::State &state, int64_t past) {
  const int64_t heads = 32, kvHeads = 32, headDim = 128, layers = 8;
  const int64_t capacity = past + 1;
  size_t cacheFloats = static_cast<size_t>(kvHeads * capacity * headDim);
  std::vector<std::vector<float>> keys(layers), values(layers);
  for (int64_t l = 0; l < layers; ++l) {
    keys[l].resize(cacheFloats);
    values[l].resize(cacheFloats);
    fill(keys[l].data(), cacheFloats, static_cast<uint32_t>(2 * l));
    fill(values[l].data(), cacheFloats, static_cast<uint32_t>(2 * l + 1));
  }
  std::vector<float> q(heads * headDim), out(heads * headDim);
  fill(q.data(), q.size(), 7);
  float scale = 1.0f / std::sqrt(static_cast<float>(headDim));
  int64_t layer = 0;
  for (int64_t l = 0; l < layers; ++l)
    attention(pool(), q.data(), keys[l].data(), values[l].data(), capacity, 1,
              past, heads, kvHeads, headDim, scale, true, out.data());
  double start = now();
  for (auto _ : state) {
    attention(pool(), q.data(), keys[layer].data(), values[layer].data(),
              capacity, 1, past, heads, kvHeads, headDim, scale, true,
              out.data());
    benchmark::DoNotOptimize(out.data());
    layer = (layer + 1) % layers;
  }
  double seconds = (now() - start) / static_cast<double>(state.iterations());
  double gbps = 2.0 * cacheFloats * sizeof(float) / seconds * 1e-9;
  state.counters["GB/s"] = gbps;
  state.counters["of_bw"] = gbps / readBandwidth();
  state.counters["us/layer"] = seconds * 1e6;
  state.SetLabel(isaName());
}

void registerAll() {
  benchmark::RegisterBenchmark("ReadBandwidth/1GiB/1stream", ReadBandwidth<1>)
      ->Unit(benchmark::kMillisecond)
      ->MinTime(2.0);
  benchmark::RegisterBenchmark("ReadBandwidth/1GiB/4streams", ReadBandwidth<4>)
      ->Unit(benchmark::kMillisecond)
      ->MinTime(2.0);
  struct Shape {
    const char *name;
    int64_t k, n;
  } shapes[] = {{"4096x11008", 4096, 11008}, {"11008x4096", 11008, 4096}};
  for (auto type : {WeightType::F32, WeightType::F16}) {
    const char *typeName = type == WeightType::F32 ? "f32" : "f16";
    for (const Shape &shape : shapes) {
      for (int64_t m : {1, 64, 512}) {
        if (m == 512 && type != WeightType::F32)
          continue;
        std::string name =
            std::string(m == 1 ? "GEMV/" : "GEMM/m" + std::to_string(m) + "/") +
            typeName + "/" + shape.name;
        benchmark::RegisterBenchmark(name.c_str(), Matmul, m, shape.k, shape.n,
                                     type)
            ->Unit(benchmark::kMillisecond)
            ->MinTime(1.0);
      }
    }
  }
  const QuantFormat quantFormats[] = {
      intNFormat("int4-g128-asym-f16", 4, 128, false),
      intNFormat("int4-g128-sym-f16", 4, 128, true),
      intNFormat("int4-g32-asym-f16", 4, 32, false),
      intNFormat("int4-perchannel-sym-f16", 4, qrt::kPerChannel, true),
      intNFormat("int8-perchannel-sym-f16", 8, qrt::kPerChannel, true),
      intNFormat("int8-perchannel-asym-f16", 8, qrt::kPerChannel, false),
      nf4Format("nf4-b64-f32", false),
      nf4Format("nf4-b64-dq256", true),
      nf4Format("fp4-b64-f32", false, qrt::Float4Codes::FP4),
      nf4Format("fp4-b64-dq256", true, qrt::Float4Codes::FP4),
      llmInt8Format("llm-int8-t6", 6.0f),
      llmInt8Format("llm-int8-t0", 0.0f),
      // The same weights, weight-only (f32 activations): LLM.int8()'s peer.
      [] {
        QuantFormat f = llmInt8Format("int8-perchannel-sym-f32", 0.0f);
        f.llmInt8 = false;
        return f;
      }(),
      // Generic-path formats, for comparison.
      intNFormat("int3-g128-asym-f16", 3, 128, false),
      intNFormat("int4-g128-actorder-asym-f16", 4, 128, false, true),
  };
  for (const QuantFormat &format : quantFormats)
    for (const Shape &shape : shapes) {
      std::string name =
          std::string("QuantGEMV/") + format.name + "/" + shape.name;
      benchmark::RegisterBenchmark(name.c_str(), QuantMatmul, format, 1,
                                   shape.k, shape.n)
          ->Unit(benchmark::kMillisecond)
          ->MinTime(1.0);
    }
  // The same weights with 8-bit activations (integer dot products).
  std::vector<QuantFormat> int8ActivationFormats;
  for (QuantFormat format :
       {quantFormats[0], quantFormats[1], quantFormats[2], quantFormats[3],
        quantFormats[4], quantFormats[6], quantFormats[7],
        intNFormat("int4-g32-sym-f16", 4, 32, true)}) {
    format.int8Activations = true;
    int8ActivationFormats.push_back(format);
  }
  for (const QuantFormat &format : int8ActivationFormats)
    for (const Shape &shape : shapes) {
      std::string name =
          std::string("QuantGEMV/a8/") + format.name + "/" + shape.name;
      benchmark::RegisterBenchmark(name.c_str(), QuantMatmul, format, 1,
                                   shape.k, shape.n)
          ->Unit(benchmark::kMillisecond)
          ->MinTime(1.0);
    }
  // Prefill: 64 tokens, and the 128 of the whole-model benchmark for the
  // 8-bit-activation forms of int4 g128, g32 symmetric (Q4_0's bytes) and
  // NF4 (f32 and 8-bit activations).
  for (const QuantFormat &format :
       {quantFormats[0], quantFormats[4], quantFormats[6],
        int8ActivationFormats[0], int8ActivationFormats[4],
        int8ActivationFormats[5], int8ActivationFormats.back()})
    for (int64_t m : {64, 128}) {
      if (m == 128 && !format.int8Activations)
        continue;
      for (const Shape &shape : shapes) {
        std::string name = "QuantGEMM/m" + std::to_string(m) + "/" +
                           (format.int8Activations ? "a8/" : "") +
                           format.name + "/" + shape.name;
        benchmark::RegisterBenchmark(name.c_str(), QuantMatmul, format, m,
                                     shape.k, shape.n)
            ->Unit(benchmark::kMillisecond)
            ->MinTime(1.0);
      }
    }
  for (const QuantFormat &format : {llmInt8Format("llm-int8-t6", 6.0f),
                                    llmInt8Format("llm-int8-t0", 0.0f)})
    for (int64_t m : {64, 512})
      for (const Shape &shape : shapes) {
        std::string name = "QuantGEMM/m" + std::to_string(m) + "/" +
                           format.name + "/" + shape.name;
        benchmark::RegisterBenchmark(name.c_str(), QuantMatmul, format, m,
                                     shape.k, shape.n)
            ->Unit(benchmark::kMillisecond)
            ->MinTime(1.0);
      }
  for (int64_t past : {512, 2048})
    benchmark::RegisterBenchmark(
        ("AttentionDecode/past" + std::to_string(past)).c_str(),
        AttentionDecode, past)
        ->Unit(benchmark::kMicrosecond)
        ->MinTime(1.0);
}

} // namespace

int main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv))
    return 1;
  benchmark::AddCustomContext("qrt_isa", isaName());
  benchmark::AddCustomContext("qrt_threads", std::to_string(pool().size()));
  registerAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
