//===- Device.h - what the CUDA backend needs of a GPU ----------*- C++ -*-===//
//
// The CUDA session (qrt/cuda/CudaSession.h) runs a plan's generated kernels
// on a Device: device memory (addresses as uint64_t), copies, a module of
// kernels loaded from the plan's TargetCode, launches of one KernelParams
// each, and a synchronization point. The real device drives libcuda through
// the driver API, loaded with dlopen at run time (openCudaDevice); the
// runtime's tests run the same session on an emulator of the CUDA execution
// model on the CPU (test/unit/cuda). Nothing here includes CUDA headers.
//
// Ordering: copies, memsets, launches and graph launches run in the order
// they are issued (one stream). copyToDevice may return before the copy ran,
// but the host bytes may be reused at once; copyToHost synchronizes (it
// returns once everything issued ran and the bytes are in host memory).
// Launch errors may only show at the next synchronize or copyToHost.
//
// Graphs (optional, supportsGraphs): launches issued between beginCapture
// and endCapture are recorded, not run, into a graph that launchGraph then
// runs as one operation, with the parameters each launch had at capture.
// This is CUDA stream capture: only launches may be issued while capturing.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CUDA_DEVICE_H
#define QRT_CUDA_DEVICE_H

#include "qrt/cuda/KernelAbi.h"
#include "qrt/runtime/Figures.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qrt::cuda {

/// One piece of a plan's CUDA code (a module of its CUDA executable,
/// qrt/cuda/Executable.h): format "cuda-source", "ptx" or "cubin", for
/// `arch` ("compute_80", "sm_90", empty for source). `code` points into the
/// plan.
struct ModuleCode {
  std::string format;
  std::string arch;
  const uint8_t *code = nullptr;
  size_t size = 0;
  /// The kernels it defines.
  std::vector<std::string> kernels;
};

/// An opaque handle of a loaded kernel, valid while its device lives.
struct DeviceFunction;
using Function = DeviceFunction *;

/// An opaque handle of a graph of launches ready to run (a CUDA graph
/// instantiated), valid until destroyGraph or while its device lives.
struct DeviceGraph;
using Graph = DeviceGraph *;

/// The profile entries of a device, most time first.
std::vector<KernelProfile>
sortedProfile(const std::map<std::string, KernelProfile> &byFunction);

class Device {
public:
  virtual ~Device();

  /// A short name ("NVIDIA H100 80GB HBM3", "CUDA emulator").
  virtual std::string name() const = 0;
  /// The name with architecture and memory ("NVIDIA H100 80GB HBM3, sm_90,
  /// 79.1 GiB, 132 SMs").
  virtual std::string description() const = 0;

  /// `bytes` of device memory, aligned to at least 256 bytes. Allocation
  /// failures name the size.
  virtual bool allocate(uint64_t bytes, uint64_t &address,
                        std::string &error) = 0;
  /// Frees an allocation (0 is ignored).
  virtual void free(uint64_t address) = 0;
  virtual bool copyToDevice(uint64_t destination, const void *source,
                            uint64_t bytes, std::string &error) = 0;
  virtual bool copyToHost(void *destination, uint64_t source, uint64_t bytes,
                          std::string &error) = 0;
  virtual bool copyOnDevice(uint64_t destination, uint64_t source,
                            uint64_t bytes, std::string &error) = 0;
  virtual bool memset(uint64_t destination, uint8_t value, uint64_t bytes,
                      std::string &error) = 0;

  /// Loads the module the device runs from the plan's code (the real
  /// device: the cubin of its architecture, else the PTX; the emulator: the
  /// source). Replaces a module loaded before.
  virtual bool loadModule(const std::vector<ModuleCode> &code,
                          std::string &error) = 0;
  /// The kernel `name` of the loaded module.
  virtual bool function(const std::string &name, Function &function,
                        std::string &error) = 0;
  /// Launches `function` on grid (gridX, gridY, 1) of blocks (blockX, 1, 1)
  /// with `sharedBytes` of dynamic shared memory and `params` (copied).
  virtual bool launch(Function function, uint32_t gridX, uint32_t gridY,
                      uint32_t blockX, uint32_t sharedBytes,
                      const KernelParams &params, std::string &error) = 0;
  /// Waits for everything issued; reports an error of any of it.
  virtual bool synchronize(std::string &error) = 0;

  /// Whether the device can capture launches into a graph (the real device:
  /// the driver exports the graph API). The calls below fail without.
  virtual bool supportsGraphs() const { return false; }
  /// Starts capturing: launches are recorded until endCapture, not run.
  /// Nothing but launch() may be issued meanwhile (not with profiling on).
  virtual bool beginCapture(std::string &error);
  /// Ends the capture begun by beginCapture (always call it once a capture
  /// began, also after a failed launch) and makes the recorded launches a
  /// graph; false and `error` (no graph) if the capture failed.
  virtual bool endCapture(Graph &graph, std::string &error);
  /// Runs the graph's launches, in their order, after everything issued
  /// before. Errors may show at the next synchronize, as a launch's.
  virtual bool launchGraph(Graph graph, std::string &error);
  /// Frees a graph (null is ignored).
  virtual void destroyGraph(Graph graph) { (void)graph; }

  /// The native stream everything is issued on (the real device: its
  /// CUstream), for libraries that enqueue work in the same order (NCCL);
  /// null on devices without one.
  virtual void *stream() const { return nullptr; }

  /// Profiling: while on, every launch is timed (the real device: a pair of
  /// events around it, read at synchronize) and summed per function.
  virtual void setProfiling(bool on) { (void)on; }
  /// Per function, most time first (after a synchronize).
  virtual std::vector<KernelProfile> profile() const { return {}; }
};

/// Whether a usable CUDA GPU exists and what it is. Loads the driver
/// (libcuda.so.1, or the library the environment variable QRT_CUDA_DRIVER
/// names) once per process.
struct CudaProbe {
  /// The driver library loaded and initialized.
  bool driver = false;
  /// A device exists (device 0 is the one used).
  bool usable = false;
  /// Of device 0: "NVIDIA H100 80GB HBM3", "sm_90", description() as above.
  std::string name, arch, description;
  /// Why not usable: "no CUDA driver (libcuda.so.1 not found)", "no CUDA
  /// device", or the failing call.
  std::string error;
};
CudaProbe probeCuda();

/// Device `ordinal` (0: the first) through the CUDA driver; nullptr and
/// `error` (as CudaProbe::error) without one.
std::unique_ptr<Device> openCudaDevice(std::string &error, int ordinal = 0);

/// Device-to-device copy bandwidth: `iterations` copies of a `bytes` buffer
/// (after one warm-up copy), timed on the host around a synchronize. GB/s
/// counts the bytes read and written (2 * bytes per copy), 1 GB = 1e9 bytes.
bool measureCopyBandwidth(Device &device, uint64_t bytes, int iterations,
                          double &gbPerSecond, std::string &error);

} // namespace qrt::cuda

#endif // QRT_CUDA_DEVICE_H
