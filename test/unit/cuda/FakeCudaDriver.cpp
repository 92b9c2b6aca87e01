//===- FakeCudaDriver.cpp - a libcuda stand-in over the emulator ----------===//
//
// A shared library exporting the driver-API entry points the runtime
// resolves (runtime/src/cuda/CudaDriver.cpp), implemented over the CUDA
// emulator, so that the real device code (DriverDevice.cpp: context,
// stream, module choice, launches, events, errors) runs without a GPU:
// qrt-cuda-driver-tests points QRT_CUDA_DRIVER at it.
//
// The fake GPU: "Fake CUDA GPU", compute capability QRT_FAKE_CUDA_ARCH
// (e.g. "90"; default 90), 1 GiB, 4 SMs; QRT_FAKE_CUDA_DEVICES devices
// (default 1). A module image is CUDA C++ source, whatever format the
// runtime took it as (the test plans store the source as their "cubin" and
// "ptx"); an image starting with "BROKEN" fails to load with a JIT log. A
// kernel's failure (e.g. a deadlock) is reported at the next stream
// synchronization, as a GPU's asynchronous errors are. Events read the host
// clock. Stream capture: while a stream captures, cuLaunchKernel records the
// launch (its parameters copied at the call, as the driver does) instead of
// running it; a copy, memset or synchronization of the stream fails with
// CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED and invalidates the capture
// (cuStreamEndCapture then fails with CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
// cuGraphInstantiateWithFlags copies a graph's launches into an executable
// graph that cuGraphLaunch runs in order. qrt_fake_cuda_live_allocations()
// says what is not freed, qrt_fake_cuda_graph_counts() what graphs did.
//
//===----------------------------------------------------------------------===//

#include "CudaEmulator.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

using qrt::cuda::Function;
using qrt::cuda::KernelParams;
using qrt::cuda::emulator::EmulatorDevice;

using CUresult = int;
constexpr CUresult kSuccess = 0, kInvalidValue = 1, kOutOfMemory = 2,
                   kNotInitialized = 3, kNoDevice = 100, kInvalidDevice = 101,
                   kInvalidImage = 200, kInvalidContext = 201, kNotFound = 500,
                   kIllegalState = 401, kLaunchFailed = 719,
                   kCaptureUnsupported = 900, kCaptureInvalidated = 901;

/// A launch as cuLaunchKernel got it.
struct Launch {
  Function function = nullptr;
  unsigned gridX = 0, gridY = 0, blockX = 0, sharedBytes = 0;
  KernelParams params;
};
/// A captured graph, and an executable one (the same launches).
struct Graph {
  std::vector<Launch> launches;
};
struct GraphExec {
  std::vector<Launch> launches;
};

/// What the tests read through qrt_fake_cuda_graph_counts.
struct GraphCounts {
  uint64_t captures = 0;       // cuStreamEndCapture that made a graph
  uint64_t instantiations = 0; // cuGraphInstantiateWithFlags
  uint64_t launches = 0;       // cuGraphLaunch
  uint64_t live = 0;           // graphs and executable graphs not destroyed
};

struct Fake {
  bool initialized = false;
  int retained = 0;
  EmulatorDevice device;
  std::map<uint64_t, size_t> allocations;
  /// The first asynchronous error, reported at the next synchronization.
  CUresult pending = kSuccess;
  std::string pendingText;
  bool moduleLoaded = false;
  GraphCounts graphs;
};

Fake &fake() {
  static Fake *f = new Fake(); // never destroyed: the runtime never unloads
  return *f;
}

int envInt(const char *name, int fallback) {
  const char *text = std::getenv(name);
  return text && *text ? std::atoi(text) : fallback;
}

double now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Event {
  double time = 0;
};
struct Stream {
  bool capturing = false;
  /// The first misuse during the capture (kSuccess: none).
  CUresult invalid = kSuccess;
  std::vector<Launch> recorded;
};
struct Module {};

/// kSuccess unless `stream` captures: then the capture is invalidated and
/// the call fails, as the driver's stream-ordered calls that cannot be
/// captured (host copies from pageable memory, synchronization) do.
CUresult notCapturing(void *stream) {
  Stream *s = static_cast<Stream *>(stream);
  if (!s || !s->capturing)
    return kSuccess;
  if (s->invalid == kSuccess)
    s->invalid = kCaptureUnsupported;
  return kCaptureUnsupported;
}

