//===- EmulatedKernelsTest.cpp - generated kernels' values, no GPU --------===//
//
// Runs every generated kernel on the CUDA emulator (test/unit/cuda: the
// module compiled as host C++, one fiber per CUDA thread, barriers and warp
// shuffles honoured) and compares its output with the runtime's CPU
// reference of the same operation:
//  - matmuls of every weight storage of KernelSpecs.h, random components
//    (codes, scales, zero points, g_idx, double-quant codes) against
//    x @ dequantizeRows(w)^T (+ residual) in double;
//  - RMSNorm, SwiGLU, add, embedding (f32 and f16 tables), rotary (both
//    conventions, angles or tables, partial rotary dim with the copy), KV
//    append + attention (GQA, several head sizes, a prefill after cached
//    positions) against qrt::cpu kernels.
//
//===----------------------------------------------------------------------===//

#include "KernelSpecs.h"

#include "../cuda/CudaEmulator.h"
#include "qrt/core/Half.h"
#include "qrt/core/QuantizedWeight.h"
#include "qrt/cpu/Kernels.h"
#include "qrt/cuda/KernelAbi.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

using namespace mlir::qllm::cuda;
using qrt::cuda::emulator::EmulatorDevice;

namespace {

constexpr int64_t kDim = 200; // not a multiple of any block
constexpr int64_t kVocab = 50;

std::vector<RotarySpec> rotarySpecs() {
  std::vector<RotarySpec> specs;
  for (bool interleaved : {false, true})
    for (bool tables : {false, true})
      for (bool inPlace : {false, true}) {
        RotarySpec spec;
        spec.heads = 4;
        spec.headDim = 16;
        spec.rotaryDim = inPlace ? 16 : 8; // partial: the rest is copied
        spec.interleaved = interleaved;
        spec.tables = tables;
        spec.inPlace = inPlace;
        spec.base = 10000.0f;
        specs.push_back(spec);
      }
  return specs;
}

std::vector<AttentionSpec> attentionSpecs() {
  std::vector<AttentionSpec> specs;
  for (int64_t headDim : {8, 64, 80}) {
    AttentionSpec spec;
    spec.heads = 6;
    spec.kvHeads = 2;
    spec.headDim = headDim;
    spec.layer = 1;
    spec.scale = 1.0f / std::sqrt(float(headDim));
    specs.push_back(spec);
  }
  return specs;
}

/// Device buffers of one launch, freed at the end.
class Buffers {
public:
  explicit Buffers(EmulatorDevice &device) : device(device) {}
  ~Buffers() {
    for (uint64_t a : addresses)
      device.free(a);
    for (uint64_t a : others)
      device.free(a);
  }
  /// Uploads `bytes` and appends the address to the kernel's buffers.
  uint64_t add(const void *data, size_t bytes) {
    uint64_t address = 0;
    std::string error;
    EXPECT_TRUE(device.allocate(std::max<size_t>(bytes, 16), address, error))
        << error;
    if (data)
      EXPECT_TRUE(device.copyToDevice(address, data, bytes, error)) << error;
    else
      EXPECT_TRUE(device.memset(address, 0, bytes, error)) << error;
    addresses.push_back(address);
    return address;
  }
  template <typename T> uint64_t add(const std::vector<T> &v) {
    return add(v.data(), v.size() * sizeof(T));
  }
  /// Uploads `bytes` that are not one of the kernel's buffers.
  uint64_t upload(const void *data, size_t bytes) {
    uint64_t address = 0;
    std::string error;
    EXPECT_TRUE(device.allocate(bytes, address, error)) << error;
    EXPECT_TRUE(device.copyToDevice(address, data, bytes, error)) << error;
    others.push_back(address);
    return address;
  }
  /// The kernel's parameters: the buffers added so far, and `position` in
  /// a device int of its own (as the session's staging buffer).
  qrt::cuda::KernelParams params(int tokens, int position = 0, int context = 0,
                                 uint64_t kvCache = 0) {
    qrt::cuda::KernelParams p{};
    for (size_t i = 0; i < addresses.size(); ++i)
      p.buffers[i] = addresses[i];
    p.kvCache = kvCache;
    p.positionAddress = upload(&position, sizeof(position));
    p.tokens = tokens;
    p.context = context;
    return p;
  }
  std::vector<float> read(size_t index, size_t count) {
    std::vector<float> out(count);
    std::string error;
    EXPECT_TRUE(device.copyToHost(out.data(), addresses[index],
                                  count * sizeof(float), error))
        << error;
    return out;
  }

private:
  EmulatorDevice &device;
  std::vector<uint64_t> addresses, others;
};

class EmulatedKernels : public ::testing::Test {
protected:
  /// One compiled module for the whole suite (host compilation is slow).
  static void SetUpTestSuite() {
    module = new CudaModule();
    // Every kernel the tests launch, so that the module compiles once.
    for (const MatmulSpec &spec : allMatmuls())
      module->matmul(spec);
    for (const MatmulSpec &spec : llmInt8Matmuls())
      module->matmul(spec);
    module->rmsNorm(kDim, 1e-5f);
    module->add(kDim);
    module->swiglu(kDim);
    module->embedding(kVocab, kDim, false);
    module->embedding(kVocab, kDim, true);
    for (const RotarySpec &spec : rotarySpecs())
      module->rotary(spec);
    for (const AttentionSpec &spec : attentionSpecs())
      module->attention(spec);
    device = new EmulatorDevice();
  }
  static void TearDownTestSuite() {
    delete device;
    delete module;
    device = nullptr;
    module = nullptr;
  }

