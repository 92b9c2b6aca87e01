//===- CudaDriver.cpp - the CUDA driver API, loaded at run time -----------===//

#include "CudaDriver.h"

#include "qrt/cuda/Device.h"

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <vector>

namespace qrt::cuda::driver {

namespace {

/// Where each entry point of Api comes from: the export cuda.h maps the API
/// name to (the versioned one where there is one), and an older name to fall
/// back on where a driver may lack it. A driver without an optional entry
/// point still loads (the member stays null).
struct Symbol {
  const char *api, *name, *fallback;
  size_t offset; // of the member in Api
  bool optional;
};

#define QRT_SYMBOL(member, name, fallback)                                     \
  Symbol { #member, name, fallback, offsetof(Api, member), false }
#define QRT_OPTIONAL(member, name)                                             \
  Symbol { #member, name, nullptr, offsetof(Api, member), true }

const Symbol kSymbols[] = {
    QRT_SYMBOL(cuInit, "cuInit", nullptr),
    QRT_SYMBOL(cuDriverGetVersion, "cuDriverGetVersion", nullptr),
    QRT_SYMBOL(cuGetErrorName, "cuGetErrorName", nullptr),
    QRT_SYMBOL(cuGetErrorString, "cuGetErrorString", nullptr),
    QRT_SYMBOL(cuDeviceGetCount, "cuDeviceGetCount", nullptr),
    QRT_SYMBOL(cuDeviceGet, "cuDeviceGet", nullptr),
    QRT_SYMBOL(cuDeviceGetName, "cuDeviceGetName", nullptr),
    QRT_SYMBOL(cuDeviceGetAttribute, "cuDeviceGetAttribute", nullptr),
    QRT_SYMBOL(cuDeviceTotalMem, "cuDeviceTotalMem_v2", nullptr),
    QRT_SYMBOL(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", nullptr),
    QRT_SYMBOL(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2",
               "cuDevicePrimaryCtxRelease"),
    QRT_SYMBOL(cuCtxSetCurrent, "cuCtxSetCurrent", nullptr),
    QRT_SYMBOL(cuMemAlloc, "cuMemAlloc_v2", nullptr),
    QRT_SYMBOL(cuMemFree, "cuMemFree_v2", nullptr),
    QRT_SYMBOL(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", nullptr),
    QRT_SYMBOL(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", nullptr),
    QRT_SYMBOL(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2", nullptr),
    QRT_SYMBOL(cuMemsetD8Async, "cuMemsetD8Async", nullptr),
    QRT_SYMBOL(cuModuleLoadDataEx, "cuModuleLoadDataEx", nullptr),
    QRT_SYMBOL(cuModuleUnload, "cuModuleUnload", nullptr),
    QRT_SYMBOL(cuModuleGetFunction, "cuModuleGetFunction", nullptr),
    QRT_SYMBOL(cuFuncSetAttribute, "cuFuncSetAttribute", nullptr),
    QRT_SYMBOL(cuLaunchKernel, "cuLaunchKernel", nullptr),
    QRT_SYMBOL(cuStreamCreate, "cuStreamCreate", nullptr),
    QRT_SYMBOL(cuStreamDestroy, "cuStreamDestroy_v2", nullptr),
    QRT_SYMBOL(cuStreamSynchronize, "cuStreamSynchronize", nullptr),
    QRT_SYMBOL(cuEventCreate, "cuEventCreate", nullptr),
    QRT_SYMBOL(cuEventDestroy, "cuEventDestroy_v2", nullptr),
    QRT_SYMBOL(cuEventRecord, "cuEventRecord", nullptr),
    // cuda.h 12.8+ maps the name to _v2; older drivers only have the
    // original (same signature).
    QRT_SYMBOL(cuEventElapsedTime, "cuEventElapsedTime_v2",
               "cuEventElapsedTime"),
    // The graph API. cuda.h maps cuGraphInstantiate to
    // cuGraphInstantiateWithFlags (CUDA 11.4+); the unversioned
    // cuStreamBeginCapture of CUDA 10.0 took no mode.
    QRT_OPTIONAL(cuStreamBeginCapture, "cuStreamBeginCapture_v2"),
    QRT_OPTIONAL(cuStreamEndCapture, "cuStreamEndCapture"),
    QRT_OPTIONAL(cuGraphInstantiate, "cuGraphInstantiateWithFlags"),
    QRT_OPTIONAL(cuGraphLaunch, "cuGraphLaunch"),
    QRT_OPTIONAL(cuGraphExecDestroy, "cuGraphExecDestroy"),
    QRT_OPTIONAL(cuGraphDestroy, "cuGraphDestroy"),
};
#undef QRT_SYMBOL
#undef QRT_OPTIONAL
static_assert(sizeof(kSymbols) / sizeof(kSymbols[0]) ==
                  sizeof(Api) / sizeof(void (*)()),
              "every member of Api has a symbol");

Driver load() {
  Driver d;
  std::vector<std::string> candidates;
  const char *named = std::getenv("QRT_CUDA_DRIVER");
  if (named && *named)
    candidates = {named};
  else
    candidates = {"libcuda.so.1", "libcuda.so"};
  void *library = nullptr;
  std::string firstError;
  for (const std::string &candidate : candidates) {
    library = ::dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library) {
      d.library = candidate;
      break;
    }
    const char *why = ::dlerror();
    if (firstError.empty())
      firstError = why ? why : "";
  }
  if (!library) {
    // dlerror: "NAME: cannot open shared object file: No such file or
    // directory" when absent; anything else (a broken library) in full.
    if (firstError.find("No such file") != std::string::npos)
      d.error = "no CUDA driver (" + candidates[0] + " not found)";
    else
      d.error = "no CUDA driver (" + firstError + ")";
    return d;
  }

  static Api api;
  std::string missing;
  size_t count = 0;
  for (const Symbol &symbol : kSymbols) {
    void *address = ::dlsym(library, symbol.name);
    if (!address && symbol.fallback)
      address = ::dlsym(library, symbol.fallback);
    if (!address && symbol.optional)
      continue;
    if (!address) {
      if (++count <= 3)
        missing += (missing.empty() ? "" : ", ") + std::string(symbol.name);
      continue;
    }
    // Api is a struct of function pointers, each the size of a void *.
    std::memcpy(reinterpret_cast<char *>(&api) + symbol.offset, &address,
                sizeof(void *));
  }
  if (count > 3)
    missing += " and " + std::to_string(count - 3) + " more entry points";
  if (count) {
    // Not a CUDA driver (or one too old): leave it loaded, it is harmless.
    d.error = "no CUDA driver (" + d.library + " lacks " + missing + ")";
    return d;
  }
  CUresult result = api.cuInit(0);
  if (result != CUDA_SUCCESS) {
    d.error =
        result == CUDA_ERROR_NO_DEVICE
            ? std::string("no CUDA device")
            : "no usable CUDA driver: " + errorText(api, "cuInit", result);
    return d;
  }
  d.api = &api;
  return d;
}

} // namespace

const char *exportName(const std::string &api) {
  for (const Symbol &symbol : kSymbols)
    if (api == symbol.api)
      return symbol.name;
  return nullptr;
}

bool hasGraphs(const Api &api) {
  return api.cuStreamBeginCapture && api.cuStreamEndCapture &&
         api.cuGraphInstantiate && api.cuGraphLaunch &&
         api.cuGraphExecDestroy && api.cuGraphDestroy;
}

const Driver &driver() {
  static const Driver d = load();
  return d;
}

std::string errorText(const Api &api, const std::string &call,
                      CUresult result) {
  const char *name = nullptr, *text = nullptr;
  if (api.cuGetErrorName)
    api.cuGetErrorName(result, &name);
  if (api.cuGetErrorString)
    api.cuGetErrorString(result, &text);
  std::string out = call + ": ";
  out += name ? name : "CUDA error " + std::to_string(result);
  if (text)
    out += std::string(" (") + text + ")";
  return out;
}

std::string DeviceFacts::description() const {
  char memoryText[32];
  std::snprintf(memoryText, sizeof(memoryText), "%.1f GiB",
                double(memory) / double(1ull << 30));
  std::string out = name + ", " + arch() + ", " + memoryText + ", " +
                    std::to_string(multiprocessors) + " SMs";
  if (driverVersion)
    out += ", driver " + std::to_string(driverVersion / 1000) + "." +
           std::to_string(driverVersion % 1000 / 10);
  return out;
}

bool deviceFacts(const Api &api, int ordinal, DeviceFacts &facts,
                 std::string &error) {
  auto check = [&](CUresult result, const std::string &call) {
    if (result == CUDA_SUCCESS)
      return true;
    error = errorText(api, call, result);
    return false;
  };
  int count = 0;
  if (!check(api.cuDeviceGetCount(&count), "cuDeviceGetCount"))
    return false;
  if (count <= ordinal) {
    error = count == 0 ? "no CUDA device"
                       : "no CUDA device " + std::to_string(ordinal) + " (" +
                             std::to_string(count) + " present)";
    return false;
  }
  if (!check(api.cuDeviceGet(&facts.device, ordinal), "cuDeviceGet"))
    return false;
  char name[256] = {};
  if (!check(api.cuDeviceGetName(name, sizeof(name) - 1, facts.device),
             "cuDeviceGetName"))
    return false;
  facts.name = name;
  auto attribute = [&](CUdevice_attribute a, int &value, const char *what) {
    return check(api.cuDeviceGetAttribute(&value, a, facts.device),
                 std::string("cuDeviceGetAttribute(") + what + ")");
  };
  if (!attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, facts.major,
                 "compute capability major") ||
      !attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, facts.minor,
                 "compute capability minor") ||
      !attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
                 facts.multiprocessors, "multiprocessors") ||
      !attribute(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
                 facts.maxThreadsPerBlock, "max threads per block"))
    return false;
  if (!check(api.cuDeviceTotalMem(&facts.memory, facts.device),
             "cuDeviceTotalMem"))
    return false;
  if (api.cuDriverGetVersion(&facts.driverVersion) != CUDA_SUCCESS)
    facts.driverVersion = 0;
  return true;
}

} // namespace qrt::cuda::driver

namespace qrt::cuda {

CudaProbe probeCuda() {
  CudaProbe probe;
  const driver::Driver &d = driver::driver();
  if (!d.api) {
    probe.error = d.error;
    // cuInit's "no device" means the driver itself is fine.
    probe.driver = d.error == "no CUDA device";
    return probe;
  }
  probe.driver = true;
  driver::DeviceFacts facts;
  if (!driver::deviceFacts(*d.api, 0, facts, probe.error))
    return probe;
  probe.usable = true;
  probe.name = facts.name;
  probe.arch = facts.arch();
  probe.description = facts.description();
  return probe;
}

} // namespace qrt::cuda
