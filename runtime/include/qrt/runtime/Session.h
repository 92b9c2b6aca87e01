//===- Session.h - running a plan -------------------------------*- C++ -*-===//
//
// A Session runs one sequence through a verified plan: it owns the KV cache
// and the entries' activation arenas, and executes the plan's steps on a
// device. Tokens go in at the current position; a step of one token runs the
// `decode` entry, longer inputs run `prefill` in chunks of its max_tokens.
// The checks on the input and the chunking are the same on every device
// (forward() here); a device runs one chunk through one entry (runChunk):
//   CpuSession            the CPU kernels (qrt/runtime/CpuSession.h)
//   cuda::CudaSession     the plan's generated CUDA kernels on a
//                         cuda::Device (qrt/cuda/CudaSession.h)
//
//===----------------------------------------------------------------------===//

#ifndef QRT_RUNTIME_SESSION_H
#define QRT_RUNTIME_SESSION_H

#include "qrt/core/Plan.h"
// The CPU kernels' settings (cpu::setIsa, cpu::isaName) apply to CPU
// sessions; users of Session have always had them from here.
#include "qrt/cpu/Kernels.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qrt {

/// Where a session runs.
enum class DeviceKind {
  /// CUDA when the plan has CUDA code and a GPU is present, else the CPU.
  Auto,
  Cpu,
  Cuda,
};
/// "auto", "cpu", "cuda".
const char *deviceKindName(DeviceKind kind);
/// The kind named `name` ("auto", "cpu", "cuda"); false for another name.
bool parseDeviceKind(const std::string &name, DeviceKind &kind);

struct SessionOptions {
  /// Threads of the CPU kernels (0: all cores).
  int threads = 0;
  /// KV-cache positions (0: the plan's capacity; at most that).
  int64_t context = 0;
  DeviceKind device = DeviceKind::Auto;
  /// CUDA: time every kernel launch, summed per kernel function
  /// (cuda::CudaSession::profile). Slows the run down a little, and turns
  /// cudaGraph off (a graph's launches cannot be timed one by one).
  bool profile = false;
  /// CUDA: run the decode entry as one CUDA graph, captured at the first
  /// decode step and replayed for every token after (where the device
  /// supports graphs); false launches its kernels one by one.
  bool cudaGraph = true;
};

/// Bytes of the session's own memory (on a GPU: device memory).
struct SessionMemory {
  uint64_t arenas = 0;
  uint64_t kvCache = 0;
  /// The device's copy of the weights (0 on the CPU, which reads the
  /// plan's mapping).
  uint64_t weights = 0;
};

/// What a session runs on.
struct DeviceInfo {
  /// Cpu or Cuda (never Auto).
  DeviceKind kind = DeviceKind::Cpu;
  /// "cpu", or the GPU's name.
  std::string name;
  /// "avx512, 8 threads"; "NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB, ...".
  std::string description;
  /// Threads of the CPU kernels (0 on a GPU).
  int threads = 0;
  /// With DeviceKind::Auto: why this device (e.g. "the plan has no CUDA
  /// code"); empty otherwise.
  std::string reason;
};

class Session {
public:
  /// A session over `plan`, which must outlive it, on options.device.
  /// nullptr and `error` if the plan cannot run there (an entry or the KV
  /// cache is missing; with Cuda: no driver or GPU, "no CUDA driver
  /// (libcuda.so.1 not found)", "no CUDA device", or no CUDA code in the
  /// plan).
  static std::unique_ptr<Session> create(const MappedPlan &plan,
                                         const SessionOptions &options,
                                         std::string &error);
  virtual ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  int64_t vocab() const { return vocab_; }
  /// Positions the KV cache holds.
  int64_t context() const { return context_; }
  /// Tokens processed so far (the next token's position).
  int64_t position() const { return position_; }
  virtual SessionMemory memory() const = 0;
  virtual DeviceInfo deviceInfo() const = 0;

  /// Runs `count` tokens at positions position() .. position() + count - 1
  /// and advances. Writes the logits of every token ([count, vocab]) when
  /// `allLogits`, else of the last one ([vocab]); `logits` may be null. False
  /// and `error` (position unchanged) for a token outside the vocabulary, a
  /// full context, or a failure of the device.
  bool forward(const int32_t *tokens, int64_t count, float *logits,
               bool allLogits, std::string &error);

  /// Forgets every token: the next forward starts at position 0.
  void reset() { position_ = 0; }

protected:
  /// An entry of the plan as the session runs it.
  struct EntryInfo {
    const fb::Entry *entry = nullptr;
    /// Tokens per chunk: max_tokens, at most the context.
    int64_t maxTokens = 0;
  };

  Session() = default;
  /// Reads what every device needs from the plan: the model's vocabulary,
  /// the KV cache's shape and the context, the entries (decode: max_tokens
  /// 1, prefill: the largest).
  bool initialize(const MappedPlan &plan, const SessionOptions &options,
                  std::string &error);
  /// Runs `count` tokens (1 <= count <= maxTokens) at position() through
  /// entries_[entry]; writes logits as forward() says (null: none).
  virtual bool runChunk(size_t entry, const int32_t *tokens, int64_t count,
                        float *logits, bool allLogits, std::string &error) = 0;

  /// Bytes of a KV cache of `context` positions:
  /// f32 [layers][k|v][kv_heads][context][head_dim].
  uint64_t kvCacheBytes() const {
    return 2ull * layers_ * kvHeads_ * context_ * headDim_ * sizeof(float);
  }

  const MappedPlan *plan_ = nullptr;
  std::vector<EntryInfo> entries_;
  static constexpr size_t kNoEntry = ~size_t(0);
  size_t decode_ = kNoEntry;  // max_tokens == 1, if any
  size_t prefill_ = kNoEntry; // the largest max_tokens
  int64_t vocab_ = 0, context_ = 0, position_ = 0;
  int64_t layers_ = 0, kvHeads_ = 0, headDim_ = 0;
  /// DeviceInfo::reason (set by create() for DeviceKind::Auto).
  std::string reason_;
};

} // namespace qrt

#endif // QRT_RUNTIME_SESSION_H
