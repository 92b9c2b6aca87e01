//===- TestPlans.cpp - small valid plans for the runtime's tests ----------===//

#include "TestPlans.h"

#include "qrt/core/Half.h"
#include "quant/Quantize/RoundToNearest.h"

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
// Plans
//===----------------------------------------------------------------------===//

std::vector<uint8_t> weightlessPlanBytes(PlanDesc spec, uint64_t seed) {
  spec.weightless = true;
  spec.weightSeed = seed;
  for (WeightDesc &w : spec.weights) {
    if (!w.size)
      w.size = w.bytes.size();
    w.bytes.clear();
  }
  return writePlan(spec);
}

PlanDesc withExecutable(PlanDesc spec,
                        const cuda::ExecutableDesc &executable) {
  spec.targets.push_back({cuda::kTargetName, cuda::writeExecutable(executable)});
  return spec;
}

void patchWeightOffset(std::vector<uint8_t> &plan, uint32_t index,
                       int64_t delta) {
  fb::Plan *root = fb::GetMutableSizePrefixedPlan(plan.data());
  fb::WeightInfo *w = root->mutable_weights()->GetMutableObject(index);
  // Every scalar is stored (the writer forces defaults): the mutation takes.
  if (!w->mutate_offset(w->offset() + static_cast<uint64_t>(delta)))
    throw std::logic_error("the weight's offset is not stored");
}

//===----------------------------------------------------------------------===//
// Quantized weights
//===----------------------------------------------------------------------===//

WeightScheme WeightScheme::of(const IntNScheme &scheme) {
  WeightScheme s;
  s.kind = QuantizedView::Kind::IntN;
  s.intN = scheme;
  return s;
}

WeightScheme WeightScheme::of(const Float4Scheme &scheme) {
  WeightScheme s;
  s.kind = QuantizedView::Kind::Float4;
  s.float4 = scheme;
  return s;
}

QuantDesc WeightScheme::spec(int64_t rows, int64_t cols) const {
  return kind == QuantizedView::Kind::Float4 ? QuantDesc::of(float4, rows, cols)
                                             : QuantDesc::of(intN, rows, cols);
}

