//===- CudaEmulator.cpp - the CUDA execution model on the CPU -------------===//

#include "CudaEmulator.h"

#include "emulate_cuda.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fstream>
#include <mutex>
#include <sstream>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef QRT_TEST_CXX
#define QRT_TEST_CXX "c++"
#endif
#ifndef QRT_EMULATE_CUDA_HEADER
#define QRT_EMULATE_CUDA_HEADER "emulate_cuda.h"
#endif

namespace qrt::cuda::emulator {

namespace {

using KernelFunction = void (*)(KernelParams);
using BindFunction = int (*)(qrt_emu::State *, int);

const char *warpOpName(int op) {
  switch (op) {
  case qrt_emu::kWarpSync:
    return "__syncwarp";
  case qrt_emu::kShuffleIndex:
    return "__shfl_sync";
  case qrt_emu::kShuffleUp:
    return "__shfl_up_sync";
  case qrt_emu::kShuffleDown:
    return "__shfl_down_sync";
  case qrt_emu::kShuffleXor:
    return "__shfl_xor_sync";
  case qrt_emu::kBallot:
    return "__ballot_sync";
  case qrt_emu::kAny:
    return "__any_sync";
  case qrt_emu::kAll:
    return "__all_sync";
  }
  return "a warp operation";
}

std::string hex(unsigned v) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "0x%08x", v);
  return buffer;
}

/// "3", "0-31", "0-31, 64-95" for sorted indices.
std::string ranges(const std::vector<uint32_t> &indices) {
  std::string out;
  for (size_t i = 0; i < indices.size();) {
    size_t j = i;
    while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1)
      ++j;
    out += (out.empty() ? "" : ", ") + std::to_string(indices[i]);
    if (j > i)
      out += "-" + std::to_string(indices[j]);
    i = j + 1;
  }
  return out;
}

} // namespace

//===----------------------------------------------------------------------===//
// Fiber contexts
//===----------------------------------------------------------------------===//

// A fiber's saved registers. Portable: ucontext (makecontext/swapcontext).
// On x86-64 a switch of our own does the same for the SysV callee-saved
// registers and the FPU/SSE control words, without swapcontext's system call
// per switch (which saves the signal mask, which fibers never change):
// about 10x faster, which matters with one fiber per CUDA thread.
// -DQRT_EMULATOR_UCONTEXT forces ucontext.
#if defined(__x86_64__) && !defined(QRT_EMULATOR_UCONTEXT)
extern "C" void qrt_emu_switch(void **save, void *restore);
asm(R"(
  .pushsection .text
  .globl qrt_emu_switch
  .hidden qrt_emu_switch
  .type qrt_emu_switch, @function
qrt_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size qrt_emu_switch, .-qrt_emu_switch
  .popsection
)");

struct FiberContext {
  void *sp = nullptr;
  /// Starts `entry` (which never returns) on [stack, stack + size) at the
  /// next switch to this context.
  bool make(char *stack, size_t size, void (*entry)()) {
    uintptr_t top =
        (reinterpret_cast<uintptr_t>(stack) + size) & ~uintptr_t(15);
    void **p = reinterpret_cast<void **>(top);
    *--p = nullptr;                         // entry's return address
    *--p = reinterpret_cast<void *>(entry); // where the switch returns
    for (int i = 0; i < 6; ++i)             // rbp, rbx, r12-r15
      *--p = nullptr;
    --p;
    uint32_t control[2] = {0x1F80, 0x037F}; // MXCSR, x87 control word
    std::memcpy(p, control, sizeof(control));
    sp = p;
    return true;
  }
  static void swap(FiberContext &from, FiberContext &to) {
    qrt_emu_switch(&from.sp, to.sp);
  }
};
#else
struct FiberContext {
  ucontext_t context;
  bool make(char *stack, size_t size, void (*entry)()) {
    if (::getcontext(&context) != 0)
      return false;
    context.uc_stack.ss_sp = stack;
    context.uc_stack.ss_size = size;
    context.uc_link = nullptr;
    ::makecontext(&context, entry, 0);
    return true;
  }
  static void swap(FiberContext &from, FiberContext &to) {
    ::swapcontext(&from.context, &to.context);
  }
};
#endif

