//===- CudaSession.h - running a plan's CUDA kernels ------------*- C++ -*-===//
//
// The CUDA backend ("cuda", registerCudaBackend) runs a plan compiled for
// the CUDA target: every step's launches (the plan's CUDA executable,
// qrt/cuda/Executable.h) on a cuda::Device. At creation it verifies the
// executable, checks that the plan's code has this runtime's kernel ABI,
// loads the plan's module,
// resolves every launch's function, uploads all weights in one allocation,
// and allocates the entries' arenas, the KV cache and a staging buffer (the
// chunk's first position, then its token ids) once; a chunk then costs one
// copy of the staging buffer, the launches, and one copy of the logits back
// (nothing is allocated per token).
//
// Per launch, KernelParams (qrt/cuda/KernelAbi.h) holds the device addresses
// of the step's inputs then outputs, or of the launch's own buffers when it
// lists them (a fused epilogue; the plan verifier checks both) (Arena: the entry's arena + offset; Weight:
// the uploaded weight; Tokens: the chunk's token ids), the KV cache
// (f32 [layers][k|v][kv_heads][context][head_dim], as the CPU session's),
// the address of the position in the staging buffer, the chunk's tokens and
// the session's context. The grid is (grid_x, tokens_per_block ?
// ceil(tokens / tokens_per_block) : 1), the block (block_x). A step without
// launches does nothing (another step's launch computes it).
//
// The decode entry as a CUDA graph (SessionOptions::replayDecode, on by
// default, off with profile, with an observer, or on a device without
// graphs): a decode step's
// launches are the same for every token (one token, fixed buffers; the
// position is read from device memory), so the first decode step captures
// them into a graph and every decode step, that one included, is the
// staging copy, one graph launch and the logits copy. Prefill chunks are
// always launched one by one.
//
// With a StepObserver, the session launches step by step and copies each
// step's buffers to the host around its launches (slow: for calibration and
// debugging). A matmul whose launch also adds the next step's residual (a
// fused epilogue) reports no output; the add reports the sum.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CUDA_CUDASESSION_H
#define QRT_CUDA_CUDASESSION_H

#include "qrt/cuda/Collectives.h"
#include "qrt/cuda/Device.h"
#include "qrt/runtime/Session.h"

#include <functional>

namespace qrt {
/// Registers the backend "cuda" (ranked above the CPU for device "auto"
/// when the plan has CUDA code and a GPU is present) and the CUDA target's
/// plan code (qrt::cuda::registerTarget).
void registerCudaBackend();
} // namespace qrt

namespace qrt::cuda {

/// Whether `plan` can run on the CUDA backend: it has a CUDA executable
/// with at least one launch.
bool hasCudaCode(const fb::Plan &plan);

/// The error for a plan without CUDA code.
inline constexpr const char *kNoCudaCode =
    "the plan has no CUDA code (compile it with quant-compile{... "
    "target=cuda})";

/// Makes a split plan's device collectives for a session's device.
using CollectivesFactory = std::function<std::unique_ptr<DeviceCollectives>(
    Device &, Communicator &, std::string &)>;

class CudaSession final : public Session {
public:
  /// A session over `plan` (which must outlive it) on `device`. nullptr and
  /// `error` if the plan has no CUDA code, was generated for another kernel
  /// ABI, names a kernel its module lacks, or the device fails (loading the
  /// module, memory). Launch grids, blocks and buffers are the verified
  /// plan's (verifyPlan).
  /// A tensor-parallel plan (LoadedPlan::worldSize() > 1) also needs
  /// SessionOptions::communicator; `collectives` makes the device
  /// collectives from it (default: NCCL, openNcclCollectives).
  static std::unique_ptr<CudaSession>
  create(const LoadedPlan &plan, const SessionOptions &options,
         std::unique_ptr<Device> device, std::string &error,
         const CollectivesFactory &collectives = openNcclCollectives);
  /// Frees the session's device memory.
  ~CudaSession() override;

  SessionMemory memory() const override;
  DeviceInfo deviceInfo() const override;
  /// With SessionOptions::profile: time per kernel function so far.
  std::vector<KernelProfile> profile() const override {
    return device_->profile();
  }
  /// cuda_launches, cuda_graph (whether decode steps ran as a graph),
  /// cuda_graph_launches, device_weights_bytes.
  void addFigures(Figures &figures) const override;

  Device &device() { return *device_; }
  /// Kernels run so far (a graph launch counts its kernels).
  uint64_t launches() const { return launches_; }
  /// Whether decode steps run as a CUDA graph (decided at creation).
  bool usesGraph() const { return useGraph_; }
  /// Graphs captured so far (at most 1: the decode entry's) and graph
  /// launches (one per decode step).
  uint64_t graphCaptures() const { return graphCaptures_; }
  uint64_t graphLaunches() const { return graphLaunches_; }

private:
  struct Launch;
  struct EntryCode;
  CudaSession() = default;
  bool prepareEntry(size_t index, const std::vector<Function> &functions,
                    const std::vector<std::string> &names, std::string &error);
  bool runChunk(size_t entry, const int32_t *tokens, int64_t count,
                float *logits, bool allLogits, std::string &error) override;
  /// Issues the entry's launches for `count` tokens (or records them, while
  /// the device captures).
  bool launchAll(EntryCode &code, int64_t count, std::string &error);
  bool launch(Launch &launch, int64_t count, std::string &error);
  /// The device address of a buffer of the entry `code` runs.
  uint64_t bufferAddress(const EntryCode &code, const fb::Buffer &b) const;
  /// Captures the entry's launches (one token) into code.graph.
  bool capture(EntryCode &code, std::string &error);
  /// Runs the entry step by step for an observer, copying each step's
  /// buffers to the host around its launches.
  bool launchObserved(size_t entry, EntryCode &code, const int32_t *tokens,
                      int64_t count, std::string &error);

  /// An AllReduce or AllGather step (Launch::collective) through
  /// collectives_.
  bool runCollective(Launch &launch, int64_t count, std::string &error);

  std::unique_ptr<Device> device_;
  /// A split plan's collectives (declared after the device: destroyed
  /// before it).
  std::unique_ptr<DeviceCollectives> collectives_;
  /// AllGather: every rank's part before the rows are interleaved.
  uint64_t gatherScratch_ = 0;
  std::vector<EntryCode> code_; // per entry (as entries_)
  uint64_t weights_ = 0, weightsBytes_ = 0;
  std::vector<uint64_t> weightAddress_; // per plan weight
  uint64_t arenas_ = 0, arenasBytes_ = 0;
  uint64_t kvCache_ = 0;
  /// The staging buffer: the int32 position at 0, the token ids at 16.
  uint64_t staging_ = 0;
  std::vector<int32_t> stagingHost_;
  uint64_t launches_ = 0;
  bool useGraph_ = false;
  uint64_t graphCaptures_ = 0, graphLaunches_ = 0;
};

} // namespace qrt::cuda

#endif // QRT_CUDA_CUDASESSION_H
