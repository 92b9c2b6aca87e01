//===- CudaSession.h - running a plan's CUDA kernels ------------*- C++ -*-===//
//
// The CUDA session runs a plan compiled for the CUDA target: every step's
// CudaLaunch list (plan.fbs) on a cuda::Device. At creation it loads the
// plan's module, resolves every launch's function, uploads all weights in
// one allocation, and allocates the entries' arenas, the KV cache and a
// token buffer once; a chunk then costs one copy of its token ids, the
// launches, and one copy of the logits back (nothing is allocated per
// token).
//
// Per launch, KernelParams (qrt/cuda/KernelAbi.h) holds the device addresses
// of the step's inputs then outputs, or of the launch's own buffers when it
// lists them (a fused epilogue; checked here to lie in the arena, as the plan
// verifier checks the steps') (Arena: the entry's arena + offset; Weight:
// the uploaded weight; Tokens: the chunk's token ids), the KV cache
// (f32 [layers][k|v][kv_heads][context][head_dim], as the CPU session's),
// and the chunk's tokens, first position and the session's context. The
// grid is (grid_x, tokens_per_block ? ceil(tokens / tokens_per_block) : 1),
// the block (block_x). A step without launches does nothing (another step's
// launch computes it).
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CUDA_CUDASESSION_H
#define QRT_CUDA_CUDASESSION_H

#include "qrt/cuda/Device.h"
#include "qrt/runtime/Session.h"

namespace qrt::cuda {

/// Whether `plan` can run on the CUDA backend: it has CUDA TargetCode and
/// CUDA launches.
bool hasCudaCode(const fb::Plan &plan);

/// The error for a plan without CUDA code.
inline constexpr const char *kNoCudaCode =
    "the plan has no CUDA code (compile it with quant-compile{... "
    "target=cuda})";

class CudaSession final : public Session {
public:
  /// A session over `plan` (which must outlive it) on `device`. nullptr and
  /// `error` if the plan has no CUDA code, a launch is invalid (no function,
  /// a zero grid, more than 1024 threads or kMaxKernelBuffers buffers, a
  /// buffer of its own outside the arena) or the device fails (loading the
  /// module, memory).
  static std::unique_ptr<CudaSession> create(const MappedPlan &plan,
                                             const SessionOptions &options,
                                             std::unique_ptr<Device> device,
                                             std::string &error);
  /// Frees the session's device memory.
  ~CudaSession() override;

  SessionMemory memory() const override;
  DeviceInfo deviceInfo() const override;

  Device &device() { return *device_; }
  /// With SessionOptions::profile: time per kernel function so far.
  std::vector<KernelProfile> profile() const { return device_->profile(); }
  /// Kernel launches so far.
  uint64_t launches() const { return launches_; }

private:
  struct Launch;
  struct EntryCode;
  CudaSession() = default;
  bool prepareEntry(size_t index, const std::vector<Function> &functions,
                    const std::vector<std::string> &names, std::string &error);
  bool runChunk(size_t entry, const int32_t *tokens, int64_t count,
                float *logits, bool allLogits, std::string &error) override;

  std::unique_ptr<Device> device_;
  std::vector<EntryCode> code_; // per entry (as entries_)
  uint64_t weights_ = 0, weightsBytes_ = 0;
  std::vector<uint64_t> weightAddress_; // per plan weight
  uint64_t arenas_ = 0, arenasBytes_ = 0;
  uint64_t kvCache_ = 0;
  uint64_t tokens_ = 0;
  uint64_t launches_ = 0;
};

} // namespace qrt::cuda

#endif // QRT_CUDA_CUDASESSION_H
