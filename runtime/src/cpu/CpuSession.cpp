//===- CpuSession.cpp - running a plan on the CPU -------------------------===//

#include "qrt/cpu/CpuSession.h"

#include "qrt/core/PlanSchema.h"
#include "qrt/runtime/Backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace qrt {

namespace {

/// 64-byte aligned memory, not touched here: pages count towards the
/// resident set only once a kernel writes them (a prefill arena sized for
/// hundreds of tokens costs little when decoding one at a time). Every
/// kernel writes its output before anything reads it.
float *allocate(uint64_t bytes) {
  uint64_t rounded = std::max<uint64_t>(64, (bytes + 63) / 64 * 64);
  return static_cast<float *>(std::aligned_alloc(64, rounded));
}

cpu::WeightType weightType(fb::DType type) {
  return type == fb::DType::F16 ? cpu::WeightType::F16 : cpu::WeightType::F32;
}

std::vector<int64_t> dimsOf(const fb::Buffer *buffer) {
  const auto *dims = buffer->tensor()->dims();
  return std::vector<int64_t>(dims->begin(), dims->end());
}

} // namespace

/// An entry's arena and the quantized weights its steps read.
struct CpuSession::Arena {
  float *arena = nullptr;
  uint64_t arenaBytes = 0;
  /// Per step: the quantized weight of a DequantMatMul or Int8MatMul step,
  /// bound once.
  std::vector<QuantizedView> quantized;
  /// Per step, indexed by the rows of logits wanted (Rows as an index):
  /// the rows it computes (qrt/runtime/StepRows.h).
  std::vector<Rows> rows[3];
  ~Arena() { std::free(arena); }
};

CpuSession::~CpuSession() { std::free(kvCache_); }

std::unique_ptr<CpuSession> CpuSession::create(const LoadedPlan &plan,
                                               const SessionOptions &options,
                                               std::string &error) {
  std::unique_ptr<CpuSession> session(new CpuSession());
  if (!session->initialize(plan, options, error))
    return nullptr;
  for (const EntryInfo &info : session->entries_) {
    const fb::Entry *e = info.entry;
    auto arena = std::make_unique<Arena>();
    arena->arenaBytes = e->arena_bytes();
    arena->arena = allocate(arena->arenaBytes);
    if (!arena->arena) {
      error = "cannot allocate the " + std::to_string(arena->arenaBytes) +
              "-byte arena of entry '" +
              // Fix: the name is optional in the schema (was a null deref).
              (e->name() ? e->name()->str() : std::string("?")) + "'";
      return nullptr;
    }
    for (Rows logits : {Rows::None, Rows::Last, Rows::All})
      arena->rows[static_cast<int>(logits)] = stepRows(*e, logits);
    arena->quantized.resize(e->steps()->size());
    for (uint32_t i = 0; i < e->steps()->size(); ++i) {
      const fb::Step *step = e->steps()->Get(i);
      if (step->kernel() != fb::Kernel::DequantMatMul &&
          step->kernel() != fb::Kernel::Int8MatMul)
        continue;
      QuantizedView &view = arena->quantized[i];
      if (!quantizedViewOf(step->quant(), view, error))
        return nullptr; // not reached for a verified plan
      std::vector<const void *> components;
      for (uint32_t c = 1; c < step->inputs()->size(); ++c)
        components.push_back(plan.weight(
            static_cast<uint32_t>(step->inputs()->Get(c)->offset())));
      if (!bindComponents(view, components)) {
        error = "a dequant_matmul step has the wrong number of components";
        return nullptr;
      }
    }
    session->arenas_.push_back(std::move(arena));
  }

  session->kvCache_ = allocate(session->kvCacheBytes());
  if (!session->kvCache_) {
    error = "cannot allocate a KV cache of " +
            std::to_string(session->kvCacheBytes()) + " bytes";
    return nullptr;
  }
  session->pool_ = std::make_unique<cpu::ThreadPool>(options.threads);
  return session;
}

SessionMemory CpuSession::memory() const {
  SessionMemory m;
  for (const auto &arena : arenas_)
    m.arenas += arena->arenaBytes;
  m.kvCache = kvCacheBytes();
  return m;
}

