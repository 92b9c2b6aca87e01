//===- CudaSession.cpp - running a plan's CUDA kernels --------------------===//

#include "qrt/cuda/CudaSession.h"

#include "qrt/cuda/Executable.h"
#include "qrt/runtime/Backend.h"
#include "qrt/schema/cuda_executable_generated.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string_view>

namespace qrt::cuda {

namespace {

/// Device allocations are laid out at this alignment (cuMemAlloc's).
constexpr uint64_t kDeviceAlignment = 256;

/// The staging buffer: the chunk's first position (int32) at 0, its token
/// ids at this offset (16-byte aligned); one copy writes both.
constexpr uint64_t kTokensOffset = 16;

uint64_t alignUp(uint64_t v) {
  return (v + kDeviceAlignment - 1) / kDeviceAlignment * kDeviceAlignment;
}

std::string stepText(const fb::Step &step) {
  return "step " + (step.name() ? step.name()->str() : std::string("?")) +
         " (" + fb::EnumNameKernel(step.kernel()) + ")";
}

std::string entryName(const fb::Entry &entry) {
  return entry.name() ? entry.name()->str() : std::string("?");
}

/// Whether the plan's generated source has this runtime's kernel ABI (it
/// declares kKernelParamsSource verbatim). Code without source (a cubin or
/// PTX alone) cannot be checked and is taken as it is.
bool checkKernelAbi(const std::vector<ModuleCode> &code, std::string &error) {
  for (const ModuleCode &c : code) {
    if (c.format != "cuda-source")
      continue;
    std::string_view source(reinterpret_cast<const char *>(c.code), c.size);
    if (source.find(kKernelParamsSource) == std::string_view::npos) {
      error = "the plan's CUDA code was generated for another kernel ABI "
              "than this runtime's (qrt/cuda/KernelAbi.h): export the plan "
              "again";
      return false;
    }
  }
  return true;
}

} // namespace

/// The launch lists of a verified plan's CUDA executable, per entry and
/// step (null without one).
const flatbuffers::Vector<flatbuffers::Offset<schema::EntryLaunches>> *
launchesOf(const fb::Plan &plan) {
  Executable executable = executableOf(plan, kTargetName);
  return executable.data ? executableRoot(executable).entries() : nullptr;
}

bool hasCudaCode(const fb::Plan &plan) {
  const auto *entries = launchesOf(plan);
  if (!entries)
    return false;
  for (const schema::EntryLaunches *entry : *entries)
    for (const schema::StepLaunches *step : *entry->steps())
      if (step->launches() && step->launches()->size() > 0)
        return true;
  return false;
}

struct CudaSession::Launch {
  Function function = nullptr;
  uint32_t gridX = 1, tokensPerBlock = 0, blockX = 1, sharedBytes = 0;
  /// The step (for messages) and its index in the entry.
  const fb::Step *step = nullptr;
  uint32_t stepIndex = 0;
  /// The launch has buffers of its own (a fused epilogue).
  bool fused = false;
  const std::string *name = nullptr;
  /// Buffers and KV cache (tokens, position, context are set per chunk).
  KernelParams params = {};
  /// Not a kernel: the step's AllReduce or AllGather (collectives_).
  bool collective = false;
};

struct CudaSession::EntryCode {
  uint64_t arena = 0;
  std::vector<Launch> launches;
  /// The logits' device address.
  uint64_t logits = 0;
  /// The launches captured as a graph (decode, once captured).
  Graph graph = nullptr;
};

CudaSession::~CudaSession() {
  if (!device_)
    return;
  std::string ignored;
  device_->synchronize(ignored);
  for (EntryCode &code : code_)
    device_->destroyGraph(code.graph);
  collectives_.reset();
  for (uint64_t address : {staging_, kvCache_, arenas_, weights_,
                           gatherScratch_})
    device_->free(address);
}

std::unique_ptr<CudaSession>
CudaSession::create(const LoadedPlan &plan, const SessionOptions &options,
                    std::unique_ptr<Device> device, std::string &error,
                    const CollectivesFactory &collectives) {
  const fb::Plan &p = plan.plan();
  // Verified here whatever was registered when the plan was opened.
  Executable executable = executableOf(p, kTargetName);
  if (executable.data && !verifyExecutable(p, executable, error)) {
    error = "the plan's CUDA code: " + error;
    return nullptr;
  }
  if (!hasCudaCode(p)) {
    error = kNoCudaCode;
    return nullptr;
  }
  std::unique_ptr<CudaSession> session(new CudaSession());
  session->device_ = std::move(device);
  Device &d = *session->device_;
  if (!session->initialize(plan, options, error))
    return nullptr;
  if (session->communicator_) {
    // Every rank opens its collectives at once (NCCL's bootstrap).
    session->collectives_ = collectives(d, *session->communicator_, error);
    if (!session->collectives_) {
      error = "tensor-parallel collectives: " + error;
      return nullptr;
    }
  }

  // The module, and every function a launch names (before any upload, so
  // that a plan for another GPU fails fast).
  std::vector<ModuleCode> code = cudaCodeOf(p);
  if (!checkKernelAbi(code, error) || !d.loadModule(code, error))
    return nullptr;
  std::map<std::string, Function> functions;
  const auto *entryLaunches = launchesOf(p);
  for (uint32_t e = 0; e < entryLaunches->size(); ++e)
    for (uint32_t i = 0; i < entryLaunches->Get(e)->steps()->size(); ++i) {
      const fb::Step *step = p.entries()->Get(e)->steps()->Get(i);
      const auto *launches = entryLaunches->Get(e)->steps()->Get(i)->launches();
      for (uint32_t l = 0; launches && l < launches->size(); ++l) {
        const schema::Launch *launch = launches->Get(l);
        std::string name = launch->function()->str();
        if (functions.count(name))
          continue;
        Function f = nullptr;
        if (!d.function(name, f, error)) {
          error = stepText(*step) + ": " + error;
          return nullptr;
        }
        functions[name] = f;
      }
    }

  // The weights the steps read (a split plan's other ranks' are not this
  // rank's): one allocation, each at a 256-byte aligned offset.
  const uint32_t weightCount = p.weights() ? p.weights()->size() : 0;
  std::vector<bool> read(weightCount);
  for (uint32_t w : weightsRead(p))
    read[w] = true;
  session->weightAddress_.resize(weightCount);
  std::vector<uint64_t> offsets(weightCount);
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < weightCount; ++i) {
    offsets[i] = bytes;
    if (read[i])
      bytes = alignUp(bytes + p.weights()->Get(i)->size());
  }
  session->weightsBytes_ = bytes;
  if (!d.allocate(std::max<uint64_t>(bytes, kDeviceAlignment),
                  session->weights_, error)) {
    error = "the weights: " + error;
    return nullptr;
  }
  for (uint32_t i = 0; i < weightCount; ++i) {
    session->weightAddress_[i] = session->weights_ + offsets[i];
    if (read[i] && !d.copyToDevice(session->weightAddress_[i], plan.weight(i),
                                   p.weights()->Get(i)->size(), error))
      return nullptr;
  }