//===----------------------------------------------------------------------===//
// The scheduler: one block at a time, a fiber per CUDA thread
//===----------------------------------------------------------------------===//

class Scheduler {
public:
  explicit Scheduler(size_t stackBytes) : stackBytes_(stackBytes) {
    state_.scheduler = this;
    state_.syncthreads = [](void *s) {
      static_cast<Scheduler *>(s)->syncthreads();
    };
    state_.warpOp = [](void *s, int op, unsigned mask, uint64_t value,
                       int argument, int width) {
      return static_cast<Scheduler *>(s)->warpOp(op, mask, value, argument,
                                                 width);
    };
  }
  ~Scheduler() {
    for (Fiber &f : fibers_)
      ::munmap(f.mapping, f.mappingBytes);
  }

  qrt_emu::State *state() { return &state_; }

  /// Runs every block of the grid; false and `error` on a deadlock or a
  /// misused warp operation.
  bool run(KernelFunction kernel, const KernelParams &params, uint32_t gridX,
           uint32_t gridY, uint32_t blockX, std::string &error);

private:
  enum class Status { Runnable, AtBarrier, AtWarp, Done };
  struct Fiber {
    FiberContext context;
    void *mapping = nullptr;
    size_t mappingBytes = 0;
    char *stack = nullptr;
    Status status = Status::Done;
    // A pending warp operation, and its result.
    int op = 0;
    unsigned mask = 0;
    uint64_t value = 0, result = 0;
    int argument = 0, width = 32;
  };

  bool ensureFibers(uint32_t count, std::string &error);
  static void entry();
  void suspend(Status status) {
    Fiber &f = fibers_[current_];
    f.status = status;
    FiberContext::swap(f.context, main_);
  }
  void syncthreads() { suspend(Status::AtBarrier); }
  uint64_t warpOp(int op, unsigned mask, uint64_t value, int argument,
                  int width) {
    Fiber &f = fibers_[current_];
    f.op = op;
    f.mask = mask;
    f.value = value;
    f.argument = argument;
    f.width = width;
    suspend(Status::AtWarp);
    return fibers_[current_].result;
  }
  bool runBlock(std::string &error);
  /// Completes every warp operation whose lanes all arrived; false and
  /// `error` for a misuse. Sets `released` when one completed.
  bool releaseWarps(bool &released, std::string &error);
  std::string deadlock() const;

  size_t stackBytes_;
  std::vector<Fiber> fibers_;
  FiberContext main_;
  uint32_t current_ = 0, threads_ = 0;
  qrt_emu::State state_ = {};
  KernelFunction kernel_ = nullptr;
  const KernelParams *params_ = nullptr;
  static thread_local Scheduler *running_;
};

thread_local Scheduler *Scheduler::running_ = nullptr;

bool Scheduler::ensureFibers(uint32_t count, std::string &error) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  while (fibers_.size() < count) {
    Fiber f;
    // A guard page below the stack: an overflow faults instead of
    // overwriting the neighbour's stack.
    f.mappingBytes = (stackBytes_ + page - 1) / page * page + page;
    f.mapping = ::mmap(nullptr, f.mappingBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (f.mapping == MAP_FAILED) {
      error = "cannot map a fiber stack";
      return false;
    }
    ::mprotect(f.mapping, page, PROT_NONE);
    f.stack = static_cast<char *>(f.mapping) + page;
    fibers_.push_back(f);
  }
  return true;
}

void Scheduler::entry() {
  Scheduler *s = running_;
  s->kernel_(*s->params_);
  Fiber &f = s->fibers_[s->current_];
  f.status = Status::Done;
  FiberContext::swap(f.context, s->main_);
  // Never resumed: the fiber is re-made before its next use.
  std::abort();
}