  /// Compiles the module (again, if kernels were added since).
  static void load() {
    std::string source = module->source();
    if (source == loaded)
      return;
    std::string error;
    ASSERT_TRUE(device->loadSource(source, error)) << error;
    loaded = source;
  }

  static void run(const Launch &launch, const qrt::cuda::KernelParams &params,
                  int tokens) {
    load();
    qrt::cuda::Function function = nullptr;
    std::string error;
    ASSERT_TRUE(device->function(launch.function, function, error)) << error;
    uint32_t gridY =
        launch.tokensPerBlock
            ? (tokens + launch.tokensPerBlock - 1) / launch.tokensPerBlock
            : 1;
    ASSERT_TRUE(device->launch(function, launch.gridX, gridY, launch.blockX,
                               launch.sharedBytes, params, error))
        << launch.function << ": " << error;
  }

  static CudaModule *module;
  static EmulatorDevice *device;
  static std::string loaded;
};

CudaModule *EmulatedKernels::module = nullptr;
EmulatorDevice *EmulatedKernels::device = nullptr;
std::string EmulatedKernels::loaded;

/// Random components of `spec`'s weight; `dense` gets w as f32 [rows, cols].
std::vector<std::vector<uint8_t>> randomWeight(const MatmulSpec &spec,
                                               std::mt19937 &rng,
                                               std::vector<float> &dense) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::uniform_int_distribution<int> byte(0, 255);
  const int64_t rows = spec.rows, cols = spec.cols;
  dense.assign(static_cast<size_t>(rows * cols), 0.0f);
  std::vector<std::vector<uint8_t>> components;
  if (spec.storage == WeightStorage::F32 ||
      spec.storage == WeightStorage::F16) {
    bool half = spec.storage == WeightStorage::F16;
    std::vector<uint8_t> bytes(dense.size() * (half ? 2 : 4));
    for (size_t i = 0; i < dense.size(); ++i) {
      float v = 0.1f * uniform(rng);
      if (half) {
        uint16_t h = qrt::floatToHalf(v);
        std::memcpy(&bytes[2 * i], &h, 2);
        v = qrt::halfToFloat(h);
      } else {
        std::memcpy(&bytes[4 * i], &v, 4);
      }
      dense[i] = v;
    }
    components.push_back(std::move(bytes));
    return components;
  }
  qrt::QuantizedView view;
  qrt::WeightLayout layout;
  if (spec.storage == WeightStorage::IntN) {
    view.kind = qrt::QuantizedView::Kind::IntN;
    view.intN = spec.intN;
    layout = qrt::layoutFor(spec.intN, rows, cols);
  } else {
    view.kind = qrt::QuantizedView::Kind::Float4;
    view.float4 = spec.float4;
    layout = qrt::layoutFor(spec.float4, rows, cols);
  }
  view.rows = rows;
  view.cols = cols;
  qrt::ScaleType scaleType = spec.storage == WeightStorage::IntN
                                 ? spec.intN.scaleType
                                 : spec.float4.scaleType;
  const int64_t groups = view.kind == qrt::QuantizedView::Kind::IntN
                             ? qrt::numGroups(cols, spec.intN.groupSize)
                             : qrt::numGroups(cols, spec.float4.blockSize);
  for (const qrt::Component &c : layout.components) {
    std::vector<uint8_t> bytes(static_cast<size_t>(c.bytes()));
    switch (c.role) {
    case qrt::ComponentRole::Data:
    case qrt::ComponentRole::ZeroPoints:
      for (uint8_t &b : bytes)
        b = static_cast<uint8_t>(byte(rng));
      break;
    case qrt::ComponentRole::Scales:
      if (c.element == qrt::ElementKind::U8) { // double-quantized absmax
        for (uint8_t &b : bytes)
          b = static_cast<uint8_t>(byte(rng));
        break;
      }
      for (uint64_t i = 0; i < c.numElements(); ++i) {
        float s = 0.01f + 0.01f * std::abs(uniform(rng));
        if (scaleType == qrt::ScaleType::F32) {
          std::memcpy(&bytes[4 * i], &s, 4);
        } else {
          uint16_t h = scaleType == qrt::ScaleType::F16
                           ? qrt::floatToHalf(s)
                           : qrt::floatToBfloat16(s);
          std::memcpy(&bytes[2 * i], &h, 2);
        }
      }
      break;
    case qrt::ComponentRole::GroupIndex:
      for (uint64_t i = 0; i < c.numElements(); ++i) {
        int32_t g = static_cast<int32_t>(rng() % groups);
        std::memcpy(&bytes[4 * i], &g, 4);
      }
      break;
    case qrt::ComponentRole::DoubleQuantScales:
      for (uint64_t i = 0; i < c.numElements(); ++i) {
        float s = 0.002f + 0.002f * std::abs(uniform(rng));
        std::memcpy(&bytes[4 * i], &s, 4);
      }
      break;
    case qrt::ComponentRole::DoubleQuantOffset: {
      float offset = 0.01f;
      std::memcpy(bytes.data(), &offset, 4);
      break;
    }
    }
    components.push_back(std::move(bytes));
  }
  std::vector<const void *> pointers;
  for (const auto &c : components)
    pointers.push_back(c.data());
  EXPECT_TRUE(qrt::bindComponents(view, pointers));
  qrt::dequantizeRows(view, 0, rows, dense.data());
  return components;
}

