//===- Session.cpp - running a plan on the CPU ----------------------------===//

#include "qrt/runtime/Session.h"

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

struct Session::Entry {
  const fb::Entry *entry = nullptr;
  int64_t maxTokens = 0;
  float *arena = nullptr;
  uint64_t arenaBytes = 0;
  /// Per step: the quantized weight of a DequantMatMul step, bound once.
  std::vector<QuantizedView> quantized;
  ~Entry() { std::free(arena); }
};

Session::~Session() { std::free(kvCache_); }

std::unique_ptr<Session> Session::create(const MappedPlan &plan,
                                         const SessionOptions &options,
                                         std::string &error) {
  const fb::Plan &p = plan.plan();
  const fb::KvCache *cache = p.kv_cache();
  if (!cache || cache->layers() <= 0) {
    error = "the plan has no KV cache";
    return nullptr;
  }
  std::unique_ptr<Session> session(new Session());
  session->plan_ = &plan;
  session->vocab_ = p.model()->vocab();
  session->layers_ = cache->layers();
  session->kvHeads_ = cache->kv_heads();
  session->headDim_ = cache->head_dim();
  session->context_ = cache->capacity();
  if (options.context > 0)
    session->context_ = std::min<int64_t>(options.context, cache->capacity());

  for (const fb::Entry *e : *p.entries()) {
    auto entry = std::make_unique<Entry>();
    entry->entry = e;
    entry->maxTokens = std::min<int64_t>(e->max_tokens(), session->context_);
    entry->arenaBytes = e->arena_bytes();
    entry->arena = allocate(entry->arenaBytes);
    if (!entry->arena) {
      error = "cannot allocate the " + std::to_string(entry->arenaBytes) +
              "-byte arena of entry '" +
              // Fix: the name is optional in the schema (was a null deref).
              (e->name() ? e->name()->str() : std::string("?")) + "'";
      return nullptr;
    }
    entry->quantized.resize(e->steps()->size());
    for (uint32_t i = 0; i < e->steps()->size(); ++i) {
      const fb::Step *step = e->steps()->Get(i);
      if (step->kernel() != fb::Kernel::DequantMatMul)
        continue;
      QuantizedView &view = entry->quantized[i];
      if (!quantizedViewOf(step->quant(), view, error))
        return nullptr; // not reached for a verified plan
      std::vector<const void *> components;
      for (uint32_t c = 1; c < step->inputs()->size(); ++c)
        components.push_back(
            plan.weight(static_cast<uint32_t>(step->inputs()->Get(c)->offset())));
      if (!bindComponents(view, components)) {
        error = "a dequant_matmul step has the wrong number of components";
        return nullptr;
      }
    }
    if (e->max_tokens() == 1 && !session->decode_)
      session->decode_ = entry.get();
    if (!session->prefill_ ||
        e->max_tokens() > session->prefill_->entry->max_tokens())
      session->prefill_ = entry.get();
    session->entries_.push_back(std::move(entry));
  }

  session->kvBytes_ = 2ull * session->layers_ * session->kvHeads_ *
                      session->context_ * session->headDim_ * sizeof(float);
  session->kvCache_ = allocate(session->kvBytes_);
  if (!session->kvCache_) {
    error = "cannot allocate a KV cache of " +
            std::to_string(session->kvBytes_) + " bytes";
    return nullptr;
  }
  session->pool_ = std::make_unique<cpu::ThreadPool>(options.threads);
  return session;
}

SessionMemory Session::memory() const {
  SessionMemory m;
  for (const auto &entry : entries_)
    m.arenas += entry->arenaBytes;
  m.kvCache = kvBytes_;
  return m;
}

bool Session::forward(const int32_t *tokens, int64_t count, float *logits,
                      bool allLogits, std::string &error) {
  if (count <= 0)
    return true;
  if (position_ + count > context_) {
    error = "the context is full: " + std::to_string(position_) + " + " +
            std::to_string(count) + " tokens exceed " +
            std::to_string(context_) + " positions";
    return false;
  }
  for (int64_t i = 0; i < count; ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab_) {
      error = "token " + std::to_string(tokens[i]) +
              " is outside the vocabulary of " + std::to_string(vocab_);
      return false;
    }
  int64_t start = position_;
  for (int64_t done = 0; done < count;) {
    int64_t left = count - done;
    const Entry &entry = (left == 1 && decode_) ? *decode_ : *prefill_;
    int64_t chunk = std::min(left, entry.maxTokens);
    bool last = done + chunk == count;
    float *out = nullptr;
    if (logits)
      out = allLogits ? logits + done * vocab_ : (last ? logits : nullptr);
    if (!runChunk(entry, tokens + done, chunk, out, allLogits, error)) {
      position_ = start;
      return false;
    }
    position_ += chunk;
    done += chunk;
  }
  return true;
}

bool Session::runChunk(const Entry &e, const int32_t *tokens, int64_t count,
                       float *logits, bool allLogits, std::string &error) {
  const fb::Entry &entry = *e.entry;
  char *arena = reinterpret_cast<char *>(e.arena);
  auto arenaPtr = [&](const fb::Buffer *b) {
    return reinterpret_cast<float *>(arena + b->offset());
  };
  auto weightPtr = [&](const fb::Buffer *b) {
    return plan_->weight(static_cast<uint32_t>(b->offset()));
  };
  auto elements = [&](const fb::Buffer *b) {
    return static_cast<int64_t>(tensorElements(*b->tensor(), count));
  };
  cpu::ThreadPool &pool = *pool_;
  const uint64_t layerStride = 2ull * kvHeads_ * context_ * headDim_;

  for (uint32_t index = 0; index < entry.steps()->size(); ++index) {
    const fb::Step *step = entry.steps()->Get(index);
    const auto &in = *step->inputs();
    const fb::Buffer *out = step->outputs()->Get(0);
    auto fail = [&](const std::string &what) {
      error = "step " +
              (step->name() ? step->name()->str() : std::string("?")) + " (" +
              fb::EnumNameKernel(step->kernel()) + "): " + what;
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
                         arenaPtr(out));
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
      if (!cpu::rotary(data, count, x[2], x[3], step->rotary_dim(), position_,
                       step->rotary_convention() ==
                               fb::RotaryConvention::Interleaved
                           ? cpu::RotaryConvention::Interleaved
                           : cpu::RotaryConvention::RotateHalf,
                       step->rotary_base(), cosTable, sinTable, tablePositions))
        return fail("positions up to " + std::to_string(position_ + count - 1) +
                    " are outside the rotary tables of " +
                    std::to_string(tablePositions) + " positions");
      break;
    }
    case fb::Kernel::Attention: {
      float *kCache = kvCache_ + step->layer() * layerStride;
      float *vCache = kCache + layerStride / 2;
      cpu::appendKv(arenaPtr(in[1]), count, kvHeads_, headDim_, position_,
                    context_, kCache);
      cpu::appendKv(arenaPtr(in[2]), count, kvHeads_, headDim_, position_,
                    context_, vCache);
      cpu::attention(pool, arenaPtr(in[0]), kCache, vCache, context_, count,
                     position_, step->heads(), step->kv_heads(),
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
    }
  }

  if (logits) {
    const float *all = arenaPtr(entry.logits());
    if (allLogits)
      std::memcpy(logits, all, count * vocab_ * sizeof(float));
    else
      std::memcpy(logits, all + (count - 1) * vocab_, vocab_ * sizeof(float));
  }
  return true;
}

} // namespace qrt