bool Scheduler::run(KernelFunction kernel, const KernelParams &params,
                    uint32_t gridX, uint32_t gridY, uint32_t blockX,
                    std::string &error) {
  if (!ensureFibers(blockX, error))
    return false;
  kernel_ = kernel;
  params_ = &params;
  threads_ = blockX;
  state_.blockDim = {blockX, 1, 1};
  state_.gridDim = {gridX, gridY, 1};
  Scheduler *previous = running_;
  running_ = this;
  bool ok = true;
  for (uint32_t y = 0; ok && y < gridY; ++y)
    for (uint32_t x = 0; ok && x < gridX; ++x) {
      state_.blockIdx = {x, y, 0};
      if (!runBlock(error)) {
        error = "block (" + std::to_string(x) + ", " + std::to_string(y) +
                "): " + error;
        ok = false;
      }
    }
  running_ = previous;
  return ok;
}

bool Scheduler::runBlock(std::string &error) {
  for (uint32_t t = 0; t < threads_; ++t) {
    Fiber &f = fibers_[t];
    if (!f.context.make(f.stack,
                        f.mappingBytes -
                            size_t(f.stack - static_cast<char *>(f.mapping)),
                        &Scheduler::entry)) {
      error = "cannot make a fiber context";
      return false;
    }
    f.status = Status::Runnable;
  }
  for (;;) {
    for (uint32_t t = 0; t < threads_; ++t) {
      if (fibers_[t].status != Status::Runnable)
        continue;
      current_ = t;
      state_.threadIdx = {t, 0, 0};
      FiberContext::swap(main_, fibers_[t].context);
    }
    // Every thread now finished or waits at a barrier.
    uint32_t done = 0, atBarrier = 0;
    for (uint32_t t = 0; t < threads_; ++t) {
      done += fibers_[t].status == Status::Done;
      atBarrier += fibers_[t].status == Status::AtBarrier;
    }
    if (done == threads_)
      return true;
    bool released = false;
    if (!releaseWarps(released, error))
      return false;
    if (released)
      continue;
    if (atBarrier == threads_) {
      for (uint32_t t = 0; t < threads_; ++t)
        fibers_[t].status = Status::Runnable;
      continue;
    }
    error = "deadlock: " + deadlock();
    return false;
  }
}

