//===- CudaEmulator.h - the CUDA execution model on the CPU -----*- C++ -*-===//
//
// A cuda::Device for tests on machines without a GPU. Device memory is host
// memory (an address is a host pointer as uint64_t; copies are checked to
// lie in one allocation). loadModule takes the plan's "cuda-source" code,
// compiles it with the host C++ compiler as
//   CXX -std=c++17 -O1 -shared -fPIC -DQRT_CUDA_EMULATION
//       -include emulate_cuda.h
// (emulate_cuda.h maps the CUDA subset the code generator uses to host
// C++), and dlopens it. A launch runs the blocks of the grid one after
// another; inside a block every CUDA thread is a fiber (ucontext) with its
// own stack, scheduled cooperatively: each runs until it finishes or
// reaches a barrier (__syncthreads, a warp shuffle or vote, __syncwarp),
// and a barrier lets its threads go once all it names arrived, so the
// kernel sees a GPU's ordering guarantees and no more. A barrier that can
// never complete (threads that exited, or wait at another barrier) makes the
// launch fail with what each thread waits for, instead of hanging. So do
// a shuffle that reads a lane that is not taking part, and
// __syncthreads() in a block whose other threads exited (undefined on a GPU).
//
// Graphs: between beginCapture and endCapture a launch is checked and
// recorded (its parameters copied), not run; a copy, memset, synchronize or
// module load then fails and invalidates the capture, as in CUDA stream
// capture (endCapture then fails). launchGraph runs the recorded launches
// in order; the counters say how many captures, graph launches and live
// graphs there are.
//
// Not emulated: dynamic shared memory (a launch with shared bytes fails),
// concurrency between blocks, memory outside host allocations. Launches
// run synchronously; not thread-safe (one launch at a time per process).
//
//===----------------------------------------------------------------------===//

#ifndef QRT_TEST_UNIT_CUDA_CUDAEMULATOR_H
#define QRT_TEST_UNIT_CUDA_CUDAEMULATOR_H

#include "qrt/cuda/Device.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qrt::cuda::emulator {

struct EmulatorOptions {
  /// The host C++ compiler and emulate_cuda.h (defaults: from CMake).
  std::string compiler;
  std::string header;
  /// Optimization of the compiled module.
  std::string optimization = "-O1";
  /// Bytes of stack per CUDA thread.
  size_t stackBytes = 64 * 1024;
  /// Whether the device supports graphs (false: as a driver without them).
  bool graphs = true;
};

class Scheduler;

class EmulatorDevice final : public Device {
public:
  explicit EmulatorDevice(EmulatorOptions options = {});
  ~EmulatorDevice() override;

  std::string name() const override { return "CUDA emulator"; }
  std::string description() const override {
    return "CUDA emulator (host C++, one fiber per CUDA thread)";
  }
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
  /// Compiles the "cuda-source" code (cubin and PTX are ignored).
  bool loadModule(const std::vector<ModuleCode> &code,
                  std::string &error) override;
  bool function(const std::string &name, Function &function,
                std::string &error) override;
  bool launch(Function function, uint32_t gridX, uint32_t gridY,
              uint32_t blockX, uint32_t sharedBytes, const KernelParams &params,
              std::string &error) override;
  bool synchronize(std::string &error) override;
  bool supportsGraphs() const override { return options_.graphs; }
  bool beginCapture(std::string &error) override;
  bool endCapture(Graph &graph, std::string &error) override;
  bool launchGraph(Graph graph, std::string &error) override;
  void destroyGraph(Graph graph) override;
  void setProfiling(bool on) override { profiling_ = on; }
  std::vector<KernelProfile> profile() const override;

  /// loadModule of one piece of CUDA C++ source.
  bool loadSource(const std::string &source, std::string &error);
  /// Allocations not freed yet.
  size_t liveAllocations() const { return allocations_.size(); }
  /// Kernels run (a graph launch counts each of its launches).
  uint64_t launches() const { return launches_; }
  /// Graphs captured (endCapture succeeded), graph launches, graphs not
  /// destroyed yet.
  uint64_t graphCaptures() const { return graphCaptures_; }
  uint64_t graphLaunches() const { return graphLaunches_; }
  size_t liveGraphs() const { return graphs_.size(); }

private:
  /// The allocation holding [address, address + bytes), or null.
  bool contains(uint64_t address, uint64_t bytes) const;
  bool checkRange(const char *what, uint64_t address, uint64_t bytes,
                  std::string &error) const;
  /// False and `error` (and the capture invalidated) while capturing.
  bool notCapturing(const char *what, std::string &error);
  /// Checks a launch; "kernel NAME (grid ..., block ...)" in `what`.
  bool checkLaunch(Function function, uint32_t gridX, uint32_t gridY,
                   uint32_t blockX, uint32_t sharedBytes, std::string &what,
                   std::string &error) const;
  bool run(Function function, uint32_t gridX, uint32_t gridY, uint32_t blockX,
           const KernelParams &params, const std::string &what,
           std::string &error);

  EmulatorOptions options_;
  std::map<uint64_t, uint64_t> allocations_; // address -> bytes
  void *module_ = nullptr;                   // dlopen handle (cached)
  void *bind_ = nullptr;                     // its qrt_emu_bind
  struct Kernel;
  std::map<std::string, std::unique_ptr<Kernel>> kernels_;
  std::unique_ptr<Scheduler> scheduler_;
  bool profiling_ = false;
  std::map<std::string, KernelProfile> profile_;
  uint64_t launches_ = 0;

  struct Recorded;
  struct Recording;
  std::unique_ptr<Recording> capture_; // while capturing
  std::map<Graph, std::unique_ptr<Recording>> graphs_;
  uint64_t graphCaptures_ = 0, graphLaunches_ = 0;
};

/// A Device that forwards every call to `device`, which it does not own
/// (so a test can check the device after the session that took the
/// forwarder is gone, e.g. that it freed everything).
std::unique_ptr<Device> borrow(Device &device);

} // namespace qrt::cuda::emulator

#endif // QRT_TEST_UNIT_CUDA_CUDAEMULATOR_H
