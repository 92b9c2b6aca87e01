//===- CudaDriver.h - the CUDA driver API, loaded at run time ---*- C++ -*-===//
//
// The few driver-API types and functions the CUDA backend uses, declared
// here (no CUDA headers, no link-time CUDA) and resolved with dlopen/dlsym
// from libcuda.so.1 (then libcuda.so), or from the library the environment
// variable QRT_CUDA_DRIVER names. The `_v2` entry points are used where the
// driver exports them under that name (cuda.h maps the plain names to them).
// The library is loaded and cuInit'ed once per process and never unloaded
// (the driver keeps threads of its own). The graph API (stream capture,
// CUDA 11.4+ drivers) is optional: without it, sessions launch kernels one
// by one.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_SRC_CUDA_CUDADRIVER_H
#define QRT_SRC_CUDA_CUDADRIVER_H

#include <cstddef>
#include <string>

namespace qrt::cuda::driver {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
using CUgraph = struct CUgraph_st *;
using CUgraphExec = struct CUgraphExec_st *;
using CUstreamCaptureMode = int;
using CUjit_option = int;
using CUdevice_attribute = int;
using CUfunction_attribute = int;

inline constexpr CUresult CUDA_SUCCESS = 0;
inline constexpr CUresult CUDA_ERROR_NOT_READY = 600;
inline constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;

inline constexpr CUdevice_attribute CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK =
    1;
inline constexpr CUdevice_attribute CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT =
    16;
inline constexpr CUdevice_attribute
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
inline constexpr CUdevice_attribute
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
inline constexpr CUdevice_attribute
    CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
inline constexpr CUfunction_attribute
    CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
inline constexpr CUjit_option CU_JIT_INFO_LOG_BUFFER = 3;
inline constexpr CUjit_option CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4;
inline constexpr CUjit_option CU_JIT_ERROR_LOG_BUFFER = 5;
inline constexpr CUjit_option CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
inline constexpr unsigned CU_STREAM_NON_BLOCKING = 1;
inline constexpr unsigned CU_EVENT_DEFAULT = 0;
inline constexpr CUstreamCaptureMode CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;

/// The resolved entry points. Each member is named after the API function
/// (the plain name; `symbol` in CudaDriver.cpp says which export it is).
struct Api {
  CUresult (*cuInit)(unsigned flags);
  CUresult (*cuDriverGetVersion)(int *version);
  CUresult (*cuGetErrorName)(CUresult error, const char **name);
  CUresult (*cuGetErrorString)(CUresult error, const char **text);
  CUresult (*cuDeviceGetCount)(int *count);
  CUresult (*cuDeviceGet)(CUdevice *device, int ordinal);
  CUresult (*cuDeviceGetName)(char *name, int length, CUdevice device);
  CUresult (*cuDeviceGetAttribute)(int *value, CUdevice_attribute attribute,
                                   CUdevice device);
  CUresult (*cuDeviceTotalMem)(size_t *bytes, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *context, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice device);
  CUresult (*cuCtxSetCurrent)(CUcontext context);
  CUresult (*cuMemAlloc)(CUdeviceptr *address, size_t bytes);
  CUresult (*cuMemFree)(CUdeviceptr address);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr destination, const void *source,
                                size_t bytes, CUstream stream);
  CUresult (*cuMemcpyDtoHAsync)(void *destination, CUdeviceptr source,
                                size_t bytes, CUstream stream);
  CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr destination, CUdeviceptr source,
                                size_t bytes, CUstream stream);
  CUresult (*cuMemsetD8Async)(CUdeviceptr destination, unsigned char value,
                              size_t count, CUstream stream);
  CUresult (*cuModuleLoadDataEx)(CUmodule *module, const void *image,
                                 unsigned options, CUjit_option *keys,
                                 void **values);
  CUresult (*cuModuleUnload)(CUmodule module);
  CUresult (*cuModuleGetFunction)(CUfunction *function, CUmodule module,
                                  const char *name);
  CUresult (*cuFuncSetAttribute)(CUfunction function,
                                 CUfunction_attribute attribute, int value);
  CUresult (*cuLaunchKernel)(CUfunction function, unsigned gridX,
                             unsigned gridY, unsigned gridZ, unsigned blockX,
                             unsigned blockY, unsigned blockZ,
                             unsigned sharedBytes, CUstream stream,
                             void **params, void **extra);
  CUresult (*cuStreamCreate)(CUstream *stream, unsigned flags);
  CUresult (*cuStreamDestroy)(CUstream stream);
  CUresult (*cuStreamSynchronize)(CUstream stream);
  CUresult (*cuEventCreate)(CUevent *event, unsigned flags);
  CUresult (*cuEventDestroy)(CUevent event);
  CUresult (*cuEventRecord)(CUevent event, CUstream stream);
  CUresult (*cuEventElapsedTime)(float *milliseconds, CUevent start,
                                 CUevent end);
  // The graph API: optional (null when the driver lacks it; see hasGraphs).
  CUresult (*cuStreamBeginCapture)(CUstream stream, CUstreamCaptureMode mode);
  CUresult (*cuStreamEndCapture)(CUstream stream, CUgraph *graph);
  CUresult (*cuGraphInstantiate)(CUgraphExec *exec, CUgraph graph,
                                 unsigned long long flags);
  CUresult (*cuGraphLaunch)(CUgraphExec exec, CUstream stream);
  CUresult (*cuGraphExecDestroy)(CUgraphExec exec);
  CUresult (*cuGraphDestroy)(CUgraph graph);
};

/// Whether `api` has every entry point of the graph API.
bool hasGraphs(const Api &api);

/// The export Api's member `api` is resolved from first (e.g. "cuMemAlloc"
/// -> "cuMemAlloc_v2"); null for another name. For tests against cuda.h.
const char *exportName(const std::string &api);

/// The process's driver: the loaded API, or why there is none ("no CUDA
/// driver (libcuda.so.1 not found)", "no CUDA driver (LIB lacks cuInit)",
/// "cuInit: CUDA_ERROR_... (...)").
struct Driver {
  const Api *api = nullptr;
  std::string error;
  /// The library loaded (its name as given to dlopen).
  std::string library;
};
const Driver &driver();

/// "CALL: NAME (TEXT)" for a failed call, e.g. "cuMemAlloc(1073741824
/// bytes): CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
std::string errorText(const Api &api, const std::string &call, CUresult result);

/// Device 0 (ordinal 0) in words.
struct DeviceFacts {
  CUdevice device = 0;
  std::string name;
  int major = 0, minor = 0, multiprocessors = 0, maxThreadsPerBlock = 0;
  size_t memory = 0;
  int driverVersion = 0;
  std::string arch() const {
    return "sm_" + std::to_string(major) + std::to_string(minor);
  }
  /// "NAME, sm_XY, 79.1 GiB, 132 SMs, driver 12.4".
  std::string description() const;
};
/// Facts of device `ordinal`; false and `error` ("no CUDA device" when there
/// is none).
bool deviceFacts(const Api &api, int ordinal, DeviceFacts &facts,
                 std::string &error);

} // namespace qrt::cuda::driver

#endif // QRT_SRC_CUDA_CUDADRIVER_H