bool Scheduler::releaseWarps(bool &released, std::string &error) {
  for (uint32_t warpStart = 0; warpStart < threads_; warpStart += 32) {
    const uint32_t lanes = std::min<uint32_t>(32, threads_ - warpStart);
    for (uint32_t lane = 0; lane < lanes; ++lane) {
      const Fiber &f = fibers_[warpStart + lane];
      if (f.status != Status::AtWarp)
        continue;
      const std::string where =
          "thread " + std::to_string(warpStart + lane) + " (warp " +
          std::to_string(warpStart / 32) + ", lane " + std::to_string(lane) +
          "): " + warpOpName(f.op) + "(mask " + hex(f.mask) + ")";
      if (!(f.mask >> lane & 1u)) {
        error = where + " leaves out the calling lane";
        return false;
      }
      if (f.op != qrt_emu::kWarpSync && f.op != qrt_emu::kBallot &&
          f.op != qrt_emu::kAny && f.op != qrt_emu::kAll &&
          (f.width <= 0 || f.width > 32 || (f.width & (f.width - 1)))) {
        error = where + " has width " + std::to_string(f.width) +
                " (a power of 2 up to 32)";
        return false;
      }
      // The group: the lanes of the mask that exist and did not exit. It
      // completes when all of them wait in the same operation and mask.
      bool complete = true;
      for (uint32_t other = 0; other < lanes && complete; ++other) {
        if (!(f.mask >> other & 1u))
          continue;
        const Fiber &g = fibers_[warpStart + other];
        if (g.status == Status::Done)
          continue;
        if (g.status != Status::AtWarp || g.mask != f.mask) {
          complete = false;
        } else if (g.op != f.op) {
          error = where + " meets " + warpOpName(g.op) + " of lane " +
                  std::to_string(other) + " with the same mask";
          return false;
        }
      }
      if (!complete)
        continue;
      // Compute every participant's result.
      uint64_t vote = 0;
      for (uint32_t other = 0; other < lanes; ++other) {
        const Fiber &g = fibers_[warpStart + other];
        if ((f.mask >> other & 1u) && g.status == Status::AtWarp && g.value)
          vote |= uint64_t(1) << other;
      }
      for (uint32_t other = 0; other < lanes; ++other) {
        Fiber &g = fibers_[warpStart + other];
        if (!(f.mask >> other & 1u) || g.status != Status::AtWarp)
          continue;
        const int w = g.width, base = int(other) & ~(w - 1);
        int source = int(other);
        switch (g.op) {
        case qrt_emu::kShuffleIndex:
          source = base + (g.argument & (w - 1));
          break;
        case qrt_emu::kShuffleUp:
          source = int(other) - g.argument >= base ? int(other) - g.argument
                                                   : int(other);
          break;
        case qrt_emu::kShuffleDown:
          source = int(other) + g.argument < base + w ? int(other) + g.argument
                                                      : int(other);
          break;
        case qrt_emu::kShuffleXor:
          source = int(other) ^ g.argument;
          // Lanes of a later group of `width` give the caller's own value.
          if (source >= base + w)
            source = int(other);
          break;
        default:
          break;
        }
        if (g.op == qrt_emu::kBallot)
          g.result = vote;
        else if (g.op == qrt_emu::kAny)
          g.result = vote != 0;
        else if (g.op == qrt_emu::kAll) {
          uint64_t participants = 0;
          for (uint32_t l = 0; l < lanes; ++l)
            if ((f.mask >> l & 1u) &&
                fibers_[warpStart + l].status == Status::AtWarp)
              participants |= uint64_t(1) << l;
          g.result = vote == participants;
        } else if (g.op != qrt_emu::kWarpSync) {
          if (source < 0 || uint32_t(source) >= lanes ||
              !(f.mask >> source & 1u) ||
              fibers_[warpStart + source].status != Status::AtWarp) {
            error = "thread " + std::to_string(warpStart + other) + " (lane " +
                    std::to_string(other) + "): " + warpOpName(g.op) +
                    "(mask " + hex(g.mask) + ", " + std::to_string(g.argument) +
                    ") reads lane " + std::to_string(source) +
                    (uint32_t(source) >= lanes
                         ? ", which the block does not have"
                         : ", which does not take part (an undefined value)");
            return false;
          }
          g.result = fibers_[warpStart + source].value;
        }
      }
      for (uint32_t other = 0; other < lanes; ++other) {
        Fiber &g = fibers_[warpStart + other];
        if ((f.mask >> other & 1u) && g.status == Status::AtWarp)
          g.status = Status::Runnable;
      }
      released = true;
    }
  }
  return true;
}

std::string Scheduler::deadlock() const {
  // Group threads by what they wait for.
  std::map<std::string, std::vector<uint32_t>> waits;
  for (uint32_t t = 0; t < threads_; ++t) {
    const Fiber &f = fibers_[t];
    std::string what;
    switch (f.status) {
    case Status::Done:
      what = "exited";
      break;
    case Status::AtBarrier:
      what = "wait in __syncthreads()";
      break;
    case Status::AtWarp:
      what = std::string("wait in ") + warpOpName(f.op) + "(mask " +
             hex(f.mask) + ")";
      break;
    case Status::Runnable:
      what = "runnable";
      break;
    }
    waits[what].push_back(t);
  }
  std::string out;
  for (const auto &[what, threads] : waits)
    out += (out.empty() ? "" : "; ") + std::string("threads ") +
           ranges(threads) + " " + what;
  return out + " (of " + std::to_string(threads_) + " threads)";
}

