//===- DriverApiTest.cpp - CudaDriver.h against the real cuda.h -----------===//
//
// The runtime declares the driver API itself (runtime/src/cuda/CudaDriver.h)
// so that it builds without CUDA. Where the CUDA toolkit's cuda.h is
// installed, this test (built only then; it links no CUDA) checks those
// declarations against it: every function pointer's parameters and result
// have the ABI of the real prototype, every constant its value, and every
// entry point is resolved from the export cuda.h maps its name to.
//
//===----------------------------------------------------------------------===//

#include "CudaDriver.h"

#include <gtest/gtest.h>

#include <type_traits>

// Every entry point of Api. Their types are taken before cuda.h is
// included: its macros rename the API names (cuMemAlloc -> cuMemAlloc_v2).
#define QRT_ENTRY_POINTS(X)                                                    \
  X(cuInit)                                                                    \
  X(cuDriverGetVersion)                                                        \
  X(cuGetErrorName)                                                            \
  X(cuGetErrorString)                                                          \
  X(cuDeviceGetCount)                                                          \
  X(cuDeviceGet)                                                               \
  X(cuDeviceGetName)                                                           \
  X(cuDeviceGetAttribute)                                                      \
  X(cuDeviceTotalMem)                                                          \
  X(cuDevicePrimaryCtxRetain)                                                  \
  X(cuDevicePrimaryCtxRelease)                                                 \
  X(cuCtxSetCurrent)                                                           \
  X(cuMemAlloc)                                                                \
  X(cuMemFree)                                                                 \
  X(cuMemcpyHtoDAsync)                                                         \
  X(cuMemcpyDtoHAsync)                                                         \
  X(cuMemcpyDtoDAsync)                                                         \
  X(cuMemsetD8Async)                                                           \
  X(cuModuleLoadDataEx)                                                        \
  X(cuModuleUnload)                                                            \
  X(cuModuleGetFunction)                                                       \
  X(cuFuncSetAttribute)                                                        \
  X(cuLaunchKernel)                                                            \
  X(cuStreamCreate)                                                            \
  X(cuStreamDestroy)                                                           \
  X(cuStreamSynchronize)                                                       \
  X(cuEventCreate)                                                             \
  X(cuEventDestroy)                                                            \
  X(cuEventRecord)                                                             \
  X(cuEventElapsedTime)                                                        \
  X(cuStreamBeginCapture)                                                      \
  X(cuStreamEndCapture)                                                        \
  X(cuGraphInstantiate)                                                        \
  X(cuGraphLaunch)                                                             \
  X(cuGraphExecDestroy)                                                        \
  X(cuGraphDestroy)

namespace ours {
#define QRT_TYPE(name) using T_##name = decltype(qrt::cuda::driver::Api::name);
QRT_ENTRY_POINTS(QRT_TYPE)
#undef QRT_TYPE
constexpr const char *kApiNames[] = {
#define QRT_NAME(name) #name,
    QRT_ENTRY_POINTS(QRT_NAME)
#undef QRT_NAME
};
} // namespace ours

#include <cuda.h>

namespace {

namespace d = qrt::cuda::driver;

/// How a value is passed: pointers alike, integers and enums by size.
template <class T> constexpr int abiClass() {
  if constexpr (std::is_pointer_v<T>)
    return 1000;
  else if constexpr (std::is_floating_point_v<T>)
    return 2000 + int(sizeof(T));
  else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>)
    return 3000 + int(sizeof(T));
  else
    return -1;
}

template <class F, class G> struct SameAbi;
template <class R1, class... A1, class R2, class... A2>
struct SameAbi<R1 (*)(A1...), R2 (*)(A2...)> {
  static constexpr bool value =
      sizeof...(A1) == sizeof...(A2) && abiClass<R1>() == abiClass<R2>() &&
      ((abiClass<A1>() == abiClass<A2>() && abiClass<A1>() > 0) && ...);
};

// Against the function cuda.h declares under the API name (its macro picks
// the versioned export).
#define QRT_CHECK(name)                                                        \
  static_assert(SameAbi<ours::T_##name, decltype(&::name)>::value,             \
                #name " differs from cuda.h");
QRT_ENTRY_POINTS(QRT_CHECK)
#undef QRT_CHECK
static_assert(sizeof(ours::kApiNames) / sizeof(ours::kApiNames[0]) ==
                  sizeof(d::Api) / sizeof(void (*)()),
              "every member of Api is checked");

static_assert(sizeof(d::CUdeviceptr) == sizeof(::CUdeviceptr));
static_assert(sizeof(d::CUdevice) == sizeof(::CUdevice));
static_assert(d::CUDA_SUCCESS == ::CUDA_SUCCESS);
static_assert(d::CUDA_ERROR_NO_DEVICE == ::CUDA_ERROR_NO_DEVICE);
static_assert(d::CUDA_ERROR_NOT_READY == ::CUDA_ERROR_NOT_READY);
static_assert(d::CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK ==
              ::CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
static_assert(d::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT ==
              ::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
static_assert(d::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR ==
              ::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
static_assert(d::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR ==
              ::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
static_assert(d::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN ==
              ::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
static_assert(d::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES ==
              ::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
static_assert(d::CU_JIT_INFO_LOG_BUFFER == ::CU_JIT_INFO_LOG_BUFFER);
static_assert(d::CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES ==
              ::CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES);
static_assert(d::CU_JIT_ERROR_LOG_BUFFER == ::CU_JIT_ERROR_LOG_BUFFER);
static_assert(d::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES ==
              ::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES);
static_assert(d::CU_STREAM_NON_BLOCKING == ::CU_STREAM_NON_BLOCKING);
static_assert(d::CU_EVENT_DEFAULT == ::CU_EVENT_DEFAULT);
static_assert(d::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL ==
              ::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
static_assert(sizeof(d::CUstreamCaptureMode) == sizeof(::CUstreamCaptureMode));

#define QRT_STRING2(x) #x
#define QRT_STRING(x) QRT_STRING2(x)

TEST(DriverApiTest, EntryPointsAreTheExportsCudaHeaderNames) {
  // cuda.h's macros expand the API names to the exports (e.g. cuMemAlloc ->
  // cuMemAlloc_v2); the runtime must dlsym those.
  const std::pair<const char *, const char *> names[] = {
#define QRT_PAIR(name) {#name, QRT_STRING(name)},
      QRT_ENTRY_POINTS(QRT_PAIR)
#undef QRT_PAIR
  };
  for (const auto &[api, header] : names) {
    const char *ours = d::exportName(api);
    ASSERT_NE(ours, nullptr) << api;
    EXPECT_STREQ(ours, header) << api;
  }
  EXPECT_EQ(d::exportName("cuNoSuchFunction"), nullptr);
}

} // namespace