std::string describe(const MatmulSpec &spec) {
  CudaModule names;
  return names.matmul(spec).function;
}

TEST_F(EmulatedKernels, MatmulsOfEveryWeightStorage) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  int checked = 0;
  for (const MatmulSpec &spec : allMatmuls()) {
    SCOPED_TRACE(describe(spec));
    const int tokens = spec.gemm ? 37 : 1; // GEMM: a partial token tile
    std::vector<float> dense;
    std::vector<std::vector<uint8_t>> weight = randomWeight(spec, rng, dense);
    std::vector<float> x(static_cast<size_t>(tokens * spec.cols));
    for (float &v : x)
      v = uniform(rng);
    std::vector<float> residual(static_cast<size_t>(tokens * spec.rows));
    for (float &v : residual)
      v = uniform(rng);
    Buffers buffers(*device);
    buffers.add(x);
    for (const auto &c : weight)
      buffers.add(c);
    if (spec.addResidual)
      buffers.add(residual);
    size_t outIndex = 1 + weight.size() + (spec.addResidual ? 1 : 0);
    buffers.add(nullptr, residual.size() * sizeof(float));
    Launch launch = module->matmul(spec);
    run(launch, buffers.params(tokens), tokens);
    std::vector<float> out = buffers.read(outIndex, residual.size());
    double worst = 0;
    for (int t = 0; t < tokens; ++t)
      for (int64_t r = 0; r < spec.rows; ++r) {
        double sum = 0, scale = 0;
        for (int64_t c = 0; c < spec.cols; ++c) {
          double term = double(x[t * spec.cols + c]) * dense[r * spec.cols + c];
          sum += term;
          scale += std::abs(term);
        }
        if (spec.addResidual)
          sum += residual[t * spec.rows + r];
        double error = std::abs(out[t * spec.rows + r] - sum);
        worst = std::max(worst, error / (scale + 1e-6));
        ASSERT_LE(error, 1e-5 * scale + 1e-6)
            << "token " << t << " row " << r << ": " << out[t * spec.rows + r]
            << " vs " << sum;
      }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(allMatmuls().size()));
}