//===----------------------------------------------------------------------===//
// Modules: compiled once per process and source text
//===----------------------------------------------------------------------===//

namespace {

struct ModuleCache {
  std::mutex mutex;
  std::map<std::string, void *> bySource;
};

ModuleCache &moduleCache() {
  static ModuleCache cache;
  return cache;
}

bool compileModule(const EmulatorOptions &options, const std::string &source,
                   void *&handle, std::string &error) {
  ModuleCache &cache = moduleCache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  std::string key = options.compiler + "\n" + options.header + "\n" +
                    options.optimization + "\n" + source;
  auto cached = cache.bySource.find(key);
  if (cached != cache.bySource.end()) {
    handle = cached->second;
    return true;
  }
  const char *tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp && *tmp ? tmp : "/tmp") + "/qrt-cuda-emulator-XXXXXX";
  std::vector<char> dir(pattern.begin(), pattern.end());
  dir.push_back('\0');
  if (!::mkdtemp(dir.data())) {
    error = "cannot create a directory like " + pattern;
    return false;
  }
  std::string folder = dir.data();
  std::string sourcePath = folder + "/module.cu.cpp",
              library = folder + "/module.so", log = folder + "/compile.log";
  {
    std::ofstream os(sourcePath, std::ios::binary);
    os << source;
    if (!os) {
      error = "cannot write " + sourcePath;
      return false;
    }
  }
  auto quote = [](const std::string &s) { return "'" + s + "'"; };
  std::string command = quote(options.compiler) + " -std=c++17 " +
                        options.optimization +
                        " -shared -fPIC -w -DQRT_CUDA_EMULATION -include " +
                        quote(options.header) + " -x c++ " + quote(sourcePath) +
                        " -o " + quote(library) + " 2> " + quote(log);
  int status = std::system(command.c_str());
  bool ok = status == 0;
  if (!ok) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    std::string output = text.str();
    if (output.size() > 4000)
      output = output.substr(0, 4000) + "\n...";
    error = "compiling the module failed (" + command + "):\n" + output;
  } else {
    handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char *why = ::dlerror();
      error =
          std::string("dlopen of the compiled module: ") + (why ? why : "?");
      ok = false;
    }
  }
  std::remove(sourcePath.c_str());
  std::remove(library.c_str());
  std::remove(log.c_str());
  ::rmdir(folder.c_str());
  if (ok)
    cache.bySource[key] = handle;
  return ok;
}

} // namespace

//===----------------------------------------------------------------------===//
// The device
//===----------------------------------------------------------------------===//

struct EmulatorDevice::Kernel {
  std::string name;
  KernelFunction function = nullptr;
};

struct EmulatorDevice::Recorded {
  Function function = nullptr;
  uint32_t gridX = 0, gridY = 0, blockX = 0;
  KernelParams params = {};
  std::string what;
};

struct EmulatorDevice::Recording {
  std::vector<Recorded> launches;
  /// Why the capture is invalid (empty: it is not).
  std::string invalid;
};

EmulatorDevice::EmulatorDevice(EmulatorOptions options)
    : options_(std::move(options)) {
  if (options_.compiler.empty())
    options_.compiler = QRT_TEST_CXX;
  if (options_.header.empty())
    options_.header = QRT_EMULATE_CUDA_HEADER;
  scheduler_ = std::make_unique<Scheduler>(options_.stackBytes);
}

EmulatorDevice::~EmulatorDevice() {
  for (const auto &[address, bytes] : allocations_)
    std::free(reinterpret_cast<void *>(address));
}

bool EmulatorDevice::allocate(uint64_t bytes, uint64_t &address,
                              std::string &error) {
  uint64_t rounded = std::max<uint64_t>(256, (bytes + 255) / 256 * 256);
  void *memory = std::aligned_alloc(256, rounded);
  if (!memory) {
    error = "cannot allocate " + std::to_string(bytes) + " bytes";
    return false;
  }
  address = reinterpret_cast<uint64_t>(memory);
  allocations_[address] = bytes;
  return true;
}

