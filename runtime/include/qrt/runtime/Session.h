//===- Session.h - running a plan -------------------------------*- C++ -*-===//
//
// A Session runs one sequence through a verified plan: it owns the KV cache
// and the entries' activation arenas, and executes the plan's steps on a
// backend. Tokens go in at the current position; a step of one token runs
// the `decode` entry, longer inputs run `prefill` in chunks of its
// max_tokens. The checks on the input and the chunking are the same on every
// backend (forward() here); a backend runs one chunk through one entry
// (runChunk). Backends register themselves (qrt/runtime/Backend.h):
// Session::create knows none of them by name.
//
// A StepObserver sees every step's inputs and outputs as the session runs
// them (calibration, statistics, layer-by-layer comparison with a
// reference); without one, nothing is copied or built.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_RUNTIME_SESSION_H
#define QRT_RUNTIME_SESSION_H

#include "qrt/core/Plan.h"
#include "qrt/runtime/Communicator.h"
#include "qrt/runtime/Figures.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qrt {

struct SessionOptions {
  /// The backend: "auto" (the usable backend that ranks first for the
  /// plan, e.g. CUDA when the plan has CUDA code and a GPU is present, else
  /// the CPU) or a registered backend's name ("cpu", "cuda").
  std::string device = "auto";
  /// Threads of the CPU kernels (0: all cores).
  int threads = 0;
  /// KV-cache positions (0: the plan's capacity; at most that).
  int64_t context = 0;
  /// Time every kernel launch, summed per kernel (Session::profile), on
  /// backends that can; slows the run a little and turns replayDecode off.
  bool profile = false;
  /// Backends that can record a decode step once and replay it for every
  /// token (CUDA graphs) do so; false runs each step's kernels one by one.
  bool replayDecode = true;
  /// A tensor-parallel plan (LoadedPlan::worldSize() > 1): this rank's
  /// link to the others (not owned; it must outlive the session), of the
  /// plan's world size, whose rank the plan has selected
  /// (LoadedPlan::selectRank). Every rank's session must then see the same
  /// forward() calls. Null for an unsplit plan.
  Communicator *communicator = nullptr;
};

/// Bytes of the session's own memory (on a GPU: device memory).
struct SessionMemory {
  uint64_t arenas = 0;
  uint64_t kvCache = 0;
  /// The device's copy of the weights (0 on the CPU, which reads the
  /// plan's memory).
  uint64_t weights = 0;
};

/// What a session runs on.
struct DeviceInfo {
  /// The backend's name ("cpu", "cuda").
  std::string backend;
  /// "cpu", or the GPU's name.
  std::string name;
  /// "avx512, 8 threads"; "NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB, ...".
  std::string description;
  /// Threads of the CPU kernels (0 on a GPU).
  int threads = 0;
  /// With device "auto": why this backend (e.g. "the plan has no CUDA
  /// code"); empty otherwise.
  std::string reason;
};

//===----------------------------------------------------------------------===//
// Observing steps
//===----------------------------------------------------------------------===//

/// A buffer a step reads or writes, in host memory (valid during the
/// callback only).
struct StepTensor {
  const fb::Buffer *buffer = nullptr;
  /// Its bytes: f32 activations; weights as stored (see `dtype`).
  const void *data = nullptr;
  /// The same bytes, writable, for an activation on a backend that lets an
  /// observer write it before the step (the CPU: calibration resumes a
  /// forward from cached activations); null otherwise.
  void *writable = nullptr;
  fb::DType dtype = fb::DType::F32;
  /// The buffer's dimensions with the token dimension resolved.
  std::vector<int64_t> shape;
  /// For weights: the plan's name of the weight ("" otherwise).
  std::string weight;

  /// The product of `shape`.
  int64_t elements() const;
  /// A copy of the values of an f32 tensor; empty for other dtypes.
  std::vector<float> floats() const;
};

