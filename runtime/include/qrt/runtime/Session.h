//===- Session.h - running a plan on the CPU --------------------*- C++ -*-===//
//
// A Session runs one sequence through a verified plan: it owns the KV cache
// and the entries' activation arenas, and executes the plan's steps with the
// CPU kernels. Tokens go in at the current position; a step of one token
// runs the `decode` entry, longer inputs run `prefill` in chunks of its
// max_tokens.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_RUNTIME_SESSION_H
#define QRT_RUNTIME_SESSION_H

#include "qrt/core/Plan.h"
#include "qrt/cpu/Kernels.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qrt {

struct SessionOptions {
  /// Threads of the kernels (0: all cores).
  int threads = 0;
  /// KV-cache positions (0: the plan's capacity; at most that).
  int64_t context = 0;
};

/// Bytes of the session's own memory (the plan's weights are mapped).
struct SessionMemory {
  uint64_t arenas = 0;
  uint64_t kvCache = 0;
};

class Session {
public:
  /// A session over `plan`, which must outlive it. nullptr and `error` if
  /// the plan cannot run here (an entry or the KV cache is missing).
  static std::unique_ptr<Session> create(const MappedPlan &plan,
                                         const SessionOptions &options,
                                         std::string &error);
  ~Session();

  int64_t vocab() const { return vocab_; }
  /// Positions the KV cache holds.
  int64_t context() const { return context_; }
  /// Tokens processed so far (the next token's position).
  int64_t position() const { return position_; }
  SessionMemory memory() const;
  cpu::ThreadPool &pool() { return *pool_; }

  /// Runs `count` tokens at positions position() .. position() + count - 1
  /// and advances. Writes the logits of every token ([count, vocab]) when
  /// `allLogits`, else of the last one ([vocab]); `logits` may be null. False
  /// and `error` (position unchanged) for a token outside the vocabulary or
  /// a full context.
  bool forward(const int32_t *tokens, int64_t count, float *logits,
               bool allLogits, std::string &error);

  /// Forgets every token: the next forward starts at position 0.
  void reset() { position_ = 0; }

private:
  struct Entry;
  Session() = default;
  bool runChunk(const Entry &entry, const int32_t *tokens, int64_t count,
                float *logits, bool allLogits, std::string &error);

  const MappedPlan *plan_ = nullptr;
  std::unique_ptr<cpu::ThreadPool> pool_;
  std::vector<std::unique_ptr<Entry>> entries_;
  const Entry *decode_ = nullptr;  // max_tokens == 1, if any
  const Entry *prefill_ = nullptr; // the largest max_tokens
  float *kvCache_ = nullptr;       // [layer][k|v][kv_heads][context][head_dim]
  uint64_t kvBytes_ = 0;
  int64_t vocab_ = 0, context_ = 0, position_ = 0;
  int64_t layers_ = 0, kvHeads_ = 0, headDim_ = 0;
};

} // namespace qrt

#endif // QRT_RUNTIME_SESSION_H