DeviceInfo CpuSession::deviceInfo() const {
  DeviceInfo info;
  info.backend = "cpu";
  info.name = "cpu";
  info.threads = pool_->size();
  info.description = std::string(cpu::isaName()) + ", " +
                     std::to_string(info.threads) +
                     (info.threads == 1 ? " thread" : " threads");
  info.reason = reason_;
  return info;
}

bool CpuSession::runChunk(size_t entryIndex, const int32_t *tokens,
                          int64_t count, float *logits, bool allLogits,
                          std::string &error) {
  const fb::Entry &entry = *entries_[entryIndex].entry;
  // Only the rows the wanted logits depend on; an observer sees every row.
  const Rows wanted = observer_ || allLogits ? Rows::All
                      : logits               ? Rows::Last
                                             : Rows::None;
  const std::vector<Rows> &rows =
      arenas_[entryIndex]->rows[static_cast<int>(wanted)];
  for (uint32_t index = 0; index < entry.steps()->size(); ++index) {
    if (!observer_) {
      if (!runStep(entryIndex, index, tokens, count, rows[index], error))
        return false;
      continue;
    }
    if (observer_->skipStep(entryIndex, index))
      continue;
    // The observer reads the buffers in place: nothing is copied.
    StepEvent event = observed(entryIndex, index, tokens, count);
    observer_->beforeStep(event);
    if (!runStep(entryIndex, index, tokens, count, Rows::All, error))
      return false;
    observer_->afterStep(event);
    if (observer_->stopRequested()) {
      error = kStoppedByObserver;
      return false;
    }
  }
  if (logits) {
    const float *all = reinterpret_cast<const float *>(
        reinterpret_cast<const char *>(arenas_[entryIndex]->arena) +
        entry.logits()->offset());
    if (allLogits)
      std::memcpy(logits, all, count * vocab_ * sizeof(float));
    else
      std::memcpy(logits, all + (count - 1) * vocab_, vocab_ * sizeof(float));
  }
  return true;
}

StepEvent CpuSession::observed(size_t entryIndex, uint32_t index,
                               const int32_t *tokens, int64_t count) const {
  StepEvent event = stepEvent(entryIndex, index, count);
  const char *arena =
      reinterpret_cast<const char *>(arenas_[entryIndex]->arena);
  auto tensor = [&](const fb::Buffer *b) {
    const void *data = nullptr;
    switch (b->kind()) {
    case fb::BufferKind::Arena:
      data = arena + b->offset();
      break;
    case fb::BufferKind::Weight:
      data = plan_->weight(static_cast<uint32_t>(b->offset()));
      break;
    case fb::BufferKind::Tokens:
      data = tokens;
      break;
    }
    return stepTensor(b, data, count);
  };
  for (const fb::Buffer *b : *event.step->inputs())
    event.inputs.push_back(tensor(b));
  for (const fb::Buffer *b : *event.step->outputs())
    event.outputs.push_back(tensor(b));
  // Activations live in the session's arena: the observer may write them.
  for (auto *tensors : {&event.inputs, &event.outputs})
    for (StepTensor &t : *tensors)
      if (t.buffer->kind() == fb::BufferKind::Arena)
        t.writable = const_cast<void *>(t.data);
  return event;
}

