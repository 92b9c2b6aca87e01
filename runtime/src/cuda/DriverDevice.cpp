//===- DriverDevice.cpp - a Device over the CUDA driver API ---------------===//
//
// The device's primary context, one non-blocking stream for everything, and
// one module: the plan's cubin for the device's architecture, else its PTX
// JIT-compiled by the driver. Graphs: stream capture on that stream
// (thread-local mode: an unsafe call of this thread during the capture
// fails instead of being captured or breaking it), each captured CUgraph
// instantiated and destroyed at once; the device keeps the executable
// graphs. Memory and graphs still held when the device is destroyed are
// freed then.
//
//===----------------------------------------------------------------------===//

#include "CudaDriver.h"

#include "qrt/cuda/Device.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

namespace qrt::cuda {

namespace {

using namespace driver;

/// "compute_80" -> 80, "sm_90" -> 90; -1 if neither.
int archNumber(const std::string &arch) {
  size_t underscore = arch.find('_');
  if (underscore == std::string::npos || underscore + 1 >= arch.size())
    return -1;
  int value = 0;
  for (size_t i = underscore + 1; i < arch.size(); ++i) {
    if (arch[i] < '0' || arch[i] > '9')
      return -1;
    value = value * 10 + (arch[i] - '0');
  }
  return value;
}

class DriverDevice final : public Device {
public:
  DriverDevice(const Api &api, DeviceFacts facts)
      : api_(api), facts_(std::move(facts)) {}
  ~DriverDevice() override;

  bool open(std::string &error);

  std::string name() const override { return facts_.name; }
  std::string description() const override { return facts_.description(); }

  bool allocate(uint64_t bytes, uint64_t &address, std::string &error) override;
  void free(uint64_t address) override;
  bool copyToDevice(uint64_t destination, const void *source, uint64_t bytes,
                    std::string &error) override;
  bool copyToHost(void *destination, uint64_t source, uint64_t bytes,
                  std::string &error) override;
  bool copyOnDevice(uint64_t destination, uint64_t source, uint64_t bytes,
                    std::string &error) override;
  bool memset(uint64_t destination, uint8_t value, uint64_t bytes,
              std::string &error) override;
  bool loadModule(const std::vector<ModuleCode> &code,
                  std::string &error) override;
  bool function(const std::string &name, Function &function,
                std::string &error) override;
  bool launch(Function function, uint32_t gridX, uint32_t gridY,
              uint32_t blockX, uint32_t sharedBytes, const KernelParams &params,
              std::string &error) override;
  bool synchronize(std::string &error) override;
  bool supportsGraphs() const override { return hasGraphs(api_); }
  void *stream() const override { return stream_; }
  bool beginCapture(std::string &error) override;
  bool endCapture(Graph &graph, std::string &error) override;
  bool launchGraph(Graph graph, std::string &error) override;
  void destroyGraph(Graph graph) override;
  void setProfiling(bool on) override { profiling_ = on; }
  std::vector<KernelProfile> profile() const override;

private:
  bool check(CUresult result, const std::string &call, std::string &error) {
    if (result == CUDA_SUCCESS)
      return true;
    error = errorText(api_, call, result);
    return false;
  }
  bool current(std::string &error) {
    return check(api_.cuCtxSetCurrent(context_), "cuCtxSetCurrent", error);
  }
  bool readProfile(std::string &error);
  void unloadModule();

  const Api &api_;
  DeviceFacts facts_;
  bool retained_ = false;
  CUcontext context_ = nullptr;
  CUstream stream_ = nullptr;
  CUmodule module_ = nullptr;
  std::set<CUdeviceptr> allocations_;
  /// Per kernel of the module: its name and the dynamic shared memory it
  /// was allowed (cuFuncSetAttribute above 48 KiB).
  struct Kernel {
    std::string name;
    uint32_t sharedLimit = 48 * 1024;
  };
  std::map<CUfunction, Kernel> kernels_;
  bool capturing_ = false;
  std::set<CUgraphExec> graphs_;

