//===- TestPlans.cpp - small valid plans for the runtime's tests ----------===//

#include "TestPlans.h"

#include "qrt/core/Half.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <fcntl.h>
#include <unistd.h>

namespace qrt::test {

//===----------------------------------------------------------------------===//
// Serialization
//===----------------------------------------------------------------------===//

namespace {

uint64_t alignUp(uint64_t v) {
  return (v + kWeightAlignment - 1) / kWeightAlignment * kWeightAlignment;
}

flatbuffers::Offset<fb::Plan>
buildPlan(flatbuffers::FlatBufferBuilder &fbb, const PlanSpec &spec,
          const std::vector<uint64_t> &offsets, uint64_t weightsOffset,
          uint64_t weightsSize, bool weightless = false, uint64_t seed = 0) {
  auto tensor = [&](fb::DType dtype, const std::vector<int64_t> &dims) {
    return fb::CreateTensorInfo(fbb, dtype, fbb.CreateVector(dims));
  };
  auto buffer = [&](const BufferSpec &b) {
    auto t = tensor(b.dtype, b.dims);
    return fb::CreateBuffer(fbb, b.kind, b.offset, t);
  };
  auto buffers = [&](const std::vector<BufferSpec> &list) {
    std::vector<flatbuffers::Offset<fb::Buffer>> out;
    for (const BufferSpec &b : list)
      out.push_back(buffer(b));
    return fbb.CreateVector(out);
  };

  std::vector<flatbuffers::Offset<fb::WeightInfo>> weightInfos;
  for (size_t i = 0; i < spec.weights.size(); ++i) {
    const WeightSpec &w = spec.weights[i];
    auto name = fbb.CreateString(w.name);
    auto t = tensor(w.dtype, w.dims);
    uint64_t checksum = w.checksum ? *w.checksum
                        : weightless
                            ? 0
                            : checksum64(w.bytes.data(), w.bytes.size());
    uint64_t size = w.size ? *w.size : w.bytes.size();
    weightInfos.push_back(fb::CreateWeightInfo(
        fbb, name, t, offsets[i] + static_cast<uint64_t>(w.offsetDelta), size,
        checksum));
  }
  auto weightVector = fbb.CreateVector(weightInfos);

  bool cudaCode =
      std::any_of(spec.targets.begin(), spec.targets.end(),
                  [](const TargetCodeSpec &t) { return t.target == "cuda"; });
  std::vector<flatbuffers::Offset<fb::Entry>> entries;
  for (const EntrySpec &entry : spec.entries) {
    std::vector<flatbuffers::Offset<fb::Step>> steps;
    for (const StepSpec &s : entry.steps) {
      auto inputs = buffers(s.inputs);
      auto outputs = buffers(s.outputs);
      auto name = fbb.CreateString(s.name);
      flatbuffers::Offset<fb::QuantScheme> quant = 0;
      if (const std::optional<QuantSpec> &q = s.quant)
        quant = fb::CreateQuantScheme(fbb, q->kind, q->rows, q->cols, q->bits,
                                      q->groupSize, q->symmetric, q->actOrder,
                                      q->scaleType, q->doubleQuant,
                                      q->doubleQuantBlockSize);
      flatbuffers::Offset<flatbuffers::Vector<
          flatbuffers::Offset<fb::CudaLaunch>>>
          cuda = 0;
      if (s.cudaList.value_or(cudaCode || !s.cuda.empty())) {
        std::vector<flatbuffers::Offset<fb::CudaLaunch>> launches;
        for (const CudaLaunchSpec &l : s.cuda) {
          flatbuffers::Offset<
              flatbuffers::Vector<flatbuffers::Offset<fb::Buffer>>>
              own = 0;
          if (!l.buffers.empty())
            own = buffers(l.buffers);
          launches.push_back(fb::CreateCudaLaunch(
              fbb, fbb.CreateString(l.function), l.gridX, l.tokensPerBlock,
              l.blockX, l.sharedBytes, own));
        }
        cuda = fbb.CreateVector(launches);
      }
      steps.push_back(fb::CreateStep(fbb, s.kernel, inputs, outputs, name,
                                     s.epsilon, s.scale, s.causal, s.layer,
                                     s.heads, s.kvHeads, s.headDim,
                                     s.convention, s.rotaryDim, s.rotaryBase,
                                     quant, cuda));
    }
    auto stepVector = fbb.CreateVector(steps);
    auto name = fbb.CreateString(entry.name);
    auto logits = buffer(entry.logits);
    entries.push_back(fb::CreateEntry(fbb, name, entry.maxTokens,
                                      entry.arenaBytes, stepVector, logits));
  }
  auto entryVector = fbb.CreateVector(entries);

  auto model = fb::CreateModelInfo(
      fbb, fbb.CreateString("llama"), spec.dim, spec.hiddenDim, spec.layers,
      spec.heads, spec.kvHeads, spec.headDim, spec.vocab, spec.maxContext,
      spec.bos, spec.eos, fbb.CreateString("tokenizer.bin"),
      fbb.CreateString("TestPlans"));
  flatbuffers::Offset<fb::KvCache> cache = 0;
  if (spec.hasKvCache)
    cache = fb::CreateKvCache(fbb, spec.cacheLayers, spec.cacheKvHeads,
                              spec.cacheHeadDim, spec.cacheCapacity,
                              spec.cacheDtype);
  std::vector<flatbuffers::Offset<fb::TargetCode>> targetCode;
  for (const TargetCodeSpec &t : spec.targets) {
    std::vector<flatbuffers::Offset<flatbuffers::String>> kernels;
    for (const std::string &k : t.kernels)
      kernels.push_back(fbb.CreateString(k));
    targetCode.push_back(fb::CreateTargetCode(
        fbb, fbb.CreateString(t.target), fbb.CreateString(t.format),
        fbb.CreateVector(t.code), fbb.CreateString(t.arch),
        fbb.CreateVector(kernels)));
  }
  auto targets = fbb.CreateVector(targetCode);
  auto producer = fbb.CreateString(spec.producer);
  return fb::CreatePlan(fbb, spec.version, producer, model, weightVector,
                        entryVector, cache, targets, weightsOffset, weightsSize,
                        weightless, seed);
}

} // namespace

std::vector<uint8_t> serializePlan(const PlanSpec &spec) {
  // Build once with the weights laid out after a FlatBuffer of the previous
  // build's size; with ForceDefaults every scalar is stored, so only values
  // change and the second build has the first one's size.
  uint64_t headerSize = 0, weightsOffset = 0, weightsEnd = 0;
  std::vector<uint64_t> offsets(spec.weights.size());
  std::unique_ptr<flatbuffers::FlatBufferBuilder> fbb;
  for (int attempt = 0; attempt < 4; ++attempt) {
    weightsOffset = alignUp(headerSize);
    uint64_t offset = weightsOffset;
    weightsEnd = weightsOffset;
    for (size_t i = 0; i < spec.weights.size(); ++i) {
      offsets[i] = offset;
      weightsEnd = offset + spec.weights[i].bytes.size();
      offset = alignUp(weightsEnd);
    }
    fbb = std::make_unique<flatbuffers::FlatBufferBuilder>(1 << 14);
    fbb->ForceDefaults(true);
    fb::FinishSizePrefixedPlanBuffer(
        *fbb, buildPlan(*fbb, spec, offsets, weightsOffset,
                        weightsEnd - weightsOffset));
    if (fbb->GetSize() == headerSize)
      break;
    headerSize = fbb->GetSize();
  }
  if (fbb->GetSize() != headerSize)
    throw std::logic_error("the test plan's layout did not converge");

  std::vector<uint8_t> file(std::max<uint64_t>(weightsEnd, weightsOffset), 0);
  std::memcpy(file.data(), fbb->GetBufferPointer(), fbb->GetSize());
  for (size_t i = 0; i < spec.weights.size(); ++i)
    if (!spec.weights[i].bytes.empty())
      std::memcpy(file.data() + offsets[i], spec.weights[i].bytes.data(),
                  spec.weights[i].bytes.size());
  return file;
}

std::vector<uint8_t> serializeWeightlessPlan(const PlanSpec &spec,
                                             uint64_t seed) {
  // As serializePlan, with every weight at offset 0 and an empty region.
  uint64_t headerSize = 0, weightsOffset = 0;
  std::vector<uint64_t> offsets(spec.weights.size(), 0);
  std::unique_ptr<flatbuffers::FlatBufferBuilder> fbb;
  for (int attempt = 0; attempt < 4; ++attempt) {
    weightsOffset = alignUp(headerSize);
    fbb = std::make_unique<flatbuffers::FlatBufferBuilder>(1 << 14);
    fbb->ForceDefaults(true);
    fb::FinishSizePrefixedPlanBuffer(
        *fbb, buildPlan(*fbb, spec, offsets, weightsOffset, 0,
                        /*weightless=*/true, seed));
    if (fbb->GetSize() == headerSize)
      break;
    headerSize = fbb->GetSize();
  }
  if (fbb->GetSize() != headerSize)
    throw std::logic_error("the test plan's layout did not converge");
  std::vector<uint8_t> file(weightsOffset, 0);
  std::memcpy(file.data(), fbb->GetBufferPointer(), fbb->GetSize());
  return file;
}

size_t flatBufferBytes(const std::vector<uint8_t> &plan) {
  uint32_t length = 0;
  std::memcpy(&length, plan.data(), 4);
  return static_cast<size_t>(length) + 4;
}

//===----------------------------------------------------------------------===//
// Quantized weights
//===----------------------------------------------------------------------===//

namespace {

fb::DType planScaleType(ScaleType type) {
  switch (type) {
  case ScaleType::F32:
    return fb::DType::F32;
  case ScaleType::F16:
    return fb::DType::F16;
  case ScaleType::BF16:
    return fb::DType::BF16;
  }
  return fb::DType::F32;
}

} // namespace

WeightScheme WeightScheme::of(const IntNScheme &scheme) {
  WeightScheme s;
  s.kind = QuantizedView::Kind::IntN;
  s.intN = scheme;
  return s;
}

WeightScheme WeightScheme::of(const NF4Scheme &scheme) {
  WeightScheme s;
  s.kind = QuantizedView::Kind::NF4;
  s.nf4 = scheme;
  return s;
}

QuantSpec WeightScheme::spec(int64_t rows, int64_t cols) const {
  QuantSpec q;
  q.rows = rows;
  q.cols = cols;
  if (kind == QuantizedView::Kind::NF4) {
    q.kind = fb::QuantKind::NF4;
    q.bits = 4;
    q.groupSize = nf4.blockSize;
    q.scaleType = planScaleType(nf4.scaleType);
    q.doubleQuant = nf4.doubleQuant;
    q.doubleQuantBlockSize = nf4.doubleQuantBlockSize;
  } else {
    q.kind = fb::QuantKind::IntN;
    q.bits = intN.bits;
    q.groupSize = intN.groupSize;
    q.symmetric = intN.symmetric;
    q.actOrder = intN.actOrder;
    q.scaleType = planScaleType(intN.scaleType);
  }
  return q;
}

std::string WeightScheme::name() const {
  if (kind == QuantizedView::Kind::NF4)
    return "nf4_b" + std::to_string(nf4.blockSize) +
           (nf4.doubleQuant ? "_dq" + std::to_string(nf4.doubleQuantBlockSize)
                            : std::string("_") + scaleTypeName(nf4.scaleType));
  return "int" + std::to_string(intN.bits) +
         (intN.groupSize == kPerChannel ? std::string("_channel")
                                        : "_g" + std::to_string(intN.groupSize)) +
         (intN.symmetric ? "_sym" : "_asym") + (intN.actOrder ? "_act" : "") +
         "_" + scaleTypeName(intN.scaleType);
}

QuantizedWeight quantizeWeight(const WeightScheme &scheme, const float *w,
                               int64_t rows, int64_t cols, uint32_t seed) {
  QuantizedWeight out;
  std::string error;
  if (scheme.kind == QuantizedView::Kind::NF4) {
    error = quantizeNF4(scheme.nf4, w, rows, cols, out);
  } else if (!scheme.intN.actOrder) {
    error = quantizeIntN(scheme.intN, w, rows, cols, out);
  } else {
    // GPTQ's group index: column perm[i] belongs to group i / group_size.
    // Quantizing the permuted matrix (column i of it is column perm[i] of w)
    // in natural order gives the scales and zero points of those groups and
    // the codes in permuted order; the codes are then put back in column
    // order.
    std::vector<int64_t> perm(static_cast<size_t>(cols));
    for (int64_t i = 0; i < cols; ++i)
      perm[i] = i;
    std::mt19937 rng(seed);
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<float> permuted(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < cols; ++i)
        permuted[r * cols + i] = w[r * cols + perm[i]];
    IntNScheme natural = scheme.intN;
    natural.actOrder = false;
    QuantizedWeight inOrder;
    error = quantizeIntN(natural, permuted.data(), rows, cols, inOrder);
    if (error.empty()) {
      WeightLayout layout = layoutFor(scheme.intN, rows, cols);
      for (const Component &c : layout.components) {
        if (c.role == ComponentRole::Data) {
          const int bits = scheme.intN.bits;
          const int64_t rowBytes = packedBytes(cols, bits);
          std::vector<uint8_t> data(static_cast<size_t>(c.bytes()));
          std::vector<uint8_t> codes(static_cast<size_t>(cols));
          for (int64_t r = 0; r < rows; ++r) {
            for (int64_t i = 0; i < cols; ++i)
              codes[perm[i]] =
                  unpackCode(inOrder.components[0].data() + r * rowBytes, i, bits);
            packCodes(codes.data(), cols, bits, data.data() + r * rowBytes);
          }
          out.components.push_back(std::move(data));
        } else if (c.role == ComponentRole::GroupIndex) {
          std::vector<uint8_t> groupIndex(static_cast<size_t>(c.bytes()));
          for (int64_t i = 0; i < cols; ++i) {
            int32_t g = static_cast<int32_t>(i / scheme.intN.groupSize);
            std::memcpy(groupIndex.data() + 4 * perm[i], &g, 4);
          }
          out.components.push_back(std::move(groupIndex));
        } else {
          // Scales, zero points: per (row, group), as computed.
          out.components.push_back(
              inOrder.components[c.role == ComponentRole::Scales ? 1 : 2]);
        }
      }
      out.layout = std::move(layout);
    }
  }
  if (!error.empty())
    throw std::logic_error("cannot quantize a test weight as " + scheme.name() +
                           ": " + error);
  return out;
}

QuantizedView viewOf(const WeightScheme &scheme, const QuantizedWeight &weight) {
  return scheme.kind == QuantizedView::Kind::NF4 ? weight.view(scheme.nf4)
                                                 : weight.view(scheme.intN);
}

std::vector<float> dequantizeAll(const WeightScheme &scheme,
                                 const QuantizedWeight &weight) {
  QuantizedView view = viewOf(scheme, weight);
  std::vector<float> out(static_cast<size_t>(view.rows * view.cols));
  dequantizeRows(view, 0, view.rows, out.data());
  return out;
}


//===----------------------------------------------------------------------===//
// The tiny decoder
//===----------------------------------------------------------------------===//

float TinyConfig::effectiveScale() const {
  return attentionScale != 0
             ? attentionScale
             : static_cast<float>(1.0 / std::sqrt(static_cast<double>(headDim)));
}

namespace {

/// Uniform values in [center - spread, center + spread), rounded to what a
/// weight of `type` stores.
std::vector<float> draw(std::mt19937 &rng, size_t count, float center,
                        float spread, fb::DType type) {
  std::uniform_real_distribution<float> dist(center - spread, center + spread);
  std::vector<float> out(count);
  for (float &v : out) {
    v = dist(rng);
    if (type == fb::DType::F16)
      v = halfToFloat(floatToHalf(v));
  }
  return out;
}

} // namespace

TinyModel makeTinyModel(const TinyConfig &c) {
  TinyModel m;
  m.config = c;
  std::mt19937 rng(c.seed);
  const fb::DType wt = c.weightType, f32 = fb::DType::F32;
  size_t d = c.dim, q = size_t(c.heads) * c.headDim,
         kv = size_t(c.kvHeads) * c.headDim, h = c.hiddenDim;
  auto matrix = [&](size_t n, size_t k) {
    // Scaled so activations stay O(1) through the layers.
    return draw(rng, n * k, 0.0f, 1.7f / std::sqrt(float(k)), wt);
  };
  m.embedding = draw(rng, size_t(c.vocab) * d, 0.0f, 1.0f, wt);
  for (int32_t l = 0; l < c.layers; ++l) {
    TinyModel::Layer layer;
    layer.attentionNorm = draw(rng, d, 1.0f, 0.3f, f32);
    layer.wq = matrix(q, d);
    layer.wk = matrix(kv, d);
    layer.wv = matrix(kv, d);
    layer.wo = matrix(d, q);
    layer.ffnNorm = draw(rng, d, 1.0f, 0.3f, f32);
    layer.w1 = matrix(h, d);
    layer.w3 = matrix(h, d);
    layer.w2 = matrix(d, h);
    m.layers.push_back(std::move(layer));
  }
  m.finalNorm = draw(rng, d, 1.0f, 0.3f, f32);
  m.output = matrix(size_t(c.vocab), d);
  if (c.rotaryTables) {
    // The tables a model exports (cos/sin of pos * base^(-2i/rotary_dim)),
    // rounded to f32 as the plan stores them.
    int64_t half = c.effectiveRotaryDim() / 2;
    for (int64_t pos = 0; pos < c.effectiveTablePositions(); ++pos)
      for (int64_t i = 0; i < half; ++i) {
        double angle = double(pos) * std::pow(double(c.rotaryBase),
                                              -2.0 * double(i) /
                                                  double(c.effectiveRotaryDim()));
        m.cosTable.push_back(static_cast<float>(std::cos(angle)));
        m.sinTable.push_back(static_cast<float>(std::sin(angle)));
      }
  }
  if (!c.projectionSchemes.empty()) {
    // After every draw, so the float values are those of the same config
    // without quantization.
    const int64_t shapes[7][2] = {{int64_t(q), int64_t(d)},  {int64_t(kv), int64_t(d)},
                                  {int64_t(kv), int64_t(d)}, {int64_t(d), int64_t(q)},
                                  {int64_t(h), int64_t(d)},  {int64_t(h), int64_t(d)},
                                  {int64_t(d), int64_t(h)}};
    size_t projection = 0;
    for (TinyModel::Layer &layer : m.layers) {
      std::vector<float> *matrices[7] = {&layer.wq, &layer.wk, &layer.wv,
                                         &layer.wo, &layer.w1, &layer.w3,
                                         &layer.w2};
      for (int i = 0; i < 7; ++i, ++projection) {
        TinyModel::QuantizedProjection p;
        p.scheme =
            c.projectionSchemes[projection % c.projectionSchemes.size()];
        p.original = std::move(*matrices[i]);
        p.weight = quantizeWeight(p.scheme, p.original.data(), shapes[i][0],
                                  shapes[i][1],
                                  c.seed * 7919u + uint32_t(projection));
        *matrices[i] = dequantizeAll(p.scheme, p.weight);
        layer.quantized.push_back(std::move(p));
      }
    }
  }
  return m;
}

namespace {

/// Builds one entry of the tiny plan; arena regions are handed out in order.
class EntryBuilder {
public:
  EntryBuilder(const TinyModel &model, std::string name, int32_t maxTokens)
      : m(model), c(model.config) {
    entry.name = std::move(name);
    entry.maxTokens = maxTokens;
  }