  // The arenas (one allocation), the KV cache, the staging buffer (position
  // and token ids of a chunk); zeroed once, so nothing a kernel reads is
  // ever uninitialized.
  std::vector<uint64_t> arenaOffsets;
  uint64_t maxTokens = 1;
  for (const EntryInfo &info : session->entries_) {
    arenaOffsets.push_back(session->arenasBytes_);
    session->arenasBytes_ =
        alignUp(session->arenasBytes_ + info.entry->arena_bytes());
    maxTokens = std::max<uint64_t>(maxTokens, info.maxTokens);
  }
  // AllGather steps gather every rank's rows before interleaving them.
  uint64_t gatherBytes = 0;
  for (const EntryInfo &info : session->entries_)
    for (const fb::Step *step : *info.entry->steps())
      if (step->kernel() == fb::Kernel::AllGather)
        gatherBytes = std::max<uint64_t>(
            gatherBytes, tensorElements(*step->inputs()->Get(0)->tensor(),
                                        info.maxTokens) *
                             sizeof(float) * plan.worldSize());
  if (gatherBytes &&
      !d.allocate(gatherBytes, session->gatherScratch_, error))
    return nullptr;
  uint64_t kvBytes = session->kvCacheBytes();
  uint64_t stagingBytes = kTokensOffset + maxTokens * sizeof(int32_t);
  session->stagingHost_.assign(stagingBytes / sizeof(int32_t), 0);
  if (!d.allocate(std::max<uint64_t>(session->arenasBytes_, 1),
                  session->arenas_, error) ||
      !d.allocate(std::max<uint64_t>(kvBytes, 1), session->kvCache_, error) ||
      !d.allocate(stagingBytes, session->staging_, error) ||
      !d.memset(session->arenas_, 0, session->arenasBytes_, error) ||
      !d.memset(session->kvCache_, 0, kvBytes, error) ||
      !d.memset(session->staging_, 0, stagingBytes, error))
    return nullptr;