/// One step as it runs.
struct StepEvent {
  /// The plan's entry and step.
  size_t entryIndex = 0, stepIndex = 0;
  const fb::Entry *entry = nullptr;
  const fb::Step *step = nullptr;
  /// Tokens of the chunk, and the position of its first token.
  int64_t tokens = 0, position = 0;
  std::vector<StepTensor> inputs;
  /// Before the step: not yet written. Empty for a step whose result
  /// another step's kernel computes (a matmul whose product a CUDA kernel
  /// added to the residual directly: its add then reports the sum).
  std::vector<StepTensor> outputs;
  /// MatMul and DequantMatMul: the weight's name (a quantized weight's own,
  /// not its components') and shape [rows, cols]; its input x is inputs[0],
  /// [..., cols].
  std::string weight;
  int64_t weightRows = 0, weightCols = 0;
};

class StepObserver {
public:
  virtual ~StepObserver();
  /// Before the step runs: its inputs hold the values it reads.
  virtual void beforeStep(const StepEvent &event) { (void)event; }
  /// After the step ran: its outputs hold what it wrote.
  virtual void afterStep(const StepEvent &event) { (void)event; }
  /// Asked after afterStep: true stops the forward there (it fails with
  /// kStoppedByObserver and the position does not advance), e.g. when a
  /// calibration has seen the steps it needs. Only a forward of one chunk
  /// should be stopped: the chunks after it do not run.
  virtual bool stopRequested() const { return false; }
  /// Asked before each step: true skips it (no callbacks; its outputs keep
  /// what they held). With writable inputs, a calibration skips the layers
  /// before the one it calibrates and writes their cached output instead.
  virtual bool skipStep(size_t entryIndex, size_t stepIndex) {
    (void)entryIndex;
    (void)stepIndex;
    return false;
  }
};

/// The error of a forward that the observer stopped.
inline constexpr const char *kStoppedByObserver = "stopped by the step observer";

//===----------------------------------------------------------------------===//
// Sessions
//===----------------------------------------------------------------------===//

class Session {
public:
  /// A session over `plan`, which must outlive it, on the backend
  /// options.device names (qrt/runtime/Backend.h). nullptr and `error` if
  /// no backend of that name is built in or it cannot run the plan here (an
  /// entry or the KV cache is missing; CUDA without a driver or a GPU, or a
  /// plan without CUDA code). Defined by the runtime library that links the
  /// backends (QuantRuntime).
  static std::unique_ptr<Session> create(const LoadedPlan &plan,
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

  /// Calls `observer` (not owned; null: none) around every step from now
  /// on. On a GPU, observing copies every step's buffers to the host and
  /// runs steps one by one: slow, for calibration and debugging.
  void setObserver(StepObserver *observer) { observer_ = observer; }
  StepObserver *observer() const { return observer_; }

  /// With SessionOptions::profile, on a backend that profiles: time per
  /// kernel function so far, most first.
  virtual std::vector<KernelProfile> profile() const { return {}; }
  /// The backend's own figures of the run so far (CUDA: launches, graph
  /// replays), for quant-run's figures.
  virtual void addFigures(Figures &figures) const { (void)figures; }

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
  bool initialize(const LoadedPlan &plan, const SessionOptions &options,
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
  /// An event of step `step` of entry `entry` for `count` tokens, without
  /// tensors (the backend adds them).
  StepEvent stepEvent(size_t entry, uint32_t step, int64_t count) const;
  /// A StepTensor of `buffer` at `data` for `count` tokens.
  StepTensor stepTensor(const fb::Buffer *buffer, const void *data,
                        int64_t count) const;

  const LoadedPlan *plan_ = nullptr;
  std::vector<EntryInfo> entries_;
  static constexpr size_t kNoEntry = ~size_t(0);
  size_t decode_ = kNoEntry;  // max_tokens == 1, if any
  size_t prefill_ = kNoEntry; // the largest max_tokens
  int64_t vocab_ = 0, context_ = 0, position_ = 0;
  int64_t layers_ = 0, kvHeads_ = 0, headDim_ = 0;
  StepObserver *observer_ = nullptr;
  /// The other ranks of a tensor-parallel plan (null: not split).
  Communicator *communicator_ = nullptr;
  /// Why device "auto" chose this backend (set by create()).
  std::string reason_;
};

} // namespace qrt

#endif // QRT_RUNTIME_SESSION_H
