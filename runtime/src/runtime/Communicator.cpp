//===- Communicator.cpp - collectives, and ranks as threads ---------------===//

#include "qrt/runtime/Communicator.h"

#include <condition_variable>
#include <cstring>
#include <mutex>

namespace qrt {

Communicator::~Communicator() = default;

bool Communicator::allReduceSum(float *data, size_t count,
                                std::string &error) {
  traffic_.allReduceCalls += 1;
  traffic_.allReduceBytes += count * sizeof(float);
  return doAllReduceSum(data, count, error);
}

bool Communicator::allGather(const float *in, size_t count, float *out,
                             std::string &error) {
  traffic_.allGatherCalls += 1;
  traffic_.allGatherBytes += count * sizeof(float);
  return doAllGather(in, count, out, error);
}

bool Communicator::broadcast(void *data, size_t bytes, int root,
                             std::string &error) {
  traffic_.broadcastCalls += 1;
  traffic_.broadcastBytes += bytes;
  if (root < 0 || root >= size()) {
    error = "broadcast from rank " + std::to_string(root) + " of " +
            std::to_string(size());
    return false;
  }
  return doBroadcast(data, bytes, root, error);
}

namespace {

/// What the ranks of a thread group share: each rank's pointer for the
/// collective under way, and a reusable barrier.
struct GroupState {
  explicit GroupState(int size) : size(size), slots(size) {}
  const int size;
  std::vector<const void *> slots;
  std::mutex mutex;
  std::condition_variable changed;
  int arrived = 0;
  uint64_t generation = 0;

  /// Returns when every rank has called it (once per phase).
  void barrier() {
    std::unique_lock<std::mutex> lock(mutex);
    uint64_t mine = generation;
    if (++arrived == size) {
      arrived = 0;
      ++generation;
      changed.notify_all();
      return;
    }
    changed.wait(lock, [&] { return generation != mine; });
  }
};

class ThreadCommunicator final : public Communicator {
public:
  ThreadCommunicator(std::shared_ptr<GroupState> state, int rank)
      : state_(std::move(state)), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return state_->size; }
  std::string name() const override { return "threads"; }

protected:
  bool doAllReduceSum(float *data, size_t count, std::string &) override {
    // Publish, let every rank sum all ranks' data in rank order into its
    // own scratch (the same bits everywhere), wait until all have read,
    // then write.
    state_->slots[rank_] = data;
    state_->barrier();
    scratch_.assign(count, 0.0f);
    for (int r = 0; r < state_->size; ++r) {
      const float *part = static_cast<const float *>(state_->slots[r]);
      for (size_t i = 0; i < count; ++i)
        scratch_[i] += part[i];
    }
    state_->barrier();
    std::memcpy(data, scratch_.data(), count * sizeof(float));
    return true;
  }
  bool doAllGather(const float *in, size_t count, float *out,
                   std::string &) override {
    state_->slots[rank_] = in;
    state_->barrier();
    for (int r = 0; r < state_->size; ++r)
      std::memcpy(out + r * count, state_->slots[r], count * sizeof(float));
    state_->barrier();
    return true;
  }
  bool doBroadcast(void *data, size_t bytes, int root, std::string &) override {
    state_->slots[rank_] = data;
    state_->barrier();
    if (rank_ != root)
      std::memcpy(data, state_->slots[root], bytes);
    state_->barrier();
    return true;
  }

private:
  std::shared_ptr<GroupState> state_;
  int rank_;
  std::vector<float> scratch_;
};

} // namespace

std::vector<std::unique_ptr<Communicator>> createThreadGroup(int size) {
  auto state = std::make_shared<GroupState>(size);
  std::vector<std::unique_ptr<Communicator>> group;
  for (int r = 0; r < size; ++r)
    group.push_back(std::make_unique<ThreadCommunicator>(state, r));
  return group;
}

} // namespace qrt