  EntrySpec build(const std::vector<uint64_t> &weightIndex);

private:
  /// A fresh arena region for [1, tokens, perToken...].
  BufferSpec activation(std::vector<int64_t> perToken) {
    int64_t elements = 1;
    for (int64_t d : perToken)
      elements *= d;
    BufferSpec b;
    b.kind = fb::BufferKind::Arena;
    b.offset = entry.arenaBytes;
    b.dtype = fb::DType::F32;
    b.dims = {1, -1};
    b.dims.insert(b.dims.end(), perToken.begin(), perToken.end());
    entry.arenaBytes =
        alignUp(entry.arenaBytes + uint64_t(elements) * entry.maxTokens * 4);
    return b;
  }
  /// The same arena bytes with another shape.
  static BufferSpec view(BufferSpec b, std::vector<int64_t> perToken) {
    b.dims = {1, -1};
    b.dims.insert(b.dims.end(), perToken.begin(), perToken.end());
    return b;
  }
  BufferSpec weight(uint64_t index, fb::DType type,
                    std::vector<int64_t> dims) const {
    return BufferSpec{fb::BufferKind::Weight, index, type, std::move(dims)};
  }
  void step(fb::Kernel kernel, std::vector<BufferSpec> inputs, BufferSpec out,
            std::string name, StepSpec extra = {}) {
    extra.kernel = kernel;
    extra.inputs = std::move(inputs);
    extra.outputs = {std::move(out)};
    extra.name = std::move(name);
    entry.steps.push_back(std::move(extra));
  }