bool CpuSession::runStep(size_t entryIndex, uint32_t index,
                         const int32_t *tokens, int64_t chunk, Rows rows,
                         std::string &error) {
  const fb::Entry &entry = *entries_[entryIndex].entry;
  const fb::Step *step = entry.steps()->Get(index);
  if (rows == Rows::None && step->kernel() != fb::Kernel::Attention)
    return true;
  const Arena &e = *arenas_[entryIndex];
  char *arena = reinterpret_cast<char *>(e.arena);
  // The step's rows: tokens first .. first + count - 1 of the chunk, at
  // positions from `position` (stepRows chose Last only where every arena
  // tensor of the step has contiguous rows).
  const int64_t first = rows == Rows::Last ? chunk - 1 : 0;
  const int64_t count = rows == Rows::Last ? 1 : chunk;
  const int64_t position = position_ + first;
  auto wholeArenaPtr = [&](const fb::Buffer *b) {
    return reinterpret_cast<float *>(arena + b->offset());
  };
  auto arenaPtr = [&](const fb::Buffer *b) {
    if (first == 0)
      return wholeArenaPtr(b);
    return reinterpret_cast<float *>(
        arena + b->offset() +
        first * rowElements(*b->tensor()) * dtypeBytes(b->tensor()->dtype()));
  };
  tokens += first;
  auto weightPtr = [&](const fb::Buffer *b) {
    return plan_->weight(static_cast<uint32_t>(b->offset()));
  };
  auto elements = [&](const fb::Buffer *b) {
    return static_cast<int64_t>(tensorElements(*b->tensor(), count));
  };
  cpu::ThreadPool &pool = *pool_;
  const uint64_t layerStride = 2ull * kvHeads_ * context_ * headDim_;

  const auto &in = *step->inputs();
  const fb::Buffer *out = step->outputs()->Get(0);
  auto fail = [&](const std::string &what) {
    error = "step " + (step->name() ? step->name()->str() : std::string("?")) +
            " (" + fb::EnumNameKernel(step->kernel()) + "): " + what;
    return false;
  };
  switch (step->kernel()) {
  case fb::Kernel::Embedding: {
    std::vector<int64_t> table = dimsOf(in[0]);
    if (!cpu::embedding(weightPtr(in[0]),
                        weightType(in[0]->tensor()->dtype()), table[0],
                        table[1], tokens, count, arenaPtr(out)))
      return fail("a token is outside the embedding table");
    break;
  }
  case fb::Kernel::RmsNorm: {
    int64_t dim = dimsOf(in[1])[0];
    cpu::rmsNorm(arenaPtr(in[0]), elements(in[0]) / dim, dim,
                 static_cast<const float *>(weightPtr(in[1])),
                 step->epsilon(), arenaPtr(out));
    break;
  }
  case fb::Kernel::MatMul: {
    std::vector<int64_t> w = dimsOf(in[1]);
    cpu::matmul(pool, arenaPtr(in[0]), elements(in[0]) / w[1], w[1],
                weightPtr(in[1]), weightType(in[1]->tensor()->dtype()), w[0],
                arenaPtr(out));
    break;
  }
  case fb::Kernel::DequantMatMul: {
    const QuantizedView &w = e.quantized[index];
    cpu::dequantMatmul(pool, arenaPtr(in[0]), elements(in[0]) / w.cols, w,
                       arenaPtr(out),
                       step->int8_activations()
                           ? cpu::ActivationPrecision::Int8
                           : cpu::ActivationPrecision::F32);
    break;
  }
  case fb::Kernel::Int8MatMul: {
    const QuantizedView &w = e.quantized[index];
    cpu::int8Matmul(pool, arenaPtr(in[0]), elements(in[0]) / w.cols, w,
                    step->outlier_threshold(), arenaPtr(out));
    break;
  }
  case fb::Kernel::Rotary: {
    std::vector<int64_t> x = dimsOf(in[0]);
    float *data = arenaPtr(out);
    // Fix (found by test/unit/runtime/PlanCorruptionTest): memmove, not
    // memcpy. Arena buffers may overlap, and a verified plan can place the
    // output a few floats into the input; memcpy of overlapping ranges is
    // undefined (ASan: memcpy-param-overlap).
    if (in[0]->offset() != out->offset())
      std::memmove(data, arenaPtr(in[0]), elements(in[0]) * sizeof(float));
    const float *cosTable = nullptr, *sinTable = nullptr;
    int64_t tablePositions = 0;
    if (in.size() == 3) {
      cosTable = static_cast<const float *>(weightPtr(in[1]));
      sinTable = static_cast<const float *>(weightPtr(in[2]));
      tablePositions = dimsOf(in[1])[0];
    }
    if (!cpu::rotary(data, count, x[2], x[3], step->rotary_dim(), position,
                     step->rotary_convention() ==
                             fb::RotaryConvention::Interleaved
                         ? cpu::RotaryConvention::Interleaved
                         : cpu::RotaryConvention::RotateHalf,
                     step->rotary_base(), cosTable, sinTable, tablePositions))
      return fail("positions up to " + std::to_string(position + count - 1) +
                  " are outside the rotary tables of " +
                  std::to_string(tablePositions) + " positions");
    break;
  }
  case fb::Kernel::Attention: {
    float *kCache = kvCache_ + step->layer() * layerStride;
    float *vCache = kCache + layerStride / 2;
    // Every token's key and value enter the cache, whatever the rows.
    cpu::appendKv(wholeArenaPtr(in[1]), chunk, kvHeads_, headDim_, position_,
                  context_, kCache);
    cpu::appendKv(wholeArenaPtr(in[2]), chunk, kvHeads_, headDim_, position_,
                  context_, vCache);
    if (rows == Rows::None)
      break;
    cpu::attention(pool, arenaPtr(in[0]), kCache, vCache, context_, count,
                   position, step->heads(), step->kv_heads(),
                   step->head_dim(), step->scale(), step->causal(),
                   arenaPtr(out));
    break;
  }
  case fb::Kernel::Add:
    cpu::add(arenaPtr(in[0]), arenaPtr(in[1]), elements(out), arenaPtr(out));
    break;
  case fb::Kernel::SwiGlu:
    cpu::swiglu(arenaPtr(in[0]), arenaPtr(in[1]), elements(out),
                arenaPtr(out));
    break;
  case fb::Kernel::Gather: {
    int64_t n = dimsOf(in[1])[0], xCols = dimsOf(in[0]).back();
    cpu::gatherLastDim(arenaPtr(in[0]), elements(out) / n, xCols, n,
                       static_cast<const int32_t *>(weightPtr(in[1])),
                       arenaPtr(out));
    break;
  }
  case fb::Kernel::AllReduce: {
    int64_t n = elements(out);
    if (in[0]->offset() != out->offset())
      std::memmove(arenaPtr(out), arenaPtr(in[0]), n * sizeof(float));
    if (communicator_ &&
        !communicator_->allReduceSum(arenaPtr(out), static_cast<size_t>(n),
                                     error))
      return fail(error);
    break;
  }
  case fb::Kernel::AllGather: {
    // Every rank's [rows, n] part, rank-major, then interleaved into rows
    // of [world * n] cut to the output's m columns.
    int64_t n = dimsOf(in[0]).back(), m = dimsOf(out).back();
    int64_t rows = elements(in[0]) / n;
    int ranks = communicator_ ? communicator_->size() : 1;
    gathered_.resize(static_cast<size_t>(ranks * rows * n));
    if (communicator_) {
      if (!communicator_->allGather(arenaPtr(in[0]),
                                    static_cast<size_t>(rows * n),
                                    gathered_.data(), error))
        return fail(error);
    } else {
      std::memcpy(gathered_.data(), arenaPtr(in[0]), rows * n * sizeof(float));
    }
    float *o = arenaPtr(out);
    for (int64_t t = 0; t < rows; ++t)
      for (int r = 0; r < ranks; ++r) {
        int64_t begin = r * n, cols = std::min(n, m - begin);
        if (cols > 0)
          std::memcpy(o + t * m + begin, gathered_.data() + (r * rows + t) * n,
                      cols * sizeof(float));
      }
    break;
  }
  }
  return true;
}

//===----------------------------------------------------------------------===//
// The backend
//===----------------------------------------------------------------------===//

void registerCpuBackend() {
  Backend backend;
  backend.name = "cpu";
  backend.autoRank = 0;
  backend.probe = [](const fb::Plan &) {
    BackendProbe probe;
    probe.usable = true;
    probe.device = std::string("cpu, ") + cpu::isaName();
    return probe;
  };
  backend.create = [](const LoadedPlan &plan, const SessionOptions &options,
                      std::string &error) -> std::unique_ptr<Session> {
    return CpuSession::create(plan, options, error);
  };
  registerBackend(std::move(backend));
}

} // namespace qrt