void EmulatorDevice::free(uint64_t address) {
  auto it = allocations_.find(address);
  if (it == allocations_.end())
    return;
  std::free(reinterpret_cast<void *>(address));
  allocations_.erase(it);
}

bool EmulatorDevice::contains(uint64_t address, uint64_t bytes) const {
  auto it = allocations_.upper_bound(address);
  if (it == allocations_.begin())
    return false;
  --it;
  return address >= it->first && address + bytes <= it->first + it->second &&
         address + bytes >= address;
}

bool EmulatorDevice::checkRange(const char *what, uint64_t address,
                                uint64_t bytes, std::string &error) const {
  if (bytes == 0 || contains(address, bytes))
    return true;
  error = std::string(what) + ": device range [" + std::to_string(address) +
          ", +" + std::to_string(bytes) + ") is not inside one allocation";
  return false;
}

bool EmulatorDevice::notCapturing(const char *what, std::string &error) {
  if (!capture_)
    return true;
  error = std::string(what) +
          " during a graph capture (only launches may be captured)";
  if (capture_->invalid.empty())
    capture_->invalid = error;
  return false;
}

bool EmulatorDevice::copyToDevice(uint64_t destination, const void *source,
                                  uint64_t bytes, std::string &error) {
  if (!notCapturing("copyToDevice", error) ||
      !checkRange("copyToDevice", destination, bytes, error))
    return false;
  if (bytes)
    std::memcpy(reinterpret_cast<void *>(destination), source, bytes);
  return true;
}

bool EmulatorDevice::copyToHost(void *destination, uint64_t source,
                                uint64_t bytes, std::string &error) {
  if (!notCapturing("copyToHost", error) ||
      !checkRange("copyToHost", source, bytes, error))
    return false;
  if (bytes)
    std::memcpy(destination, reinterpret_cast<const void *>(source), bytes);
  return true;
}

bool EmulatorDevice::copyOnDevice(uint64_t destination, uint64_t source,
                                  uint64_t bytes, std::string &error) {
  if (!notCapturing("copyOnDevice", error) ||
      !checkRange("copyOnDevice", destination, bytes, error) ||
      !checkRange("copyOnDevice", source, bytes, error))
    return false;
  if (bytes)
    std::memmove(reinterpret_cast<void *>(destination),
                 reinterpret_cast<const void *>(source), bytes);
  return true;
}

bool EmulatorDevice::memset(uint64_t destination, uint8_t value, uint64_t bytes,
                            std::string &error) {
  if (!notCapturing("memset", error) ||
      !checkRange("memset", destination, bytes, error))
    return false;
  if (bytes)
    std::memset(reinterpret_cast<void *>(destination), value, bytes);
  return true;
}

bool EmulatorDevice::loadModule(const std::vector<ModuleCode> &code,
                                std::string &error) {
  for (const ModuleCode &c : code)
    if (c.format == "cuda-source")
      return loadSource(
          std::string(reinterpret_cast<const char *>(c.code), c.size), error);
  error = "the plan has no \"cuda-source\" code for the emulator";
  return false;
}

bool EmulatorDevice::loadSource(const std::string &source, std::string &error) {
  if (!notCapturing("loading a module", error))
    return false;
  void *handle = nullptr;
  if (!compileModule(options_, source, handle, error))
    return false;
  auto bind = reinterpret_cast<BindFunction>(::dlsym(handle, "qrt_emu_bind"));
  if (!bind) {
    error = "the compiled module has no qrt_emu_bind (not compiled with "
            "emulate_cuda.h?)";
    return false;
  }
  module_ = handle;
  bind_ = reinterpret_cast<void *>(bind);
  kernels_.clear();
  return true;
}

