//===- Session.cpp - running a plan ---------------------------------------===//
//
// What every backend shares: reading the plan's entries and KV cache, the
// checks on forward()'s input, the chunking into entry steps, observer
// events; and the registry of backends.
//
//===----------------------------------------------------------------------===//

#include "qrt/runtime/Backend.h"

#include <algorithm>
#include <map>
#include <mutex>

namespace qrt {

StepObserver::~StepObserver() = default;

int64_t StepTensor::elements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::vector<float> StepTensor::floats() const {
  if (dtype != fb::DType::F32 || !data)
    return {};
  const float *values = static_cast<const float *>(data);
  return std::vector<float>(values, values + elements());
}

Session::~Session() = default;

bool Session::initialize(const LoadedPlan &plan, const SessionOptions &options,
                         std::string &error) {
  const fb::Plan &p = plan.plan();
  const fb::KvCache *cache = p.kv_cache();
  if (!cache || cache->layers() <= 0) {
    error = "the plan has no KV cache";
    return false;
  }
  const int ranks = plan.worldSize();
  Communicator *comm = options.communicator;
  if (ranks > 1 && (!comm || comm->size() != ranks)) {
    error = plan.name() + " is split for " + std::to_string(ranks) +
            " ranks (tensor parallel): run one process per rank, e.g. "
            "`mpirun -np " + std::to_string(ranks) + " quant-run " +
            plan.name() + " ...`" +
            (comm ? " (this run has " + std::to_string(comm->size()) +
                        (comm->size() == 1 ? " rank)" : " ranks)")
                  : "");
    return false;
  }
  if (ranks > 1 && !plan.rankSelected()) {
    error = plan.name() + " is split for " + std::to_string(ranks) +
            " ranks: select this session's rank first "
            "(LoadedPlan::selectRank, which also checks its weights)";
    return false;
  }
  if (ranks > 1 && comm->rank() != plan.rank()) {
    error = "the session is rank " + std::to_string(comm->rank()) +
            " but the plan's weights are rank " + std::to_string(plan.rank()) +
            "'s (LoadedPlan::selectRank)";
    return false;
  }
  communicator_ = ranks > 1 ? comm : nullptr;
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

namespace {

/// The name of a quantized weight from its data component's
/// ("layers.0.attention.wq.data" -> "layers.0.attention.wq").
std::string weightNameOf(const std::string &component) {
  const std::string suffix =
      std::string(".") + componentRoleName(ComponentRole::Data);
  if (component.size() > suffix.size() &&
      component.compare(component.size() - suffix.size(), suffix.size(),
                        suffix) == 0)
    return component.substr(0, component.size() - suffix.size());
  return component;
}

} // namespace

StepEvent Session::stepEvent(size_t entry, uint32_t step, int64_t count) const {
  StepEvent event;
  event.entryIndex = entry;
  event.stepIndex = step;
  event.entry = entries_[entry].entry;
  event.step = event.entry->steps()->Get(step);
  event.tokens = count;
  event.position = position_;
  const fb::Step &s = *event.step;
  const fb::Plan &plan = plan_->plan();
  if (s.kernel() == fb::Kernel::MatMul ||
      s.kernel() == fb::Kernel::DequantMatMul ||
      s.kernel() == fb::Kernel::Int8MatMul) {
    const fb::WeightInfo *w =
        plan.weights()->Get(static_cast<uint32_t>(s.inputs()->Get(1)->offset()));
    std::string name = w->name() ? w->name()->str() : std::string();
    if (s.kernel() == fb::Kernel::MatMul) {
      event.weight = name;
      event.weightRows = w->tensor()->dims()->Get(0);
      event.weightCols = w->tensor()->dims()->Get(1);
    } else {
      event.weight = weightNameOf(name);
      event.weightRows = s.quant()->rows();
      event.weightCols = s.quant()->cols();
    }
  }
  return event;
}

StepTensor Session::stepTensor(const fb::Buffer *buffer, const void *data,
                               int64_t count) const {
  StepTensor t;
  t.buffer = buffer;
  t.data = data;
  t.dtype = buffer->tensor()->dtype();
  for (int64_t d : *buffer->tensor()->dims())
    t.shape.push_back(d == -1 ? count : d);
  if (buffer->kind() == fb::BufferKind::Weight) {
    const fb::WeightInfo *w = plan_->plan().weights()->Get(
        static_cast<uint32_t>(buffer->offset()));
    t.weight = w->name() ? w->name()->str() : std::string();
  }
  return t;
}

//===----------------------------------------------------------------------===//
// The registry of backends
//===----------------------------------------------------------------------===//

namespace {

struct BackendRegistry {
  std::mutex mutex;
  /// Never removed: pointers stay valid.
  std::map<std::string, std::unique_ptr<Backend>> backends;
};

BackendRegistry &backendRegistry() {
  static BackendRegistry registry;
  return registry;
}

} // namespace

void registerBackend(Backend backend) {
  BackendRegistry &r = backendRegistry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto &slot = r.backends[backend.name];
  if (!slot)
    slot = std::make_unique<Backend>(std::move(backend));
}

const Backend *findBackend(const std::string &name) {
  BackendRegistry &r = backendRegistry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.backends.find(name);
  return it == r.backends.end() ? nullptr : it->second.get();
}

std::vector<const Backend *> registeredBackends() {
  BackendRegistry &r = backendRegistry();
  std::vector<const Backend *> out;
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    for (const auto &[name, backend] : r.backends)
      out.push_back(backend.get());
  }
  // Highest rank first; equal ranks by name.
  std::sort(out.begin(), out.end(), [](const Backend *a, const Backend *b) {
    return a->autoRank != b->autoRank ? a->autoRank > b->autoRank
                                      : a->name < b->name;
  });
  return out;
}

const Backend *chooseBackend(const fb::Plan &plan, const std::string &device,
                             std::string &reason, std::string &error) {
  reason.clear();
  std::vector<const Backend *> backends = registeredBackends();
  if (device != "auto") {
    for (const Backend *backend : backends)
      if (backend->name == device)
        return backend;
    std::string names;
    for (const Backend *backend : backends)
      names += backend->name + ", ";
    error = "unknown device '" + device + "' (this runtime runs: " + names +
            "auto)";
    return nullptr;
  }
  // The first usable one; its reason, or the reason the one ranked above it
  // could not (the CPU says nothing of itself).
  std::string declined;
  for (const Backend *backend : backends) {
    BackendProbe probe = backend->probe(plan);
    if (!probe.usable) {
      if (declined.empty())
        declined = probe.reason;
      continue;
    }
    reason = probe.reason.empty() ? declined : probe.reason;
    return backend;
  }
  error = "no backend of this runtime can run the plan" +
          (declined.empty() ? std::string() : " (" + declined + ")");
  return nullptr;
}

} // namespace qrt