// LLM.int8(): the generated kernel against the CPU kernel
// (qrt::cpu::int8Matmul, itself checked against a reference in
// test/unit/cpu/Int8KernelsTest.cpp): the same 8-bit activations and exact
// integer sums, so only the float epilogue differs. x has outlier columns
// (+-20 in some tokens, one column with a single outlier token) and a token
// that is all zeros.
TEST_F(EmulatedKernels, LlmInt8AgainstTheCpuKernel) {
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  qrt::cpu::ThreadPool pool(1);
  for (const MatmulSpec &spec : llmInt8Matmuls()) {
    SCOPED_TRACE(describe(spec));
    for (int tokens : {1, 5}) {
      std::vector<float> dense;
      std::vector<std::vector<uint8_t>> weight = randomWeight(spec, rng, dense);
      // Codes as the quantizer writes them (|q - 128| <= 127).
      for (uint8_t &b : weight[0])
        b = b == 0 ? 1 : b;
      std::vector<float> x(static_cast<size_t>(tokens * spec.cols));
      for (float &v : x)
        v = uniform(rng);
      for (int t = 0; t < tokens; ++t) {
        x[t * spec.cols + 3] = t % 2 ? 20.0f : -20.0f;
        if (t == tokens - 1)
          x[t * spec.cols + spec.cols - 2] = 6.0f; // equal to the threshold
      }
      if (tokens > 1)
        std::fill(x.begin() + spec.cols, x.begin() + 2 * spec.cols, 0.0f);
      std::vector<float> residual(static_cast<size_t>(tokens * spec.rows));
      for (float &v : residual)
        v = uniform(rng);

      qrt::QuantizedView view;
      view.kind = qrt::QuantizedView::Kind::IntN;
      view.intN = spec.intN;
      view.rows = spec.rows;
      view.cols = spec.cols;
      ASSERT_TRUE(qrt::bindComponents(view, {weight[0].data(), weight[1].data()}));
      std::vector<float> expected(residual.size());
      qrt::cpu::int8Matmul(pool, x.data(), tokens, view, spec.outlierThreshold,
                           expected.data());

      Buffers buffers(*device);
      buffers.add(x);
      for (const auto &c : weight)
        buffers.add(c);
      if (spec.addResidual)
        buffers.add(residual);
      size_t outIndex = 3 + (spec.addResidual ? 1 : 0);
      buffers.add(nullptr, residual.size() * sizeof(float));
      run(module->matmul(spec), buffers.params(tokens), tokens);
      std::vector<float> out = buffers.read(outIndex, residual.size());
      for (int t = 0; t < tokens; ++t)
        for (int64_t r = 0; r < spec.rows; ++r) {
          double want = expected[t * spec.rows + r] +
                        (spec.addResidual ? residual[t * spec.rows + r] : 0.0);
          ASSERT_NEAR(out[t * spec.rows + r], want, 1e-5 * std::abs(want) + 1e-5)
              << "token " << t << " row " << r;
        }
    }
  }
}