bool EmulatorDevice::function(const std::string &name, Function &function,
                              std::string &error) {
  if (!module_) {
    error = "no module is loaded";
    return false;
  }
  auto it = kernels_.find(name);
  if (it == kernels_.end()) {
    void *symbol = ::dlsym(module_, name.c_str());
    if (!symbol) {
      error = "the module has no kernel " + name;
      return false;
    }
    auto kernel = std::make_unique<Kernel>();
    kernel->name = name;
    kernel->function = reinterpret_cast<KernelFunction>(symbol);
    it = kernels_.emplace(name, std::move(kernel)).first;
  }
  function = reinterpret_cast<Function>(it->second.get());
  return true;
}

bool EmulatorDevice::checkLaunch(Function function, uint32_t gridX,
                                 uint32_t gridY, uint32_t blockX,
                                 uint32_t sharedBytes, std::string &what,
                                 std::string &error) const {
  const Kernel *kernel = reinterpret_cast<const Kernel *>(function);
  auto it = kernel ? kernels_.find(kernel->name) : kernels_.end();
  if (it == kernels_.end() || it->second.get() != kernel) {
    error = "launch of a function the module does not have";
    return false;
  }
  what = "kernel " + kernel->name + " (grid " + std::to_string(gridX) + "x" +
         std::to_string(gridY) + ", block " + std::to_string(blockX) + ")";
  if (gridX == 0 || gridY == 0 || blockX == 0 || blockX > 1024) {
    error = what + ": invalid launch configuration";
    return false;
  }
  if (sharedBytes != 0) {
    error = what + ": dynamic shared memory (" + std::to_string(sharedBytes) +
            " bytes) is not emulated";
    return false;
  }
  return true;
}

bool EmulatorDevice::launch(Function function, uint32_t gridX, uint32_t gridY,
                            uint32_t blockX, uint32_t sharedBytes,
                            const KernelParams &params, std::string &error) {
  std::string what;
  if (!checkLaunch(function, gridX, gridY, blockX, sharedBytes, what, error)) {
    if (capture_ && capture_->invalid.empty())
      capture_->invalid = error;
    return false;
  }
  if (capture_) {
    capture_->launches.push_back(
        {function, gridX, gridY, blockX, params, what});
    return true;
  }
  return run(function, gridX, gridY, blockX, params, what, error);
}

bool EmulatorDevice::run(Function function, uint32_t gridX, uint32_t gridY,
                         uint32_t blockX, const KernelParams &params,
                         const std::string &what, std::string &error) {
  const Kernel *kernel = reinterpret_cast<const Kernel *>(function);
  // Modules are shared between devices: bind this one's state.
  if (!reinterpret_cast<BindFunction>(bind_)(scheduler_->state(),
                                             qrt_emu::kStateVersion)) {
    error = "the module was compiled with another emulate_cuda.h";
    return false;
  }
  auto start = std::chrono::steady_clock::now();
  if (!scheduler_->run(kernel->function, params, gridX, gridY, blockX, error)) {
    error = what + ": " + error;
    return false;
  }
  ++launches_;
  if (profiling_) {
    KernelProfile &p = profile_[kernel->name];
    p.function = kernel->name;
    ++p.calls;
    p.microseconds += std::chrono::duration<double, std::micro>(
                          std::chrono::steady_clock::now() - start)
                          .count();
  }
  return true;
}

bool EmulatorDevice::synchronize(std::string &error) {
  return notCapturing("synchronize", error);
}

bool EmulatorDevice::beginCapture(std::string &error) {
  if (!options_.graphs)
    return Device::beginCapture(error);
  if (capture_) {
    error = "a graph capture is already under way";
    return false;
  }
  if (profiling_) {
    error = "no graph capture while profiling";
    return false;
  }
  capture_ = std::make_unique<Recording>();
  return true;
}