  std::vector<std::string> names;
  std::vector<Function> resolved;
  for (const auto &[name, f] : functions) {
    names.push_back(name);
    resolved.push_back(f);
  }
  session->code_.resize(session->entries_.size());
  for (size_t i = 0; i < session->entries_.size(); ++i) {
    session->code_[i].arena = session->arenas_ + arenaOffsets[i];
    if (!session->prepareEntry(i, resolved, names, error))
      return nullptr;
  }
  d.setProfiling(options.profile);
  // A split plan's decode steps call NCCL between the kernels: launched
  // one by one (captured NCCL calls are left for later).
  session->useGraph_ = options.replayDecode && !options.profile &&
                       d.supportsGraphs() && session->decode_ != kNoEntry &&
                       !session->collectives_;
  if (!d.synchronize(error))
    return nullptr;
  return session;
}

bool CudaSession::prepareEntry(size_t index,
                               const std::vector<Function> &functions,
                               const std::vector<std::string> &names,
                               std::string &error) {
  const fb::Entry &entry = *entries_[index].entry;
  const int64_t maxTokens = entries_[index].maxTokens;
  EntryCode &code = code_[index];
  auto address = [&](const fb::Buffer &b) { return bufferAddress(code, b); };
  // The step's buffers (inputs, then outputs) or the launch's own (the plan
  // verifier checked both; the count is checked again because it bounds the
  // writes into KernelParams).
  using Buffers = flatbuffers::Vector<flatbuffers::Offset<fb::Buffer>>;
  auto fill = [&](const fb::Step &step,
                  const std::vector<const Buffers *> &lists, bool own,
                  KernelParams &params) {
    size_t count = 0;
    for (const Buffers *list : lists)
      count += list ? list->size() : 0;
    if (count > size_t(kMaxKernelBuffers)) {
      error = stepText(step) + ": " + (own ? "a launch" : "the step") +
              " has " + std::to_string(count) +
              " buffers; a kernel takes at most " +
              std::to_string(kMaxKernelBuffers);
      return false;
    }
    params = {};
    size_t at = 0;
    for (const Buffers *list : lists)
      for (uint32_t i = 0; list && i < list->size(); ++i) {
        params.buffers[at++] = address(*list->Get(i));
      }
    params.kvCache = kvCache_;
    params.positionAddress = staging_;
    params.context = static_cast<int32_t>(context_);
    return true;
  };

  const auto *steps = launchesOf(plan_->plan())->Get(index)->steps();
  for (uint32_t i = 0; i < entry.steps()->size(); ++i) {
    const fb::Step *step = entry.steps()->Get(i);
    if (step->kernel() == fb::Kernel::AllReduce ||
        step->kernel() == fb::Kernel::AllGather) {
      Launch launch;
      launch.step = step;
      launch.stepIndex = i;
      launch.collective = true;
      if (!fill(*step, {step->inputs(), step->outputs()}, false,
                launch.params))
        return false;
      code.launches.push_back(launch);
      continue;
    }
    const auto *launches = steps->Get(i)->launches();
    if (!launches)
      continue;
    for (const schema::Launch *l : *launches) {
      Launch launch;
      launch.step = step;
      launch.stepIndex = i;
      bool own = l->buffers() && l->buffers()->size() > 0;
      launch.fused = own;
      if (!(own ? fill(*step, {l->buffers()}, true, launch.params)
                : fill(*step, {step->inputs(), step->outputs()}, false,
                       launch.params)))
        return false;
      // `names` is sorted (the order of create's map).
      size_t at =
          std::lower_bound(names.begin(), names.end(), l->function()->str()) -
          names.begin();
      launch.function = functions[at];
      launch.name = &names[at];
      launch.gridX = l->grid_x();
      launch.tokensPerBlock = l->tokens_per_block();
      launch.blockX = l->block_x();
      launch.sharedBytes = l->shared_bytes();
      uint64_t gridY = launch.tokensPerBlock
                           ? (uint64_t(maxTokens) + launch.tokensPerBlock - 1) /
                                 launch.tokensPerBlock
                           : 1;
      if (launch.gridX == 0 || launch.blockX == 0 || launch.blockX > 1024 ||
          gridY > 65535) {
        error = stepText(*step) + ": launch of " + *launch.name + " has grid " +
                std::to_string(launch.gridX) + "x" + std::to_string(gridY) +
                " and block " + std::to_string(launch.blockX) +
                " (needs grid x >= 1, grid y <= 65535, 1 <= block <= 1024)";
        return false;
      }
      code.launches.push_back(launch);
    }
  }
  if (code.launches.empty()) {
    error = "entry '" + entryName(entry) + "' has no CUDA launches";
    return false;
  }
  const fb::Buffer *logits = entry.logits();
  if (!logits || logits->kind() != fb::BufferKind::Arena) {
    error = "entry '" + entryName(entry) + "': the logits are not in its arena";
    return false;
  }
  code.logits = code.arena + logits->offset();
  return true;
}