TEST_F(EmulatedKernels, NormActivationsAndEmbedding) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  const int tokens = 3;
  const int64_t dim = kDim;
  std::vector<float> x(tokens * dim), w(dim), y(tokens * dim);
  for (float &v : x)
    v = uniform(rng);
  for (float &v : w)
    v = uniform(rng);
  {
    Buffers b(*device);
    b.add(x);
    b.add(w);
    b.add(nullptr, x.size() * 4);
    run(module->rmsNorm(dim, 1e-5f), b.params(tokens), tokens);
    std::vector<float> out = b.read(2, x.size());
    qrt::cpu::rmsNorm(x.data(), tokens, dim, w.data(), 1e-5f, y.data());
    for (size_t i = 0; i < y.size(); ++i)
      ASSERT_NEAR(out[i], y[i], 1e-5f * (1 + std::abs(y[i]))) << i;
  }
  for (bool swiglu : {false, true}) {
    Buffers b(*device);
    b.add(x);
    b.add(x); // b = a: a + a, silu(a) * a
    b.add(nullptr, x.size() * 4);
    Launch launch = swiglu ? module->swiglu(dim) : module->add(dim);
    run(launch, b.params(tokens), tokens);
    std::vector<float> out = b.read(2, x.size());
    if (swiglu)
      qrt::cpu::swiglu(x.data(), x.data(), x.size(), y.data());
    else
      qrt::cpu::add(x.data(), x.data(), x.size(), y.data());
    for (size_t i = 0; i < y.size(); ++i)
      ASSERT_NEAR(out[i], y[i], 1e-6f * (1 + std::abs(y[i]))) << i;
  }
  for (bool half : {false, true}) {
    const int64_t vocab = kVocab;
    std::vector<float> table(vocab * dim);
    for (float &v : table)
      v = uniform(rng);
    std::vector<uint16_t> halves(table.size());
    for (size_t i = 0; i < table.size(); ++i)
      halves[i] = qrt::floatToHalf(table[i]);
    std::vector<int32_t> ids = {7, 0, 49};
    Buffers b(*device);
    if (half)
      b.add(halves);
    else
      b.add(table);
    b.add(ids);
    b.add(nullptr, ids.size() * dim * 4);
    run(module->embedding(vocab, dim, half), b.params(3), 3);
    std::vector<float> out = b.read(2, ids.size() * dim);
    ASSERT_TRUE(qrt::cpu::embedding(
        half ? static_cast<const void *>(halves.data()) : table.data(),
        half ? qrt::cpu::WeightType::F16 : qrt::cpu::WeightType::F32, vocab,
        dim, ids.data(), 3, y.data()));
    for (size_t i = 0; i < out.size(); ++i)
      ASSERT_EQ(out[i], y[i]) << i;
  }
}