/// Runs a launch on the emulator; a failure becomes the pending error.
void run(const Launch &launch) {
  std::string error;
  if (!fake().device.launch(launch.function, launch.gridX, launch.gridY,
                            launch.blockX, launch.sharedBytes, launch.params,
                            error)) {
    fake().pending = kLaunchFailed;
    fake().pendingText = error;
  }
}

} // namespace

#define QRT_EXPORT extern "C" __attribute__((visibility("default")))

QRT_EXPORT CUresult cuInit(unsigned flags) {
  if (flags != 0)
    return kInvalidValue;
  if (envInt("QRT_FAKE_CUDA_DEVICES", 1) == 0)
    return kNoDevice;
  fake().initialized = true;
  return kSuccess;
}

QRT_EXPORT CUresult cuDriverGetVersion(int *version) {
  *version = 12040;
  return kSuccess;
}

namespace {

/// The name and text of each error the fake returns, as the driver's.
struct ErrorInfo {
  CUresult code;
  const char *name;
  const char *text;
};
const ErrorInfo kErrors[] = {
    {kSuccess, "CUDA_SUCCESS", "no error"},
    {kInvalidValue, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {kOutOfMemory, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {kNoDevice, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {kInvalidImage, "CUDA_ERROR_INVALID_IMAGE",
     "device kernel image is invalid"},
    {kNotFound, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {kLaunchFailed, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {kIllegalState, "CUDA_ERROR_ILLEGAL_STATE",
     "the operation is not permitted in the current state"},
    {kCaptureUnsupported, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED",
     "operation not permitted when stream is capturing"},
    {kCaptureInvalidated, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED",
     "operation failed due to a previous error during capture"},
};

const ErrorInfo *errorInfo(CUresult error) {
  for (const ErrorInfo &info : kErrors)
    if (info.code == error)
      return &info;
  return nullptr;
}

} // namespace

QRT_EXPORT CUresult cuGetErrorName(CUresult error, const char **name) {
  const ErrorInfo *info = errorInfo(error);
  *name = info ? info->name : nullptr;
  return info ? kSuccess : kInvalidValue;
}

QRT_EXPORT CUresult cuGetErrorString(CUresult error, const char **text) {
  const ErrorInfo *info = errorInfo(error);
  *text = info ? info->text : nullptr;
  return info ? kSuccess : kInvalidValue;
}

QRT_EXPORT CUresult cuDeviceGetCount(int *count) {
  if (!fake().initialized)
    return kNotInitialized;
  *count = envInt("QRT_FAKE_CUDA_DEVICES", 1);
  return kSuccess;
}

QRT_EXPORT CUresult cuDeviceGet(int *device, int ordinal) {
  if (ordinal < 0 || ordinal >= envInt("QRT_FAKE_CUDA_DEVICES", 1))
    return kInvalidDevice;
  *device = ordinal;
  return kSuccess;
}

QRT_EXPORT CUresult cuDeviceGetName(char *name, int length, int) {
  std::strncpy(name, "Fake CUDA GPU", size_t(length));
  return kSuccess;
}

QRT_EXPORT CUresult cuDeviceGetAttribute(int *value, int attribute, int) {
  const int arch = envInt("QRT_FAKE_CUDA_ARCH", 90);
  switch (attribute) {
  case 1: // max threads per block
    *value = 1024;
    return kSuccess;
  case 16: // multiprocessors
    *value = 4;
    return kSuccess;
  case 75:
    *value = arch / 10;
    return kSuccess;
  case 76:
    *value = arch % 10;
    return kSuccess;
  case 97:
    *value = 227 * 1024;
    return kSuccess;
  }
  return kInvalidValue;
}

QRT_EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, int) {
  *bytes = size_t(1) << 30;
  return kSuccess;
}

QRT_EXPORT CUresult cuDevicePrimaryCtxRetain(void **context, int) {
  ++fake().retained;
  *context = &fake();
  return kSuccess;
}

QRT_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(int) {
  --fake().retained;
  return kSuccess;
}

QRT_EXPORT CUresult cuCtxSetCurrent(void *context) {
  return context == &fake() ? kSuccess : kInvalidContext;
}

QRT_EXPORT CUresult cuMemAlloc_v2(unsigned long long *address, size_t bytes) {
  if (bytes > (size_t(1) << 30))
    return kOutOfMemory;
  std::string error;
  uint64_t a = 0;
  if (!fake().device.allocate(bytes, a, error))
    return kOutOfMemory;
  fake().allocations[a] = bytes;
  *address = a;
  return kSuccess;
}

QRT_EXPORT CUresult cuMemFree_v2(unsigned long long address) {
  auto it = fake().allocations.find(address);
  if (it == fake().allocations.end())
    return kInvalidValue;
  fake().device.free(address);
  fake().allocations.erase(it);
  return kSuccess;
}

QRT_EXPORT CUresult cuMemcpyHtoDAsync_v2(unsigned long long destination,
                                         const void *source, size_t bytes,
                                         void *stream) {
  if (CUresult r = notCapturing(stream))
    return r;
  std::string error;
  return fake().device.copyToDevice(destination, source, bytes, error)
             ? kSuccess
             : kInvalidValue;
}

QRT_EXPORT CUresult cuMemcpyDtoHAsync_v2(void *destination,
                                         unsigned long long source,
                                         size_t bytes, void *stream) {
  if (CUresult r = notCapturing(stream))
    return r;
  std::string error;
  return fake().device.copyToHost(destination, source, bytes, error)
             ? kSuccess
             : kInvalidValue;
}

QRT_EXPORT CUresult cuMemcpyDtoDAsync_v2(unsigned long long destination,
                                         unsigned long long source,
                                         size_t bytes, void *stream) {
  if (CUresult r = notCapturing(stream))
    return r;
  std::string error;
  return fake().device.copyOnDevice(destination, source, bytes, error)
             ? kSuccess
             : kInvalidValue;
}

QRT_EXPORT CUresult cuMemsetD8Async(unsigned long long destination,
                                    unsigned char value, size_t count,
                                    void *stream) {
  if (CUresult r = notCapturing(stream))
    return r;
  std::string error;
  return fake().device.memset(destination, value, count, error) ? kSuccess
                                                                : kInvalidValue;
}

QRT_EXPORT CUresult cuModuleLoadDataEx(void **module, const void *image,
                                       unsigned options, int *keys,
                                       void **values) {
  const char *text = static_cast<const char *>(image);
  std::string error;
  bool ok = std::strncmp(text, "BROKEN", 6) != 0 &&
            fake().device.loadSource(text, error);
  if (ok) {
    fake().moduleLoaded = true;
    *module = new Module();
    return kSuccess;
  }
  if (error.empty())
    error = "fake JIT: the image is broken";
  // The error log the caller asked for (CU_JIT_ERROR_LOG_BUFFER = 5, its
  // size = 6).
  char *log = nullptr;
  size_t size = 0;
  for (unsigned i = 0; i < options; ++i) {
    if (keys[i] == 5)
      log = static_cast<char *>(values[i]);
    if (keys[i] == 6)
      size = reinterpret_cast<uintptr_t>(values[i]);
  }
  if (log && size) {
    std::strncpy(log, error.c_str(), size - 1);
    log[size - 1] = '\0';
  }
  return kInvalidImage;
}

QRT_EXPORT CUresult cuModuleUnload(void *module) {
  delete static_cast<Module *>(module);
  return kSuccess;
}

QRT_EXPORT CUresult cuModuleGetFunction(void **function, void *,
                                        const char *name) {
  Function f = nullptr;
  std::string error;
  if (!fake().device.function(name, f, error))
    return kNotFound;
  *function = f;
  return kSuccess;
}

QRT_EXPORT CUresult cuFuncSetAttribute(void *, int, int) { return kSuccess; }

QRT_EXPORT CUresult cuLaunchKernel(void *function, unsigned gridX,
                                   unsigned gridY, unsigned gridZ,
                                   unsigned blockX, unsigned blockY,
                                   unsigned blockZ, unsigned sharedBytes,
                                   void *stream, void **params, void **extra) {
  if (gridZ != 1 || blockY != 1 || blockZ != 1 || extra || !params)
    return kInvalidValue;
  if (fake().pending != kSuccess)
    return fake().pending;
  Launch launch;
  launch.function = static_cast<Function>(function);
  launch.gridX = gridX;
  launch.gridY = gridY;
  launch.blockX = blockX;
  launch.sharedBytes = sharedBytes;
  // The driver copies the parameters at the call, captured or not.
  std::memcpy(&launch.params, params[0], sizeof(launch.params));
  Stream *s = static_cast<Stream *>(stream);
  if (s && s->capturing)
    s->recorded.push_back(launch);
  else
    run(launch);
  return kSuccess;
}

QRT_EXPORT CUresult cuStreamCreate(void **stream, unsigned) {
  *stream = new Stream();
  return kSuccess;
}

QRT_EXPORT CUresult cuStreamDestroy_v2(void *stream) {
  delete static_cast<Stream *>(stream);
  return kSuccess;
}

QRT_EXPORT CUresult cuStreamSynchronize(void *stream) {
  if (CUresult r = notCapturing(stream))
    return r;
  // Sticky, as a GPU's launch failures are.
  return fake().pending;
}

QRT_EXPORT CUresult cuStreamBeginCapture_v2(void *stream, int mode) {
  Stream *s = static_cast<Stream *>(stream);
  if (!s || mode < 0 || mode > 2)
    return kInvalidValue;
  if (s->capturing)
    return kIllegalState;
  s->capturing = true;
  s->invalid = kSuccess;
  s->recorded.clear();
  return kSuccess;
}

QRT_EXPORT CUresult cuStreamEndCapture(void *stream, void **graph) {
  Stream *s = static_cast<Stream *>(stream);
  if (!s || !graph)
    return kInvalidValue;
  if (!s->capturing)
    return kIllegalState;
  s->capturing = false;
  std::vector<Launch> recorded = std::move(s->recorded);
  s->recorded.clear();
  *graph = nullptr;
  if (s->invalid != kSuccess)
    return kCaptureInvalidated;
  *graph = new Graph{std::move(recorded)};
  ++fake().graphs.captures;
  ++fake().graphs.live;
  return kSuccess;
}

QRT_EXPORT CUresult cuGraphInstantiateWithFlags(void **exec, void *graph,
                                                unsigned long long flags) {
  if (!exec || !graph || flags != 0)
    return kInvalidValue;
  *exec = new GraphExec{static_cast<Graph *>(graph)->launches};
  ++fake().graphs.instantiations;
  ++fake().graphs.live;
  return kSuccess;
}

QRT_EXPORT CUresult cuGraphLaunch(void *exec, void *stream) {
  if (!exec)
    return kInvalidValue;
  if (CUresult r = notCapturing(stream))
    return r;
  if (fake().pending != kSuccess)
    return fake().pending;
  ++fake().graphs.launches;
  for (const Launch &launch : static_cast<GraphExec *>(exec)->launches) {
    if (fake().pending != kSuccess)
      break; // a failed kernel stops the stream
    run(launch);
  }
  return kSuccess;
}

QRT_EXPORT CUresult cuGraphExecDestroy(void *exec) {
  if (!exec)
    return kInvalidValue;
  delete static_cast<GraphExec *>(exec);
  --fake().graphs.live;
  return kSuccess;
}

QRT_EXPORT CUresult cuGraphDestroy(void *graph) {
  if (!graph)
    return kInvalidValue;
  delete static_cast<Graph *>(graph);
  --fake().graphs.live;
  return kSuccess;
}

QRT_EXPORT CUresult cuEventCreate(void **event, unsigned) {
  *event = new Event();
  return kSuccess;
}

QRT_EXPORT CUresult cuEventDestroy_v2(void *event) {
  delete static_cast<Event *>(event);
  return kSuccess;
}

QRT_EXPORT CUresult cuEventRecord(void *event, void *) {
  static_cast<Event *>(event)->time = now();
  return kSuccess;
}

QRT_EXPORT CUresult cuEventElapsedTime_v2(float *milliseconds, void *start,
                                          void *end) {
  *milliseconds = float(1000.0 * (static_cast<Event *>(end)->time -
                                  static_cast<Event *>(start)->time));
  return kSuccess;
}

// For the tests.
QRT_EXPORT size_t qrt_fake_cuda_live_allocations() {
  return fake().allocations.size();
}
QRT_EXPORT int qrt_fake_cuda_retained_contexts() { return fake().retained; }
QRT_EXPORT const char *qrt_fake_cuda_pending_error() {
  return fake().pendingText.c_str();
}
QRT_EXPORT void qrt_fake_cuda_graph_counts(uint64_t *captures,
                                           uint64_t *instantiations,
                                           uint64_t *launches, uint64_t *live) {
  *captures = fake().graphs.captures;
  *instantiations = fake().graphs.instantiations;
  *launches = fake().graphs.launches;
  *live = fake().graphs.live;
}
QRT_EXPORT void qrt_fake_cuda_reset_error() {
  fake().pending = kSuccess;
  fake().pendingText.clear();
}