uint64_t CudaSession::bufferAddress(const EntryCode &code,
                                    const fb::Buffer &b) const {
  switch (b.kind()) {
  case fb::BufferKind::Arena:
    return code.arena + b.offset();
  case fb::BufferKind::Weight:
    return weightAddress_[static_cast<size_t>(b.offset())];
  case fb::BufferKind::Tokens:
    return staging_ + kTokensOffset;
  }
  return 0;
}

SessionMemory CudaSession::memory() const {
  SessionMemory m;
  for (const EntryInfo &info : entries_)
    m.arenas += info.entry->arena_bytes();
  m.kvCache = kvCacheBytes();
  m.weights = weightsBytes_;
  return m;
}

DeviceInfo CudaSession::deviceInfo() const {
  DeviceInfo info;
  info.backend = kTargetName;
  info.name = device_->name();
  info.description = device_->description();
  info.reason = reason_;
  return info;
}

bool CudaSession::launchAll(EntryCode &code, int64_t count,
                            std::string &error) {
  for (Launch &l : code.launches)
    if (!launch(l, count, error))
      return false;
  return true;
}

bool CudaSession::capture(EntryCode &code, std::string &error) {
  Device &d = *device_;
  if (!d.beginCapture(error))
    return false;
  bool recorded = launchAll(code, 1, error);
  // The capture ends in any case; a failed launch fails it.
  std::string endError;
  Graph graph = nullptr;
  bool ended = d.endCapture(graph, recorded ? error : endError);
  if (!recorded || !ended) {
    d.destroyGraph(graph);
    return false;
  }
  code.graph = graph;
  ++graphCaptures_;
  return true;
}

bool CudaSession::runChunk(size_t entryIndex, const int32_t *tokens,
                           int64_t count, float *logits, bool allLogits,
                           std::string &error) {
  EntryCode &code = code_[entryIndex];
  Device &d = *device_;
  // The position and the token ids: one copy, ordered before the launches.
  int32_t *staged = stagingHost_.data();
  staged[0] = static_cast<int32_t>(position_);
  std::copy(tokens, tokens + count, staged + kTokensOffset / sizeof(int32_t));
  if (!d.copyToDevice(staging_, staged,
                      kTokensOffset + uint64_t(count) * sizeof(int32_t), error))
    return false;
  const bool graph = useGraph_ && entryIndex == decode_ && !observer_;
  auto fail = [&](const std::string &what) {
    error = "entry '" + entryName(*entries_[entryIndex].entry) + "' (" +
            std::to_string(code.launches.size()) + " launches" +
            (graph ? " in a CUDA graph" : "") + "): " + what;
    return false;
  };
  if (observer_) {
    if (!launchObserved(entryIndex, code, tokens, count, error))
      return false;
  } else if (graph) {
    if (!code.graph && !capture(code, error))
      return fail("capturing the graph: " + error);
    if (!d.launchGraph(code.graph, error))
      return fail(error);
    ++graphLaunches_;
  } else if (!launchAll(code, count, error)) {
    return false;
  }
  launches_ += code.launches.size();
  bool ok;
  if (!logits)
    ok = d.synchronize(error);
  else if (allLogits)
    ok = d.copyToHost(logits, code.logits,
                      uint64_t(count) * vocab_ * sizeof(float), error);
  else
    ok = d.copyToHost(
        logits, code.logits + uint64_t(count - 1) * vocab_ * sizeof(float),
        uint64_t(vocab_) * sizeof(float), error);
  return ok || fail(error);
}