TEST_F(EmulatedKernels, RotaryBothConventionsAnglesAndTables) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const int tokens = 3, position = 1000; // large angles: double matters
  for (const RotarySpec &spec : rotarySpecs()) {
    const bool interleaved = spec.interleaved, tables = spec.tables,
               inPlace = spec.inPlace;
    SCOPED_TRACE(std::to_string(interleaved) + std::to_string(tables) +
                 std::to_string(inPlace));
    std::vector<float> x(tokens * spec.heads * spec.headDim);
    for (float &v : x)
      v = uniform(rng);
    const int64_t half = spec.rotaryDim / 2, positions = position + tokens;
    std::vector<float> cosTable(positions * half), sinTable(positions * half);
    for (int64_t p = 0; p < positions; ++p)
      for (int64_t i = 0; i < half; ++i) {
        double angle = p * std::pow(10000.0, -2.0 * i / spec.rotaryDim);
        cosTable[p * half + i] = static_cast<float>(std::cos(angle + 0.5));
        sinTable[p * half + i] = static_cast<float>(std::sin(angle + 0.5));
      }
    Buffers b(*device);
    uint64_t in = b.add(x);
    if (tables) {
      b.add(cosTable);
      b.add(sinTable);
    }
    size_t outIndex = tables ? 3 : 1;
    if (!inPlace)
      b.add(nullptr, x.size() * 4);
    qrt::cuda::KernelParams params = b.params(tokens, position);
    if (inPlace)
      params.buffers[outIndex] = in;
    run(module->rotary(spec), params, tokens);
    std::vector<float> out = b.read(inPlace ? 0 : outIndex, x.size());
    std::vector<float> expected = x;
    ASSERT_TRUE(qrt::cpu::rotary(
        expected.data(), tokens, spec.heads, spec.headDim, spec.rotaryDim,
        position,
        interleaved ? qrt::cpu::RotaryConvention::Interleaved
                    : qrt::cpu::RotaryConvention::RotateHalf,
        spec.base, tables ? cosTable.data() : nullptr,
        tables ? sinTable.data() : nullptr, tables ? positions : 0));
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_NEAR(out[i], expected[i], 2e-6f) << i;
  }
}

TEST_F(EmulatedKernels, KvAppendAndAttention) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  qrt::cpu::ThreadPool pool(1);
  for (const AttentionSpec &spec : attentionSpecs()) {
    const int64_t headDim = spec.headDim;
    SCOPED_TRACE("head dim " + std::to_string(headDim));
    const int layers = 2, context = 40, past = 9, tokens = 5;
    // The device cache holds earlier positions already; the step appends 5.
    const size_t layerFloats = 2ull * spec.kvHeads * context * headDim;
    std::vector<float> cache(layers * layerFloats);
    for (float &v : cache)
      v = uniform(rng);
    std::vector<float> q(tokens * spec.heads * headDim),
        k(tokens * spec.kvHeads * headDim), v(tokens * spec.kvHeads * headDim);
    for (auto *vec : {&q, &k, &v})
      for (float &e : *vec)
        e = uniform(rng);
    Buffers b(*device);
    b.add(q);
    b.add(k);
    b.add(v);
    b.add(nullptr, q.size() * 4);
    Buffers cacheBuffer(*device);
    uint64_t kv = cacheBuffer.add(cache);
    qrt::cuda::KernelParams params = b.params(tokens, past, context, kv);
    for (const Launch &launch : module->attention(spec))
      run(launch, params, tokens);
    std::vector<float> out = b.read(3, q.size());
    std::vector<float> deviceCache = cacheBuffer.read(0, cache.size());

    float *kCache = cache.data() + spec.layer * layerFloats;
    float *vCache = kCache + layerFloats / 2;
    qrt::cpu::appendKv(k.data(), tokens, spec.kvHeads, headDim, past, context,
                       kCache);
    qrt::cpu::appendKv(v.data(), tokens, spec.kvHeads, headDim, past, context,
                       vCache);
    for (size_t i = 0; i < cache.size(); ++i)
      ASSERT_EQ(deviceCache[i], cache[i]) << "cache float " << i;
    std::vector<float> expected(q.size());
    qrt::cpu::attention(pool, q.data(), kCache, vCache, context, tokens, past,
                        spec.heads, spec.kvHeads, headDim, spec.scale, true,
                        expected.data());
    for (size_t i = 0; i < q.size(); ++i)
      ASSERT_NEAR(out[i], expected[i], 2e-6f) << i;
  }
}

} // namespace
