//===- PlanWriter.cpp - writing runtime plans -----------------------------===//
//
// The FlatBuffer comes first and holds the weights' file offsets, which
// depend on its own size: it is built once with the weights laid out after a
// FlatBuffer of the previous build's size, until the size no longer changes.
// Every scalar is stored even when it equals its default (ForceDefaults), so
// only values change and the second build has the first one's size.
//
//===----------------------------------------------------------------------===//

#include "qrt/core/PlanWriter.h"

#include <algorithm>
#include <cstring>
#include <memory>

namespace qrt {

QuantDesc QuantDesc::of(const IntNScheme &scheme, int64_t rows, int64_t cols) {
  QuantDesc q;
  q.kind = fb::QuantKind::IntN;
  q.rows = rows;
  q.cols = cols;
  q.bits = scheme.bits;
  q.groupSize = scheme.groupSize;
  q.symmetric = scheme.symmetric;
  q.actOrder = scheme.actOrder;
  q.scaleType = dtypeOf(scheme.scaleType);
  return q;
}

QuantDesc QuantDesc::of(const Float4Scheme &scheme, int64_t rows, int64_t cols) {
  QuantDesc q;
  q.kind = scheme.codes == Float4Codes::FP4 ? fb::QuantKind::FP4
                                            : fb::QuantKind::NF4;
  q.rows = rows;
  q.cols = cols;
  q.bits = 4;
  q.groupSize = scheme.blockSize;
  q.scaleType = dtypeOf(scheme.scaleType);
  q.doubleQuant = scheme.doubleQuant;
  q.doubleQuantBlockSize = scheme.doubleQuantBlockSize;
  return q;
}

QuantDesc QuantDesc::of(const QuantizedView &view) {
  return view.kind == QuantizedView::Kind::Float4
             ? of(view.float4, view.rows, view.cols)
             : of(view.intN, view.rows, view.cols);
}

flatbuffers::Offset<fb::Buffer> createBuffer(flatbuffers::FlatBufferBuilder &fbb,
                                             const BufferDesc &b) {
  auto tensor = fb::CreateTensorInfo(fbb, b.dtype, fbb.CreateVector(b.dims));
  return fb::CreateBuffer(fbb, b.kind, b.offset, tensor);
}

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Buffer>>>
createBuffers(flatbuffers::FlatBufferBuilder &fbb,
              const std::vector<BufferDesc> &list) {
  std::vector<flatbuffers::Offset<fb::Buffer>> out;
  for (const BufferDesc &b : list)
    out.push_back(createBuffer(fbb, b));
  return fbb.CreateVector(out);
}

namespace {

uint64_t alignUp(uint64_t v, uint64_t alignment) {
  return (v + alignment - 1) / alignment * alignment;
}

class Builder {
public:
  /// `checksums`: WeightInfo.checksum of each weight.
  Builder(flatbuffers::FlatBufferBuilder &fbb, const PlanDesc &plan,
          const std::vector<uint64_t> &checksums)
      : fbb(fbb), plan(plan), checksums(checksums) {}

  flatbuffers::Offset<fb::Plan> build(const std::vector<uint64_t> &offsets,
                                      uint64_t weightsOffset,
                                      uint64_t weightsSize);

private:
  flatbuffers::Offset<fb::Step> step(const StepDesc &s);
  flatbuffers::Offset<fb::Entry> entry(const EntryDesc &e);
  flatbuffers::Offset<fb::WeightInfo> weight(const WeightDesc &w,
                                             uint64_t offset,
                                             uint64_t checksum);
  flatbuffers::Offset<fb::TargetCode> target(const TargetDesc &t);