bool EmulatorDevice::endCapture(Graph &graph, std::string &error) {
  graph = nullptr;
  if (!capture_) {
    error = "no graph capture is under way";
    return false;
  }
  std::unique_ptr<Recording> recording = std::move(capture_);
  if (!recording->invalid.empty()) {
    error = "the capture was invalidated: " + recording->invalid;
    return false;
  }
  graph = reinterpret_cast<Graph>(recording.get());
  graphs_[graph] = std::move(recording);
  ++graphCaptures_;
  return true;
}

bool EmulatorDevice::launchGraph(Graph graph, std::string &error) {
  auto it = graphs_.find(graph);
  if (it == graphs_.end()) {
    error = "launch of a graph the device does not have";
    return false;
  }
  if (!notCapturing("launchGraph", error))
    return false;
  ++graphLaunches_;
  const std::vector<Recorded> &launches = it->second->launches;
  for (size_t i = 0; i < launches.size(); ++i) {
    const Recorded &r = launches[i];
    if (!run(r.function, r.gridX, r.gridY, r.blockX, r.params, r.what, error)) {
      error = "graph launch " + std::to_string(i + 1) + " of " +
              std::to_string(launches.size()) + ": " + error;
      return false;
    }
  }
  return true;
}

void EmulatorDevice::destroyGraph(Graph graph) { graphs_.erase(graph); }

std::vector<KernelProfile> EmulatorDevice::profile() const {
  return sortedProfile(profile_);
}

namespace {

class BorrowedDevice final : public Device {
public:
  explicit BorrowedDevice(Device &device) : d_(device) {}
  std::string name() const override { return d_.name(); }
  std::string description() const override { return d_.description(); }
  bool allocate(uint64_t bytes, uint64_t &address,
                std::string &error) override {
    return d_.allocate(bytes, address, error);
  }
  void free(uint64_t address) override { d_.free(address); }
  bool copyToDevice(uint64_t destination, const void *source, uint64_t bytes,
                    std::string &error) override {
    return d_.copyToDevice(destination, source, bytes, error);
  }
  bool copyToHost(void *destination, uint64_t source, uint64_t bytes,
                  std::string &error) override {
    return d_.copyToHost(destination, source, bytes, error);
  }
  bool copyOnDevice(uint64_t destination, uint64_t source, uint64_t bytes,
                    std::string &error) override {
    return d_.copyOnDevice(destination, source, bytes, error);
  }
  bool memset(uint64_t destination, uint8_t value, uint64_t bytes,
              std::string &error) override {
    return d_.memset(destination, value, bytes, error);
  }
  bool loadModule(const std::vector<ModuleCode> &code,
                  std::string &error) override {
    return d_.loadModule(code, error);
  }
  bool function(const std::string &name, Function &function,
                std::string &error) override {
    return d_.function(name, function, error);
  }
  bool launch(Function function, uint32_t gridX, uint32_t gridY,
              uint32_t blockX, uint32_t sharedBytes, const KernelParams &params,
              std::string &error) override {
    return d_.launch(function, gridX, gridY, blockX, sharedBytes, params,
                     error);
  }
  bool synchronize(std::string &error) override {
    return d_.synchronize(error);
  }
  bool supportsGraphs() const override { return d_.supportsGraphs(); }
  bool beginCapture(std::string &error) override {
    return d_.beginCapture(error);
  }
  bool endCapture(Graph &graph, std::string &error) override {
    return d_.endCapture(graph, error);
  }
  bool launchGraph(Graph graph, std::string &error) override {
    return d_.launchGraph(graph, error);
  }
  void destroyGraph(Graph graph) override { d_.destroyGraph(graph); }
  void setProfiling(bool on) override { d_.setProfiling(on); }
  std::vector<KernelProfile> profile() const override { return d_.profile(); }

private:
  Device &d_;
};

} // namespace

std::unique_ptr<Device> borrow(Device &device) {
  return std::make_unique<BorrowedDevice>(device);
}

} // namespace qrt::cuda::emulator
