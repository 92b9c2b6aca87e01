//===- Nvrtc.cpp - compiling generated CUDA with NVRTC
//---------------------===//

#include "quant/CodeGen/Nvrtc.h"

#include <cstdlib>
#include <dlfcn.h>
#include <mutex>

using namespace mlir::qllm::cuda;

// The few NVRTC declarations used (nvrtc.h is not needed to build).
using nvrtcResult = int;
using nvrtcProgram = struct NvrtcProgramOpaque *;

struct Nvrtc::Api {
  const char *(*getErrorString)(nvrtcResult);
  nvrtcResult (*version)(int *, int *);
  nvrtcResult (*createProgram)(nvrtcProgram *, const char *, const char *, int,
                               const char *const *, const char *const *);
  nvrtcResult (*destroyProgram)(nvrtcProgram *);
  nvrtcResult (*compileProgram)(nvrtcProgram, int, const char *const *);
  nvrtcResult (*getPTXSize)(nvrtcProgram, size_t *);
  nvrtcResult (*getPTX)(nvrtcProgram, char *);
  nvrtcResult (*getCUBINSize)(nvrtcProgram, size_t *);
  nvrtcResult (*getCUBIN)(nvrtcProgram, char *);
  nvrtcResult (*getProgramLogSize)(nvrtcProgram, size_t *);
  nvrtcResult (*getProgramLog)(nvrtcProgram, char *);
};

namespace {

std::vector<std::string> candidates() {
  std::vector<std::string> paths;
  if (const char *explicitPath = std::getenv("QUANT_NVRTC"))
    return {explicitPath};
  for (const char *variable : {"CUDA_HOME", "CUDA_PATH"})
    if (const char *home = std::getenv(variable))
      paths.push_back(std::string(home) + "/lib64/libnvrtc.so");
  paths.push_back("/usr/local/cuda/lib64/libnvrtc.so");
  for (const char *name :
       {"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"})
    paths.push_back(name);
  return paths;
}

template <typename F> bool resolve(void *library, const char *name, F &f) {
  f = reinterpret_cast<F>(dlsym(library, name));
  return f != nullptr;
}

} // namespace

const Nvrtc *Nvrtc::get(std::string &error) {
  static std::once_flag once;
  static Nvrtc *instance = nullptr;
  static std::string loadError;
  std::call_once(once, [] {
    static Api api;
    std::string tried;
    for (const std::string &path : candidates()) {
      void *library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!library) {
        tried += (tried.empty() ? "" : ", ") + path;
        continue;
      }
      bool ok =
          resolve(library, "nvrtcGetErrorString", api.getErrorString) &&
          resolve(library, "nvrtcVersion", api.version) &&
          resolve(library, "nvrtcCreateProgram", api.createProgram) &&
          resolve(library, "nvrtcDestroyProgram", api.destroyProgram) &&
          resolve(library, "nvrtcCompileProgram", api.compileProgram) &&
          resolve(library, "nvrtcGetPTXSize", api.getPTXSize) &&
          resolve(library, "nvrtcGetPTX", api.getPTX) &&
          resolve(library, "nvrtcGetCUBINSize", api.getCUBINSize) &&
          resolve(library, "nvrtcGetCUBIN", api.getCUBIN) &&
          resolve(library, "nvrtcGetProgramLogSize", api.getProgramLogSize) &&
          resolve(library, "nvrtcGetProgramLog", api.getProgramLog);
      if (!ok) {
        loadError = path + " lacks NVRTC symbols (NVRTC 11.2 or later needed)";
        dlclose(library);
        return;
      }
      instance = new Nvrtc();
      instance->api = &api;
      instance->path = path;
      return;
    }
    loadError = "NVRTC (libnvrtc.so of the CUDA toolkit) not found; tried " +
                tried + " (set QUANT_NVRTC to its path)";
  });
  if (!instance)
    error = loadError;
  return instance;
}

std::string Nvrtc::version() const {
  int major = 0, minor = 0;
  api->version(&major, &minor);
  return std::to_string(major) + "." + std::to_string(minor);
}

bool Nvrtc::compile(const std::string &source, const std::string &arch,
                    CompiledCode &out, std::string &error) const {
  nvrtcProgram program = nullptr;
  auto fail = [&](const char *call, nvrtcResult result) {
    error = std::string(call) + " failed: " + api->getErrorString(result);
    if (program)
      api->destroyProgram(&program);
    return false;
  };
  nvrtcResult result = api->createProgram(
      &program, source.c_str(), "qrt_plan_kernels.cu", 0, nullptr, nullptr);
  if (result != 0)
    return fail("nvrtcCreateProgram", result);
  std::string archOption = "--gpu-architecture=" + arch;
  const char *options[] = {archOption.c_str(), "--std=c++17",
                           "--device-as-default-execution-space"};
  result = api->compileProgram(program, 3, options);
  if (result != 0) {
    size_t logSize = 0;
    api->getProgramLogSize(program, &logSize);
    std::string log(logSize, '\0');
    if (logSize)
      api->getProgramLog(program, log.data());
    while (!log.empty() && (log.back() == '\0' || log.back() == '\n'))
      log.pop_back();
    error = "NVRTC " + version() +
            " could not compile the generated CUDA for " + arch + ":\n" + log;
    api->destroyProgram(&program);
    return false;
  }
  bool ptx = arch.rfind("compute_", 0) == 0;
  size_t size = 0;
  result =
      ptx ? api->getPTXSize(program, &size) : api->getCUBINSize(program, &size);
  if (result != 0)
    return fail(ptx ? "nvrtcGetPTXSize" : "nvrtcGetCUBINSize", result);
  out.code.assign(size, '\0');
  result = ptx ? api->getPTX(program, out.code.data())
               : api->getCUBIN(program, out.code.data());
  if (result != 0)
    return fail(ptx ? "nvrtcGetPTX" : "nvrtcGetCUBIN", result);
  if (ptx) // the PTX text ends with its NUL
    while (!out.code.empty() && out.code.back() == '\0')
      out.code.pop_back();
  out.format = ptx ? "ptx" : "cubin";
  out.arch = arch;
  api->destroyProgram(&program);
  return true;
}