  flatbuffers::FlatBufferBuilder &fbb;
  const PlanDesc &plan;
  const std::vector<uint64_t> &checksums;
};

flatbuffers::Offset<fb::Step> Builder::step(const StepDesc &s) {
  auto inputs = createBuffers(fbb, s.inputs);
  auto outputs = createBuffers(fbb, s.outputs);
  auto name = fbb.CreateString(s.name);
  flatbuffers::Offset<fb::QuantScheme> quant = 0;
  if (const std::optional<QuantDesc> &q = s.quant)
    quant = fb::CreateQuantScheme(fbb, q->kind, q->rows, q->cols, q->bits,
                                  q->groupSize, q->symmetric, q->actOrder,
                                  q->scaleType, q->doubleQuant,
                                  q->doubleQuantBlockSize);
  return fb::CreateStep(fbb, s.kernel, inputs, outputs, name, s.epsilon,
                        s.scale, s.causal, s.layer, s.heads, s.kvHeads,
                        s.headDim, s.convention, s.rotaryDim, s.rotaryBase,
                        quant, s.outlierThreshold, s.int8Activations);
}

flatbuffers::Offset<fb::Entry> Builder::entry(const EntryDesc &e) {
  std::vector<flatbuffers::Offset<fb::Step>> steps;
  for (const StepDesc &s : e.steps)
    steps.push_back(step(s));
  auto stepVector = fbb.CreateVector(steps);
  auto name = fbb.CreateString(e.name);
  auto logits = createBuffer(fbb, e.logits);
  return fb::CreateEntry(fbb, name, e.maxTokens, e.arenaBytes, stepVector,
                         logits);
}

flatbuffers::Offset<fb::WeightInfo> Builder::weight(const WeightDesc &w,
                                                    uint64_t offset,
                                                    uint64_t checksum) {
  auto name = fbb.CreateString(w.name);
  auto tensor = fb::CreateTensorInfo(fbb, w.dtype, fbb.CreateVector(w.dims));
  return fb::CreateWeightInfo(fbb, name, tensor, offset, w.byteSize(),
                              checksum);
}

flatbuffers::Offset<fb::TargetCode> Builder::target(const TargetDesc &t) {
  auto name = fbb.CreateString(t.target);
  // A nested FlatBuffer: aligned so its 64-bit fields are.
  fbb.ForceVectorAlignment(t.executable.size(), 1, kExecutableAlignment);
  auto executable = fbb.CreateVector(t.executable);
  return fb::CreateTargetCode(fbb, name, executable);
}

flatbuffers::Offset<fb::Plan> Builder::build(const std::vector<uint64_t> &offsets,
                                             uint64_t weightsOffset,
                                             uint64_t weightsSize) {
  std::vector<flatbuffers::Offset<fb::WeightInfo>> weights;
  for (size_t i = 0; i < plan.weights.size(); ++i)
    weights.push_back(weight(plan.weights[i], offsets[i], checksums[i]));
  auto weightVector = fbb.CreateVector(weights);
  std::vector<flatbuffers::Offset<fb::Entry>> entries;
  for (const EntryDesc &e : plan.entries)
    entries.push_back(entry(e));
  auto entryVector = fbb.CreateVector(entries);
  const ModelDesc &m = plan.model;
  auto model = fb::CreateModelInfo(
      fbb, fbb.CreateString(m.architecture), m.dim, m.hiddenDim, m.layers,
      m.heads, m.kvHeads, m.headDim, m.vocab, m.maxContext, m.bos, m.eos,
      fbb.CreateString(m.tokenizer), fbb.CreateString(m.source));
  flatbuffers::Offset<fb::KvCache> cache = 0;
  if (const std::optional<KvCacheDesc> &c = plan.kvCache)
    cache = fb::CreateKvCache(fbb, c->layers, c->kvHeads, c->headDim,
                              c->capacity, c->dtype);
  std::vector<flatbuffers::Offset<fb::TargetCode>> targets;
  for (const TargetDesc &t : plan.targets)
    targets.push_back(target(t));
  auto targetVector = fbb.CreateVector(targets);
  flatbuffers::Offset<fb::Sharding> sharding = 0;
  if (plan.sharding) {
    std::vector<flatbuffers::Offset<fb::RankWeights>> ranks;
    for (const std::vector<uint32_t> &map : plan.sharding->rankWeights)
      ranks.push_back(fb::CreateRankWeights(fbb, fbb.CreateVector(map)));
    sharding = fb::CreateSharding(
        fbb, plan.sharding->worldSize, plan.sharding->rank,
        ranks.empty() ? 0 : fbb.CreateVector(ranks));
  }
  auto producer = fbb.CreateString(plan.producer);
  return fb::CreatePlan(fbb, plan.version, producer, model, weightVector,
                        entryVector, cache, targetVector, weightsOffset,
                        weightsSize, plan.weightless, plan.weightSeed,
                        sharding);
}

/// The FlatBuffer of `plan`, with `offsets` set to each weight's file
/// offset and the weight region [weightsOffset, weightsEnd).
std::unique_ptr<flatbuffers::FlatBufferBuilder>
layOut(const PlanDesc &plan, std::vector<uint64_t> &offsets,
       uint64_t &weightsOffset, uint64_t &weightsEnd, std::string &error) {
  uint64_t headerSize = 0;
  offsets.assign(plan.weights.size(), 0);
  // Once, not per layout attempt: a 7B model's weights take seconds.
  std::vector<uint64_t> checksums;
  for (const WeightDesc &w : plan.weights)
    checksums.push_back(w.checksum      ? *w.checksum
                        : plan.weightless ? 0
                                          : checksum64(w.data(), w.availableSize()));
  std::unique_ptr<flatbuffers::FlatBufferBuilder> fbb;
  for (int attempt = 0; attempt < 4; ++attempt) {
    weightsOffset = alignUp(headerSize, kWeightAlignment);
    weightsEnd = weightsOffset;
    uint64_t offset = weightsOffset;
    for (size_t i = 0; i < plan.weights.size(); ++i) {
      if (plan.weightless)
        continue; // no bytes: offsets 0, an empty region
      offsets[i] = offset;
      weightsEnd = offset + plan.weights[i].byteSize();
      offset = alignUp(weightsEnd, kWeightAlignment);
    }
    fbb = std::make_unique<flatbuffers::FlatBufferBuilder>(1 << 16);
    fbb->ForceDefaults(true);
    Builder builder(*fbb, plan, checksums);
    fb::FinishSizePrefixedPlanBuffer(
        *fbb, builder.build(offsets, weightsOffset, weightsEnd - weightsOffset));
    if (fbb->GetSize() == headerSize)
      return fbb;
    headerSize = fbb->GetSize();
  }
  error = "the plan's layout did not converge";
  return nullptr;
}

} // namespace

bool writePlan(const PlanDesc &plan, const PlanSink &sink, std::string &error) {
  std::vector<uint64_t> offsets;
  uint64_t weightsOffset = 0, weightsEnd = 0;
  std::unique_ptr<flatbuffers::FlatBufferBuilder> fbb =
      layOut(plan, offsets, weightsOffset, weightsEnd, error);
  if (!fbb)
    return false;
  uint64_t position = 0;
  auto put = [&](const void *data, size_t size) {
    position += size;
    return size == 0 || sink(data, size);
  };
  auto pad = [&](uint64_t to) {
    static const char zeros[kWeightAlignment] = {};
    while (position < to)
      if (!put(zeros, std::min<uint64_t>(to - position, sizeof(zeros))))
        return false;
    return true;
  };
  bool ok = put(fbb->GetBufferPointer(), fbb->GetSize());
  for (size_t i = 0; ok && !plan.weightless && i < plan.weights.size(); ++i) {
    const WeightDesc &w = plan.weights[i];
    ok = pad(offsets[i]) && put(w.data(), w.availableSize());
  }
  // A plan without weights still has its region start.
  ok = ok && pad(std::max(weightsOffset, weightsEnd));
  if (!ok && error.empty())
    error = "cannot write the plan";
  return ok;
}

std::vector<uint8_t> writePlan(const PlanDesc &plan) {
  std::vector<uint8_t> bytes;
  std::string error;
  writePlan(
      plan,
      [&](const void *data, size_t size) {
        const uint8_t *p = static_cast<const uint8_t *>(data);
        bytes.insert(bytes.end(), p, p + size);
        return true;
      },
      error);
  return bytes;
}

size_t flatBufferBytes(const std::vector<uint8_t> &plan) {
  uint32_t length = 0;
  std::memcpy(&length, plan.data(), 4);
  return static_cast<size_t>(length) + 4;
}

} // namespace qrt
