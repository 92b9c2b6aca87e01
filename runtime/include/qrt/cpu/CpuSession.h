//===- CpuSession.h - running a plan on the CPU -----------------*- C++ -*-===//
//
// The CPU backend: the plan's steps run with the CPU kernels
// (qrt/cpu/Kernels.h) on a thread pool, the weights read in place from the
// plan's memory, arenas and the KV cache in host memory. Registered as the
// backend "cpu" (registerCpuBackend), which device "auto" falls back to.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CPU_CPUSESSION_H
#define QRT_CPU_CPUSESSION_H

#include "qrt/cpu/Kernels.h"
#include "qrt/runtime/Session.h"
#include "qrt/runtime/StepRows.h"

namespace qrt {

/// Registers the backend "cpu" (rank 0, always usable).
void registerCpuBackend();

class CpuSession final : public Session {
public:
  /// A CPU session over `plan`, which must outlive it (options.device is
  /// not looked at).
  static std::unique_ptr<CpuSession> create(const LoadedPlan &plan,
                                            const SessionOptions &options,
                                            std::string &error);
  ~CpuSession() override;

  SessionMemory memory() const override;
  DeviceInfo deviceInfo() const override;
  cpu::ThreadPool &pool() { return *pool_; }

private:
  struct Arena;
  CpuSession() = default;
  bool runChunk(size_t entry, const int32_t *tokens, int64_t count,
                float *logits, bool allLogits, std::string &error) override;
  /// Runs step `index` of the entry for the chunk's `count` tokens, on
  /// `rows` of them (qrt/runtime/StepRows.h: Last computes the last token's
  /// row only; an Attention step still appends every token's key and
  /// value); false and `error` on failure.
  bool runStep(size_t entry, uint32_t index, const int32_t *tokens,
               int64_t count, Rows rows, std::string &error);
  /// The step's observer event with its buffers' host memory.
  StepEvent observed(size_t entry, uint32_t index, const int32_t *tokens,
                     int64_t count) const;

  std::unique_ptr<cpu::ThreadPool> pool_;
  /// Per entry (as entries_).
  std::vector<std::unique_ptr<Arena>> arenas_;
  float *kvCache_ = nullptr; // [layer][k|v][kv_heads][context][head_dim]
  /// AllGather: every rank's part before they are interleaved.
  std::vector<float> gathered_;
};

} // namespace qrt

#endif // QRT_CPU_CPUSESSION_H