bool CudaSession::launch(Launch &launch, int64_t count, std::string &error) {
  if (launch.collective)
    return runCollective(launch, count, error);
  launch.params.tokens = static_cast<int32_t>(count);
  uint32_t gridY =
      launch.tokensPerBlock
          ? static_cast<uint32_t>((count + launch.tokensPerBlock - 1) /
                                  launch.tokensPerBlock)
          : 1;
  if (!device_->launch(launch.function, launch.gridX, gridY, launch.blockX,
                       launch.sharedBytes, launch.params, error)) {
    error = stepText(*launch.step) + ": " + error;
    return false;
  }
  return true;
}

bool CudaSession::runCollective(Launch &launch, int64_t count,
                                std::string &error) {
  const fb::Step &step = *launch.step;
  auto fail = [&](const std::string &what) {
    error = stepText(step) + ": " + what;
    return false;
  };
  if (!collectives_)
    return fail("a collective step in a session of one rank");
  const fb::Buffer &in = *step.inputs()->Get(0);
  const fb::Buffer &out = *step.outputs()->Get(0);
  const uint64_t from = launch.params.buffers[0], to = launch.params.buffers[1];
  const uint64_t elements = tensorElements(*in.tensor(), count);
  if (step.kernel() == fb::Kernel::AllReduce) {
    if (from != to &&
        !device_->copyOnDevice(to, from, elements * sizeof(float), error))
      return fail(error);
    return collectives_->allReduceSum(to, elements, error) || fail(error);
  }
  // AllGather: [ranks][rows][n] in the scratch, then each row's parts side
  // by side, cut to the output's m columns.
  const auto *inDims = in.tensor()->dims();
  const auto *outDims = out.tensor()->dims();
  const uint64_t n = static_cast<uint64_t>(inDims->Get(inDims->size() - 1));
  const uint64_t m = static_cast<uint64_t>(outDims->Get(outDims->size() - 1));
  const uint64_t rows = elements / n;
  const int ranks = collectives_->size();
  if (!collectives_->allGather(from, elements, gatherScratch_, error))
    return fail(error);
  if (rows == 1) // one row: the parts are already in order
    return device_->copyOnDevice(to, gatherScratch_, m * sizeof(float),
                                 error) ||
           fail(error);
  for (uint64_t row = 0; row < rows; ++row)
    for (int r = 0; r < ranks; ++r) {
      uint64_t begin = uint64_t(r) * n;
      if (begin >= m)
        break;
      uint64_t width = std::min(n, m - begin);
      if (!device_->copyOnDevice(
              to + (row * m + begin) * sizeof(float),
              gatherScratch_ + ((uint64_t(r) * rows + row) * n) * sizeof(float),
              width * sizeof(float), error))
        return fail(error);
    }
  return true;
}