  // Profiling: an event pair per launch since the last synchronize.
  bool profiling_ = false;
  std::vector<CUevent> events_;
  std::vector<std::string> timed_; // launch i: events 2i, 2i + 1
  std::map<std::string, KernelProfile> profile_;
};

DriverDevice::~DriverDevice() {
  if (!retained_)
    return;
  std::string ignored;
  if (current(ignored)) {
    if (stream_)
      api_.cuStreamSynchronize(stream_);
    for (CUdeviceptr address : allocations_)
      api_.cuMemFree(address);
    for (CUevent event : events_)
      api_.cuEventDestroy(event);
    if (capturing_) {
      CUgraph graph = nullptr;
      if (api_.cuStreamEndCapture(stream_, &graph) == CUDA_SUCCESS && graph)
        api_.cuGraphDestroy(graph);
    }
    for (CUgraphExec exec : graphs_)
      api_.cuGraphExecDestroy(exec);
    unloadModule();
    if (stream_)
      api_.cuStreamDestroy(stream_);
  }
  api_.cuDevicePrimaryCtxRelease(facts_.device);
}

bool DriverDevice::open(std::string &error) {
  if (!check(api_.cuDevicePrimaryCtxRetain(&context_, facts_.device),
             "cuDevicePrimaryCtxRetain", error))
    return false;
  retained_ = true;
  return current(error) &&
         check(api_.cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING),
               "cuStreamCreate", error);
}

bool DriverDevice::allocate(uint64_t bytes, uint64_t &address,
                            std::string &error) {
  if (!current(error))
    return false;
  CUdeviceptr pointer = 0;
  // cuMemAlloc aligns to at least 256 bytes.
  if (!check(api_.cuMemAlloc(&pointer, std::max<uint64_t>(bytes, 256)),
             "cuMemAlloc(" + std::to_string(bytes) + " bytes)", error))
    return false;
  allocations_.insert(pointer);
  address = pointer;
  return true;
}

void DriverDevice::free(uint64_t address) {
  auto it = allocations_.find(address);
  if (it == allocations_.end())
    return;
  std::string ignored;
  if (current(ignored))
    api_.cuMemFree(address);
  allocations_.erase(it);
}

bool DriverDevice::copyToDevice(uint64_t destination, const void *source,
                                uint64_t bytes, std::string &error) {
  // From pageable memory the call returns once the bytes are staged: the
  // caller may reuse them.
  return bytes == 0 ||
         (current(error) &&
          check(api_.cuMemcpyHtoDAsync(destination, source, bytes, stream_),
                "cuMemcpyHtoDAsync(" + std::to_string(bytes) + " bytes)",
                error));
}

bool DriverDevice::copyToHost(void *destination, uint64_t source,
                              uint64_t bytes, std::string &error) {
  return bytes == 0 ||
         (current(error) &&
          check(api_.cuMemcpyDtoHAsync(destination, source, bytes, stream_),
                "cuMemcpyDtoHAsync(" + std::to_string(bytes) + " bytes)",
                error) &&
          synchronize(error));
}

bool DriverDevice::copyOnDevice(uint64_t destination, uint64_t source,
                                uint64_t bytes, std::string &error) {
  return bytes == 0 ||
         (current(error) &&
          check(api_.cuMemcpyDtoDAsync(destination, source, bytes, stream_),
                "cuMemcpyDtoDAsync(" + std::to_string(bytes) + " bytes)",
                error));
}

bool DriverDevice::memset(uint64_t destination, uint8_t value, uint64_t bytes,
                          std::string &error) {
  return bytes == 0 ||
         (current(error) &&
          check(api_.cuMemsetD8Async(destination, value, bytes, stream_),
                "cuMemsetD8Async(" + std::to_string(bytes) + " bytes)", error));
}

void DriverDevice::unloadModule() {
  if (module_)
    api_.cuModuleUnload(module_);
  module_ = nullptr;
  kernels_.clear();
}

bool DriverDevice::loadModule(const std::vector<ModuleCode> &code,
                              std::string &error) {
  const std::string arch = facts_.arch();
  const int deviceArch = facts_.major * 10 + facts_.minor;
  const ModuleCode *chosen = nullptr;
  std::string cubins, ptxs;
  for (const ModuleCode &c : code) {
    if (c.format == "cubin") {
      cubins += (cubins.empty() ? "" : ", ") + c.arch;
      if (c.arch == arch)
        chosen = &c;
    } else if (c.format == "ptx") {
      ptxs += (ptxs.empty() ? "" : ", ") + c.arch;
    }
  }
  if (!chosen) {
    // The newest PTX the device can JIT (its virtual architecture at most
    // the device's).
    int best = -1;
    for (const ModuleCode &c : code)
      if (c.format == "ptx") {
        int number = archNumber(c.arch);
        if (number >= 0 && number <= deviceArch && number > best) {
          best = number;
          chosen = &c;
        }
      }
  }
  if (!chosen) {
    error = "the plan has no CUDA code for " + arch +
            " (cubin: " + (cubins.empty() ? "none" : cubins) +
            "; PTX: " + (ptxs.empty() ? "none" : ptxs + ", for later GPUs") +
            ")";
    return false;
  }
  if (!current(error))
    return false;
  unloadModule();
  // The driver reads PTX as a NUL-terminated string and wants an ELF image
  // aligned; the plan's bytes are neither.
  std::string image(reinterpret_cast<const char *>(chosen->code), chosen->size);
  std::vector<char> infoLog(16384, '\0'), errorLog(16384, '\0');
  CUjit_option keys[] = {
      CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
      CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {infoLog.data(),
                    reinterpret_cast<void *>(uintptr_t(infoLog.size() - 1)),
                    errorLog.data(),
                    reinterpret_cast<void *>(uintptr_t(errorLog.size() - 1))};
  CUresult result =
      api_.cuModuleLoadDataEx(&module_, image.c_str(), 4, keys, values);
  if (result != CUDA_SUCCESS) {
    module_ = nullptr;
    error = errorText(
        api_, "cuModuleLoadDataEx(" + chosen->format + " " + chosen->arch + ")",
        result);
    if (errorLog[0])
      error += ": " + std::string(errorLog.data());
    return false;
  }
  return true;
}

bool DriverDevice::function(const std::string &name, Function &function,
                            std::string &error) {
  if (!module_) {
    error = "no CUDA module is loaded";
    return false;
  }
  if (!current(error))
    return false;
  CUfunction f = nullptr;
  if (!check(api_.cuModuleGetFunction(&f, module_, name.c_str()),
             "cuModuleGetFunction(" + name + ")", error))
    return false;
  kernels_[f].name = name;
  function = reinterpret_cast<Function>(f);
  return true;
}

bool DriverDevice::launch(Function function, uint32_t gridX, uint32_t gridY,
                          uint32_t blockX, uint32_t sharedBytes,
                          const KernelParams &params, std::string &error) {
  CUfunction f = reinterpret_cast<CUfunction>(function);
  auto kernel = kernels_.find(f);
  if (kernel == kernels_.end()) {
    error = "launch of a function the module does not have";
    return false;
  }
  if (sharedBytes > kernel->second.sharedLimit) {
    if (!check(api_.cuFuncSetAttribute(
                   f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                   static_cast<int>(sharedBytes)),
               "cuFuncSetAttribute(" + kernel->second.name +
                   ", max dynamic shared " + std::to_string(sharedBytes) +
                   " bytes)",
               error))
      return false;
    kernel->second.sharedLimit = sharedBytes;
  }
  if (profiling_) {
    size_t needed = 2 * timed_.size() + 2;
    while (events_.size() < needed) {
      CUevent event = nullptr;
      if (!check(api_.cuEventCreate(&event, CU_EVENT_DEFAULT), "cuEventCreate",
                 error))
        return false;
      events_.push_back(event);
    }
    if (!check(api_.cuEventRecord(events_[needed - 2], stream_),
               "cuEventRecord", error))
      return false;
  }
  // The driver copies the parameter at the call.
  void *arguments[] = {const_cast<KernelParams *>(&params)};
  if (!check(api_.cuLaunchKernel(f, gridX, gridY, 1, blockX, 1, 1, sharedBytes,
                                 stream_, arguments, nullptr),
             "cuLaunchKernel(" + kernel->second.name + ", grid " +
                 std::to_string(gridX) + "x" + std::to_string(gridY) +
                 ", block " + std::to_string(blockX) + ")",
             error))
    return false;
  if (profiling_) {
    if (!check(api_.cuEventRecord(events_[2 * timed_.size() + 1], stream_),
               "cuEventRecord", error))
      return false;
    timed_.push_back(kernel->second.name);
  }
  return true;
}

bool DriverDevice::synchronize(std::string &error) {
  if (!current(error) ||
      !check(api_.cuStreamSynchronize(stream_), "cuStreamSynchronize", error))
    return false;
  return readProfile(error);
}

bool DriverDevice::beginCapture(std::string &error) {
  if (!supportsGraphs()) {
    error = "the CUDA driver has no graph API (cuStreamBeginCapture_v2, "
            "cuGraphInstantiateWithFlags, ...: CUDA 11.4 or later)";
    return false;
  }
  if (profiling_ || capturing_) {
    error = profiling_ ? "no graph capture while profiling (launches are timed "
                         "one by one)"
                       : "a graph capture is already under way";
    return false;
  }
  if (!current(error) ||
      !check(api_.cuStreamBeginCapture(stream_,
                                       CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
             "cuStreamBeginCapture", error))
    return false;
  capturing_ = true;
  return true;
}

bool DriverDevice::endCapture(Graph &graph, std::string &error) {
  graph = nullptr;
  if (!capturing_) {
    error = "no graph capture is under way";
    return false;
  }
  capturing_ = false;
  // (No cuCtxSetCurrent first: the capture must end whatever happens.)
  CUgraph captured = nullptr;
  CUresult result = api_.cuStreamEndCapture(stream_, &captured);
  if (result != CUDA_SUCCESS) {
    // An invalidated capture may still hand back a graph to free.
    if (captured)
      api_.cuGraphDestroy(captured);
    error = errorText(api_, "cuStreamEndCapture", result);
    return false;
  }
  CUgraphExec exec = nullptr;
  result = api_.cuGraphInstantiate(&exec, captured, 0);
  // The executable graph is independent of the graph it came from.
  api_.cuGraphDestroy(captured);
  if (!check(result, "cuGraphInstantiateWithFlags", error))
    return false;
  graphs_.insert(exec);
  graph = reinterpret_cast<Graph>(exec);
  return true;
}

bool DriverDevice::launchGraph(Graph graph, std::string &error) {
  CUgraphExec exec = reinterpret_cast<CUgraphExec>(graph);
  if (!graphs_.count(exec)) {
    error = "launch of a graph the device does not have";
    return false;
  }
  return current(error) &&
         check(api_.cuGraphLaunch(exec, stream_), "cuGraphLaunch", error);
}

void DriverDevice::destroyGraph(Graph graph) {
  auto it = graphs_.find(reinterpret_cast<CUgraphExec>(graph));
  if (it == graphs_.end())
    return;
  std::string ignored;
  if (current(ignored))
    api_.cuGraphExecDestroy(*it);
  graphs_.erase(it);
}

bool DriverDevice::readProfile(std::string &error) {
  for (size_t i = 0; i < timed_.size(); ++i) {
    float milliseconds = 0;
    if (!check(api_.cuEventElapsedTime(&milliseconds, events_[2 * i],
                                       events_[2 * i + 1]),
               "cuEventElapsedTime", error)) {
      timed_.clear();
      return false;
    }
    const std::string &name = timed_[i];
    KernelProfile &p = profile_[name];
    p.function = name;
    ++p.calls;
    p.microseconds += 1000.0 * milliseconds;
  }
  timed_.clear();
  return true;
}

std::vector<KernelProfile> DriverDevice::profile() const {
  return sortedProfile(profile_);
}

} // namespace

std::unique_ptr<Device> openCudaDevice(std::string &error, int ordinal) {
  const Driver &d = driver::driver();
  if (!d.api) {
    error = d.error;
    return nullptr;
  }
  DeviceFacts facts;
  if (!deviceFacts(*d.api, ordinal, facts, error))
    return nullptr;
  auto device = std::make_unique<DriverDevice>(*d.api, std::move(facts));
  if (!device->open(error))
    return nullptr;
  return device;
}

} // namespace qrt::cuda