  const TinyModel &m;
  const TinyConfig &c;
  EntrySpec entry;
};

EntrySpec EntryBuilder::build(const std::vector<uint64_t> &index) {
  const fb::DType wt = c.weightType, f32 = fb::DType::F32;
  const int64_t d = c.dim, q = int64_t(c.heads) * c.headDim,
                kv = int64_t(c.kvHeads) * c.headDim, h = c.hiddenDim;
  size_t w = 0; // the next weight index, in tinyPlanSpec's order
  auto next = [&] { return index[w++]; };

  BufferSpec tokens{fb::BufferKind::Tokens, 0, fb::DType::I32, {-1}};
  BufferSpec x = activation({d});
  step(fb::Kernel::Embedding, {weight(next(), wt, {c.vocab, d}), tokens}, x,
       "tok_embeddings");

  std::vector<BufferSpec> rotaryTables;
  if (c.rotaryTables) {
    int64_t half = c.effectiveRotaryDim() / 2;
    rotaryTables = {
        weight(index[index.size() - 2], f32, {c.effectiveTablePositions(), half}),
        weight(index[index.size() - 1], f32, {c.effectiveTablePositions(), half})};
  }
  auto rotary = [&](const BufferSpec &in, const std::string &name) {
    StepSpec s;
    s.convention = c.convention;
    s.rotaryDim = c.effectiveRotaryDim();
    if (!c.rotaryTables)
      s.rotaryBase = c.rotaryBase;
    std::vector<BufferSpec> inputs = {in};
    inputs.insert(inputs.end(), rotaryTables.begin(), rotaryTables.end());
    BufferSpec out = in;
    if (c.rotaryOutOfPlace)
      out = activation({in.dims[2], in.dims[3]});
    step(fb::Kernel::Rotary, inputs, out, name, s);
    return out;
  };

  // Projection `which` (0..6: q, k, v, o, gate, up, down) of layer l,
  // out = x @ w^T with w [n, k]: a matmul of the next weight, or a
  // dequant_matmul of the next components.
  auto projection = [&](int32_t l, int which, const BufferSpec &x,
                        const BufferSpec &out, int64_t n, int64_t k,
                        const std::string &name) {
    const TinyModel::Layer &layer = m.layers[l];
    if (layer.quantized.empty()) {
      step(fb::Kernel::MatMul, {x, weight(next(), wt, {n, k})}, out, name);
      return;
    }
    const TinyModel::QuantizedProjection &p = layer.quantized[which];
    std::vector<BufferSpec> inputs = {x};
    for (const Component &component : p.weight.layout.components)
      inputs.push_back(
          weight(next(), dtypeOf(component.element), component.shape));
    StepSpec s;
    s.quant = p.scheme.spec(n, k);
    step(fb::Kernel::DequantMatMul, inputs, out, name, s);
  };

  for (int32_t l = 0; l < c.layers; ++l) {
    std::string p = "layers." + std::to_string(l) + ".";
    BufferSpec normed = activation({d});
    StepSpec norm;
    norm.epsilon = c.epsilon;
    step(fb::Kernel::RmsNorm, {x, weight(next(), f32, {d})}, normed,
         p + "attention_norm", norm);
    BufferSpec qOut = activation({q}), kOut = activation({kv}),
               vOut = activation({kv});
    projection(l, 0, normed, qOut, q, d, p + "attention.wq");
    projection(l, 1, normed, kOut, kv, d, p + "attention.wk");
    projection(l, 2, normed, vOut, kv, d, p + "attention.wv");
    BufferSpec qHeads = rotary(view(qOut, {c.heads, c.headDim}),
                               p + "attention.rotary_q");
    BufferSpec kHeads = rotary(view(kOut, {c.kvHeads, c.headDim}),
                               p + "attention.rotary_k");
    BufferSpec vHeads = view(vOut, {c.kvHeads, c.headDim});
    BufferSpec attended = activation({c.heads, c.headDim});
    StepSpec attention;
    attention.scale = c.effectiveScale();
    attention.causal = true;
    attention.layer = l;
    attention.heads = c.heads;
    attention.kvHeads = c.kvHeads;
    attention.headDim = c.headDim;
    step(fb::Kernel::Attention, {qHeads, kHeads, vHeads}, attended,
         p + "attention", attention);
    BufferSpec projected = activation({d});
    projection(l, 3, view(attended, {q}), projected, d, q, p + "attention.wo");
    BufferSpec residual = activation({d});
    step(fb::Kernel::Add, {x, projected}, residual, p + "attention.residual");

    BufferSpec ffnNormed = activation({d});
    step(fb::Kernel::RmsNorm, {residual, weight(next(), f32, {d})}, ffnNormed,
         p + "ffn_norm", norm);
    BufferSpec gate = activation({h}), up = activation({h}),
               hidden = activation({h}), down = activation({d});
    projection(l, 4, ffnNormed, gate, h, d, p + "feed_forward.w1");
    projection(l, 5, ffnNormed, up, h, d, p + "feed_forward.w3");
    step(fb::Kernel::SwiGlu, {gate, up}, hidden, p + "feed_forward.swiglu");
    projection(l, 6, hidden, down, d, h, p + "feed_forward.w2");
    BufferSpec out = activation({d});
    step(fb::Kernel::Add, {residual, down}, out, p + "feed_forward.residual");
    x = out;
  }
  BufferSpec normed = activation({d});
  StepSpec norm;
  norm.epsilon = c.epsilon;
  step(fb::Kernel::RmsNorm, {x, weight(next(), f32, {d})}, normed, "norm",
       norm);
  BufferSpec logits = activation({c.vocab});
  step(fb::Kernel::MatMul, {normed, weight(next(), wt, {c.vocab, d})}, logits,
       "output");
  entry.logits = logits;
  return std::move(entry);
}

WeightSpec weightOf(const std::string &name, const std::vector<float> &values,
                    fb::DType type, std::vector<int64_t> dims) {
  WeightSpec w;
  w.name = name;
  w.dtype = type;
  w.dims = std::move(dims);
  if (type == fb::DType::F16) {
    w.bytes.resize(values.size() * 2);
    for (size_t i = 0; i < values.size(); ++i) {
      uint16_t h = floatToHalf(values[i]);
      std::memcpy(w.bytes.data() + 2 * i, &h, 2);
    }
  } else {
    w.bytes.resize(values.size() * 4);
    std::memcpy(w.bytes.data(), values.data(), w.bytes.size());
  }
  return w;
}

} // namespace

PlanSpec tinyPlanSpec(const TinyModel &m) {
  const TinyConfig &c = m.config;
  PlanSpec spec;
  spec.dim = c.dim;
  spec.hiddenDim = c.hiddenDim;
  spec.layers = c.layers;
  spec.heads = c.heads;
  spec.kvHeads = c.kvHeads;
  spec.headDim = c.headDim;
  spec.vocab = c.vocab;
  spec.maxContext = c.context;
  spec.cacheLayers = c.layers;
  spec.cacheKvHeads = c.kvHeads;
  spec.cacheHeadDim = c.headDim;
  spec.cacheCapacity = c.context;

  const fb::DType wt = c.weightType, f32 = fb::DType::F32;
  const int64_t d = c.dim, q = int64_t(c.heads) * c.headDim,
                kv = int64_t(c.kvHeads) * c.headDim, h = c.hiddenDim;
  spec.weights.push_back(weightOf("tok_embeddings", m.embedding, wt, {c.vocab, d}));
  for (int32_t l = 0; l < c.layers; ++l) {
    const TinyModel::Layer &layer = m.layers[l];
    std::string p = "layers." + std::to_string(l) + ".";
    // Projection `which` (as in Layer::quantized): its matrix, or its
    // components.
    auto projection = [&](int which, const std::string &name,
                          const std::vector<float> &values,
                          std::vector<int64_t> dims) {
      if (layer.quantized.empty()) {
        spec.weights.push_back(weightOf(name, values, wt, std::move(dims)));
        return;
      }
      const QuantizedWeight &qw = layer.quantized[which].weight;
      for (size_t i = 0; i < qw.components.size(); ++i) {
        const Component &component = qw.layout.components[i];
        WeightSpec w;
        w.name = name + "." + componentRoleName(component.role);
        w.dtype = dtypeOf(component.element);
        w.dims = component.shape;
        w.bytes = qw.components[i];
        spec.weights.push_back(std::move(w));
      }
    };
    spec.weights.push_back(weightOf(p + "attention_norm", layer.attentionNorm, f32, {d}));
    projection(0, p + "attention.wq", layer.wq, {q, d});
    projection(1, p + "attention.wk", layer.wk, {kv, d});
    projection(2, p + "attention.wv", layer.wv, {kv, d});
    projection(3, p + "attention.wo", layer.wo, {d, q});
    spec.weights.push_back(weightOf(p + "ffn_norm", layer.ffnNorm, f32, {d}));
    projection(4, p + "feed_forward.w1", layer.w1, {h, d});
    projection(5, p + "feed_forward.w3", layer.w3, {h, d});
    projection(6, p + "feed_forward.w2", layer.w2, {d, h});
  }
  spec.weights.push_back(weightOf("norm", m.finalNorm, f32, {d}));
  spec.weights.push_back(weightOf("output", m.output, wt, {c.vocab, d}));
  if (c.rotaryTables) {
    int64_t half = c.effectiveRotaryDim() / 2;
    spec.weights.push_back(
        weightOf("rope.cos", m.cosTable, f32, {c.effectiveTablePositions(), half}));
    spec.weights.push_back(
        weightOf("rope.sin", m.sinTable, f32, {c.effectiveTablePositions(), half}));
  }
  std::vector<uint64_t> index(spec.weights.size());
  for (size_t i = 0; i < index.size(); ++i)
    index[i] = i;
  spec.entries.push_back(
      EntryBuilder(m, "prefill", c.prefillTokens).build(index));
  spec.entries.push_back(EntryBuilder(m, "decode", 1).build(index));
  return spec;
}

//===----------------------------------------------------------------------===//
// Files
//===----------------------------------------------------------------------===//

TempFile::TempFile() {
  const char *dir = std::getenv("TMPDIR");
  std::string pattern =
      std::string(dir && *dir ? dir : "/tmp") + "/qrt-test-plan-XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  int fd = ::mkstemp(name.data());
  if (fd < 0)
    throw std::runtime_error("cannot create a temporary file in " + pattern);
  ::close(fd);
  path_ = name.data();
}

TempFile::~TempFile() { std::remove(path_.c_str()); }

void TempFile::write(const uint8_t *data, size_t size) {
  // Overwritten in place and then cut to size: truncating to zero first
  // would make ext4 flush the file to disk on close (auto_da_alloc), which
  // costs milliseconds per write in the corruption tests.
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  bool ok = fd >= 0;
  for (size_t done = 0; ok && done < size;) {
    ssize_t n = ::pwrite(fd, data + done, size - done, off_t(done));
    ok = n > 0;
    done += ok ? size_t(n) : 0;
  }
  ok = ok && ::ftruncate(fd, off_t(size)) == 0;
  if (fd >= 0)
    ok = ::close(fd) == 0 && ok;
  if (!ok)
    throw std::runtime_error("cannot write " + path_);
}

std::unique_ptr<OpenedPlan> openPlan(const std::vector<uint8_t> &bytes) {
  auto opened = std::make_unique<OpenedPlan>();
  opened->file.write(bytes);
  opened->plan = MappedPlan::open(opened->file.path(), opened->error);
  return opened;
}

IntNScheme intNScheme(int bits, int64_t groupSize, bool symmetric,
                      ScaleType scales, bool actOrder) {
  IntNScheme s;
  s.bits = bits;
  s.groupSize = groupSize;
  s.symmetric = symmetric;
  s.actOrder = actOrder;
  s.scaleType = scales;
  return s;
}

NF4Scheme nf4Scheme(int64_t blockSize, ScaleType scales,
                    int64_t doubleQuantBlock) {
  NF4Scheme s;
  s.blockSize = blockSize;
  s.scaleType = scales;
  s.doubleQuant = doubleQuantBlock > 0;
  s.doubleQuantBlockSize = doubleQuantBlock > 0 ? doubleQuantBlock : 256;
  return s;
}

} // namespace qrt::test
