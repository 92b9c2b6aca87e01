//===- Session.cpp - running a plan ---------------------------------------===//
//
// What every device shares: reading the plan's entries and KV cache, the
// checks on forward()'s input, the chunking into entry steps; and the choice
// of the device.
//
//===----------------------------------------------------------------------===//

#include "qrt/runtime/Session.h"

#include "qrt/cuda/CudaSession.h"
#include "qrt/runtime/CpuSession.h"

#include <algorithm>

namespace qrt {

const char *deviceKindName(DeviceKind kind) {
  switch (kind) {
  case DeviceKind::Auto:
    return "auto";
  case DeviceKind::Cpu:
    return "cpu";
  case DeviceKind::Cuda:
    return "cuda";
  }
  return "?";
}

bool parseDeviceKind(const std::string &name, DeviceKind &kind) {
  for (DeviceKind k : {DeviceKind::Auto, DeviceKind::Cpu, DeviceKind::Cuda})
    if (name == deviceKindName(k)) {
      kind = k;
      return true;
    }
  return false;
}

Session::~Session() = default;

std::unique_ptr<Session> Session::create(const MappedPlan &plan,
                                         const SessionOptions &options,
                                         std::string &error) {
  std::string reason;
  switch (options.device) {
  case DeviceKind::Cpu:
    return CpuSession::create(plan, options, error);
  case DeviceKind::Cuda: {
    std::unique_ptr<cuda::Device> device = cuda::openCudaDevice(error);
    if (!device)
      return nullptr;
    return cuda::CudaSession::create(plan, options, std::move(device), error);
  }
  case DeviceKind::Auto: {
    // The plan first: a CPU plan never loads the driver.
    if (!cuda::hasCudaCode(plan.plan())) {
      reason = "the plan has no CUDA code";
      break;
    }
    cuda::CudaProbe probe = cuda::probeCuda();
    if (!probe.usable) {
      reason = probe.error;
      break;
    }
    std::unique_ptr<cuda::Device> device = cuda::openCudaDevice(error);
    if (!device)
      return nullptr;
    std::unique_ptr<cuda::CudaSession> session =
        cuda::CudaSession::create(plan, options, std::move(device), error);
    if (session)
      static_cast<Session &>(*session).reason_ =
          "the plan has CUDA code and " + probe.name + " is present";
    return session;
  }
  }
  std::unique_ptr<CpuSession> session =
      CpuSession::create(plan, options, error);
  if (session)
    static_cast<Session &>(*session).reason_ = reason;
  return session;
}

bool Session::initialize(const MappedPlan &plan, const SessionOptions &options,
                         std::string &error) {
  const fb::Plan &p = plan.plan();
  const fb::KvCache *cache = p.kv_cache();
  if (!cache || cache->layers() <= 0) {
    error = "the plan has no KV cache";
    return false;
  }
  plan_ = &plan;
  vocab_ = p.model()->vocab();
  layers_ = cache->layers();
  kvHeads_ = cache->kv_heads();
  headDim_ = cache->head_dim();
  context_ = cache->capacity();
  if (options.context > 0)
    context_ = std::min<int64_t>(options.context, cache->capacity());
  if (!p.entries() || p.entries()->size() == 0) {
    error = "the plan has no entry";
    return false;
  }
  for (const fb::Entry *e : *p.entries()) {
    EntryInfo entry;
    entry.entry = e;
    entry.maxTokens = std::min<int64_t>(e->max_tokens(), context_);
    size_t index = entries_.size();
    if (e->max_tokens() == 1 && decode_ == kNoEntry)
      decode_ = index;
    if (prefill_ == kNoEntry ||
        e->max_tokens() > entries_[prefill_].entry->max_tokens())
      prefill_ = index;
    entries_.push_back(entry);
  }
  return true;
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
    size_t entry = (left == 1 && decode_ != kNoEntry) ? decode_ : prefill_;
    int64_t chunk = std::min(left, entries_[entry].maxTokens);
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

} // namespace qrt