bool CudaSession::launchObserved(size_t entryIndex, EntryCode &code,
                                 const int32_t *tokens, int64_t count,
                                 std::string &error) {
  const fb::Entry &entry = *entries_[entryIndex].entry;
  // Host copies of the step's arena buffers, valid during the callbacks.
  std::vector<std::vector<uint8_t>> copies;
  auto tensor = [&](const fb::Buffer *b, bool read, StepTensor &out) {
    const void *data = nullptr;
    if (b->kind() == fb::BufferKind::Weight) {
      data = plan_->weight(static_cast<uint32_t>(b->offset()));
    } else if (b->kind() == fb::BufferKind::Tokens) {
      data = tokens;
    } else if (read) {
      uint64_t bytes = tensorElements(*b->tensor(), count) *
                       dtypeBytes(b->tensor()->dtype());
      copies.emplace_back(bytes);
      if (!device_->copyToHost(copies.back().data(), bufferAddress(code, *b),
                               bytes, error))
        return false;
      data = copies.back().data();
    }
    out = stepTensor(b, data, count);
    return true;
  };
  size_t next = 0; // the next launch of code.launches
  for (uint32_t i = 0; i < entry.steps()->size(); ++i) {
    size_t begin = next;
    while (next < code.launches.size() && code.launches[next].stepIndex == i)
      ++next;
    if (observer_->skipStep(entryIndex, i))
      continue;
    StepEvent event = stepEvent(entryIndex, i, count);
    // A step without launches is computed by another step's kernel, and a
    // fused launch writes the next step's result, not this step's: no
    // buffers of their own to show.
    bool computed = next > begin;
    bool fused = computed && code.launches[begin].fused;
    copies.clear();
    copies.reserve(event.step->inputs()->size() +
                   event.step->outputs()->size());
    if (computed)
      for (const fb::Buffer *b : *event.step->inputs()) {
        event.inputs.emplace_back();
        if (!tensor(b, true, event.inputs.back()))
          return false;
      }
    if (computed && !fused)
      for (const fb::Buffer *b : *event.step->outputs()) {
        event.outputs.emplace_back();
        if (!tensor(b, false, event.outputs.back()))
          return false;
      }
    observer_->beforeStep(event);
    for (size_t l = begin; l < next; ++l)
      if (!launch(code.launches[l], count, error))
        return false;
    for (size_t o = 0; o < event.outputs.size(); ++o)
      if (!tensor(event.step->outputs()->Get(static_cast<uint32_t>(o)), true,
                  event.outputs[o]))
        return false;
    observer_->afterStep(event);
    if (observer_->stopRequested()) {
      error = kStoppedByObserver;
      return false;
    }
  }
  return true;
}

void CudaSession::addFigures(Figures &figures) const {
  figures.add("device_weights_bytes", static_cast<int64_t>(weightsBytes_));
  if (collectives_)
    figures.addString("cuda_collectives", collectives_->name());
  figures.add("cuda_launches", static_cast<int64_t>(launches_));
  // Whether decode steps ran as a CUDA graph (none ran: false).
  figures.addBool("cuda_graph", graphLaunches_ > 0);
  figures.add("cuda_graph_launches", static_cast<int64_t>(graphLaunches_));
}

} // namespace qrt::cuda

namespace qrt {

void registerCudaBackend() {
  cuda::registerTarget();
  Backend backend;
  backend.name = cuda::kTargetName;
  backend.autoRank = 10;
  backend.profiles = true;
  backend.probe = [](const fb::Plan &plan) {
    BackendProbe probe;
    // The plan first: a CPU plan never loads the driver.
    if (!cuda::hasCudaCode(plan)) {
      probe.reason = "the plan has no CUDA code";
      return probe;
    }
    cuda::CudaProbe gpu = cuda::probeCuda();
    if (!gpu.usable) {
      probe.reason = gpu.error;
      return probe;
    }
    probe.usable = true;
    probe.reason = "the plan has CUDA code and " + gpu.name + " is present";
    probe.device = gpu.description;
    return probe;
  };
  backend.create = [](const LoadedPlan &plan, const SessionOptions &options,
                      std::string &error) -> std::unique_ptr<Session> {
    // One process per GPU: a split plan's rank r takes the r-th device of
    // its machine (its local rank when the launcher says it, e.g. mpirun's
    // OMPI_COMM_WORLD_LOCAL_RANK).
    int ordinal = 0;
    if (options.communicator && plan.worldSize() > 1) {
      ordinal = options.communicator->rank();
      for (const char *name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                               "SLURM_LOCALID"})
        if (const char *local = std::getenv(name)) {
          ordinal = std::atoi(local);
          break;
        }
    }
    std::unique_ptr<cuda::Device> device =
        cuda::openCudaDevice(error, ordinal);
    if (!device)
      return nullptr;
    return cuda::CudaSession::create(plan, options, std::move(device), error);
  };
  backend.bandwidth = [](std::string &report, std::string &error) {
    std::unique_ptr<cuda::Device> device = cuda::openCudaDevice(error);
    if (!device)
      return false;
    double gbPerSecond = 0;
    if (!cuda::measureCopyBandwidth(*device, uint64_t(1) << 30, 20,
                                    gbPerSecond, error))
      return false;
    char line[256];
    std::snprintf(line, sizeof(line),
                  "%s: device-to-device copy of 1 GiB, %.1f GB/s (bytes read "
                  "+ written)",
                  device->description().c_str(), gbPerSecond);
    report = line;
    return true;
  };
  registerBackend(std::move(backend));
}

} // namespace qrt