std::string WeightScheme::name() const {
  if (kind == QuantizedView::Kind::Float4)
    return float4CodesName(float4.codes) + std::string("_b") +
           std::to_string(float4.blockSize) +
           (float4.doubleQuant
                ? "_dq" + std::to_string(float4.doubleQuantBlockSize)
                : std::string("_") + scaleTypeName(float4.scaleType));
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
  if (scheme.kind == QuantizedView::Kind::Float4) {
    error = quant::quantizeFloat4(scheme.float4, w, rows, cols, out);
  } else if (!scheme.intN.actOrder) {
    error = quant::quantizeIntN(scheme.intN, w, rows, cols, out);
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
    error = quant::quantizeIntN(natural, permuted.data(), rows, cols, inOrder);
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
  return scheme.kind == QuantizedView::Kind::Float4 ? weight.view(scheme.float4)
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

uint64_t alignUp(uint64_t v) {
  return (v + kWeightAlignment - 1) / kWeightAlignment * kWeightAlignment;
}

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

  EntryDesc build(const std::vector<uint64_t> &weightIndex);

private:
  /// A fresh arena region for [1, tokens, perToken...].
  BufferDesc activation(std::vector<int64_t> perToken) {
    int64_t elements = 1;
    for (int64_t d : perToken)
      elements *= d;
    BufferDesc b;
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
  static BufferDesc view(BufferDesc b, std::vector<int64_t> perToken) {
    b.dims = {1, -1};
    b.dims.insert(b.dims.end(), perToken.begin(), perToken.end());
    return b;
  }
  BufferDesc weight(uint64_t index, fb::DType type,
                    std::vector<int64_t> dims) const {
    return BufferDesc{fb::BufferKind::Weight, index, type, std::move(dims)};
  }
  void step(fb::Kernel kernel, std::vector<BufferDesc> inputs, BufferDesc out,
            std::string name, StepDesc extra = {}) {
    extra.kernel = kernel;
    extra.inputs = std::move(inputs);
    extra.outputs = {std::move(out)};
    extra.name = std::move(name);
    entry.steps.push_back(std::move(extra));
  }

  const TinyModel &m;
  const TinyConfig &c;
  EntryDesc entry;
};

EntryDesc EntryBuilder::build(const std::vector<uint64_t> &index) {
  const fb::DType wt = c.weightType, f32 = fb::DType::F32;
  const int64_t d = c.dim, q = int64_t(c.heads) * c.headDim,
                kv = int64_t(c.kvHeads) * c.headDim, h = c.hiddenDim;
  size_t w = 0; // the next weight index, in tinyPlanSpec's order
  auto next = [&] { return index[w++]; };

  BufferDesc tokens{fb::BufferKind::Tokens, 0, fb::DType::I32, {-1}};
  BufferDesc x = activation({d});
  step(fb::Kernel::Embedding, {weight(next(), wt, {c.vocab, d}), tokens}, x,
       "tok_embeddings");

  std::vector<BufferDesc> rotaryTables;
  if (c.rotaryTables) {
    int64_t half = c.effectiveRotaryDim() / 2;
    rotaryTables = {
        weight(index[index.size() - 2], f32, {c.effectiveTablePositions(), half}),
        weight(index[index.size() - 1], f32, {c.effectiveTablePositions(), half})};
  }
  auto rotary = [&](const BufferDesc &in, const std::string &name) {
    StepDesc s;
    s.convention = c.convention;
    s.rotaryDim = c.effectiveRotaryDim();
    if (!c.rotaryTables)
      s.rotaryBase = c.rotaryBase;
    std::vector<BufferDesc> inputs = {in};
    inputs.insert(inputs.end(), rotaryTables.begin(), rotaryTables.end());
    BufferDesc out = in;
    if (c.rotaryOutOfPlace)
      out = activation({in.dims[2], in.dims[3]});
    step(fb::Kernel::Rotary, inputs, out, name, s);
    return out;
  };

  // Projection `which` (0..6: q, k, v, o, gate, up, down) of layer l,
  // out = x @ w^T with w [n, k]: a matmul of the next weight, or a
  // dequant_matmul of the next components.
  auto projection = [&](int32_t l, int which, const BufferDesc &x,
                        const BufferDesc &out, int64_t n, int64_t k,
                        const std::string &name) {
    const TinyModel::Layer &layer = m.layers[l];
    if (layer.quantized.empty()) {
      step(fb::Kernel::MatMul, {x, weight(next(), wt, {n, k})}, out, name);
      return;
    }
    const TinyModel::QuantizedProjection &p = layer.quantized[which];
    std::vector<BufferDesc> inputs = {x};
    for (const Component &component : p.weight.layout.components)
      inputs.push_back(
          weight(next(), dtypeOf(component.element), component.shape));
    StepDesc s;
    s.quant = p.scheme.spec(n, k);
    step(fb::Kernel::DequantMatMul, inputs, out, name, s);
  };

  for (int32_t l = 0; l < c.layers; ++l) {
    std::string p = "layers." + std::to_string(l) + ".";
    BufferDesc normed = activation({d});
    StepDesc norm;
    norm.epsilon = c.epsilon;
    step(fb::Kernel::RmsNorm, {x, weight(next(), f32, {d})}, normed,
         p + "attention_norm", norm);
    BufferDesc qOut = activation({q}), kOut = activation({kv}),
               vOut = activation({kv});
    projection(l, 0, normed, qOut, q, d, p + "attention.wq");
    projection(l, 1, normed, kOut, kv, d, p + "attention.wk");
    projection(l, 2, normed, vOut, kv, d, p + "attention.wv");
    BufferDesc qHeads = rotary(view(qOut, {c.heads, c.headDim}),
                               p + "attention.rotary_q");
    BufferDesc kHeads = rotary(view(kOut, {c.kvHeads, c.headDim}),
                               p + "attention.rotary_k");
    BufferDesc vHeads = view(vOut, {c.kvHeads, c.headDim});
    BufferDesc attended = activation({c.heads, c.headDim});
    StepDesc attention;
    attention.scale = c.effectiveScale();
    attention.causal = true;
    attention.layer = l;
    attention.heads = c.heads;
    attention.kvHeads = c.kvHeads;
    attention.headDim = c.headDim;
    step(fb::Kernel::Attention, {qHeads, kHeads, vHeads}, attended,
         p + "attention", attention);
    BufferDesc projected = activation({d});
    projection(l, 3, view(attended, {q}), projected, d, q, p + "attention.wo");
    BufferDesc residual = activation({d});
    step(fb::Kernel::Add, {x, projected}, residual, p + "attention.residual");

    BufferDesc ffnNormed = activation({d});
    step(fb::Kernel::RmsNorm, {residual, weight(next(), f32, {d})}, ffnNormed,
         p + "ffn_norm", norm);
    BufferDesc gate = activation({h}), up = activation({h}),
               hidden = activation({h}), down = activation({d});
    projection(l, 4, ffnNormed, gate, h, d, p + "feed_forward.w1");
    projection(l, 5, ffnNormed, up, h, d, p + "feed_forward.w3");
    step(fb::Kernel::SwiGlu, {gate, up}, hidden, p + "feed_forward.swiglu");
    projection(l, 6, hidden, down, d, h, p + "feed_forward.w2");
    BufferDesc out = activation({d});
    step(fb::Kernel::Add, {residual, down}, out, p + "feed_forward.residual");
    x = out;
  }
  BufferDesc normed = activation({d});
  StepDesc norm;
  norm.epsilon = c.epsilon;
  step(fb::Kernel::RmsNorm, {x, weight(next(), f32, {d})}, normed, "norm",
       norm);
  BufferDesc logits = activation({c.vocab});
  step(fb::Kernel::MatMul, {normed, weight(next(), wt, {c.vocab, d})}, logits,
       "output");
  entry.logits = logits;
  return std::move(entry);
}

WeightDesc weightOf(const std::string &name, const std::vector<float> &values,
                    fb::DType type, std::vector<int64_t> dims) {
  WeightDesc w;
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

PlanDesc tinyPlanSpec(const TinyModel &m) {
  const TinyConfig &c = m.config;
  PlanDesc spec;
  spec.producer = "qrt-runtime-tests";
  spec.model.dim = c.dim;
  spec.model.hiddenDim = c.hiddenDim;
  spec.model.layers = c.layers;
  spec.model.heads = c.heads;
  spec.model.kvHeads = c.kvHeads;
  spec.model.headDim = c.headDim;
  spec.model.vocab = c.vocab;
  spec.model.maxContext = c.context;
  spec.model.tokenizer = "tokenizer.bin";
  spec.model.source = "TestPlans";
  spec.kvCache->layers = c.layers;
  spec.kvCache->kvHeads = c.kvHeads;
  spec.kvCache->headDim = c.headDim;
  spec.kvCache->capacity = c.context;

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
        WeightDesc w;
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
  opened->plan = LoadedPlan::openFile(opened->file.path(), opened->error);
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

Float4Scheme nf4Scheme(int64_t blockSize, ScaleType scales,
                    int64_t doubleQuantBlock) {
  Float4Scheme s;
  s.blockSize = blockSize;
  s.scaleType = scales;
  s.doubleQuant = doubleQuantBlock > 0;
  s.doubleQuantBlockSize = doubleQuantBlock > 0 ? doubleQuantBlock : 256;
  return s;
}

double maxAbsDifference(const std::vector<float> &a,
                        const std::vector<float> &b) {
  if (a.size() != b.size())
    return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::isfinite(a[i]) && std::isfinite(b[i])
                                ? std::abs(double(a[i]) - double(b[i]))
                                : INFINITY);
  return worst;
}

} // namespace qrt::test
