//===- Plan.cpp - loading runtime plans -----------------------------------===//

#include "qrt/core/Plan.h"

#include "qrt/core/SyntheticWeights.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sstream>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace qrt {
namespace {

/// The `size` bytes of file `fd` in WeightMemory, read-only. pread, not a
/// copy from a mapping: the file's pages then stay out of this process's
/// memory (only the copy counts in its RSS).
std::unique_ptr<WeightMemory> readIntoWeightMemory(int fd, size_t size,
                                                   std::string &error) {
  std::unique_ptr<WeightMemory> copy = WeightMemory::allocate(size, error);
  if (!copy)
    return nullptr;
  for (size_t done = 0; done < size;) {
    const ssize_t n = ::pread(fd, copy->data() + done,
                              std::min<size_t>(size - done, size_t(1) << 26),
                              static_cast<off_t>(done));
    if (n <= 0) {
      error = n < 0 ? std::string("cannot read: ") + std::strerror(errno)
                    : "the file shrank while it was read";
      return nullptr;
    }
    done += static_cast<size_t>(n);
  }
  copy->seal();
  return copy;
}

} // namespace

std::unique_ptr<LoadedPlan> LoadedPlan::openFile(const std::string &path,
                                                 std::string &error,
                                                 const VerifyOptions &options,
                                                 PlanHome home) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = path + ": " + std::strerror(errno);
    return nullptr;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    error = path + ": not a regular file";
    return nullptr;
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    error = path + ": not a plan (" + std::to_string(size) + " bytes)";
    return nullptr;
  }
  void *base = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (base == MAP_FAILED) {
    ::close(fd);
    error = path + ": cannot map: " + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<LoadedPlan> plan(new LoadedPlan());
  plan->data_ = static_cast<const uint8_t *>(base);
  plan->size_ = size;
  plan->mapped_ = true;
  plan->name_ = path;
  const bool loaded =
      plan->load(options, error, home == PlanHome::WeightMemory ? fd : -1);
  ::close(fd);
  if (!loaded)
    return nullptr;
  return plan;
}

std::unique_ptr<LoadedPlan> LoadedPlan::openMemory(std::vector<uint8_t> bytes,
                                                   std::string &error,
                                                   const VerifyOptions &options,
                                                   const std::string &name) {
  std::unique_ptr<LoadedPlan> plan(new LoadedPlan());
  plan->name_ = name;
  // The FlatBuffer holds 64-bit fields and executables aligned to 16 bytes
  // from the start of the plan: the start must be at least that aligned
  // (operator new's memory is; a copy makes sure).
  if (reinterpret_cast<uintptr_t>(bytes.data()) % kExecutableAlignment != 0) {
    std::vector<uint8_t> copy;
    copy.reserve(bytes.size() + kExecutableAlignment);
    copy.assign(bytes.begin(), bytes.end());
    bytes.swap(copy);
  }
  plan->memory_ = std::move(bytes);
  plan->data_ = plan->memory_.data();
  plan->size_ = plan->memory_.size();
  if (!plan->load(options, error))
    return nullptr;
  return plan;
}

bool LoadedPlan::load(const VerifyOptions &options, std::string &error,
                      int copyFrom) {
  std::string problem;
  // The structure first; then the checksums of every weight, or, for a
  // split plan, of the rank's weights at selectRank.
  VerifyOptions structure = options;
  structure.checksums = false;
  if (!verifyPlan(data_, size_, structure, problem)) {
    error = name_ + ": " + problem;
    return false;
  }
  plan_ = planOf(data_);
  if (copyFrom >= 0 && worldSize() == 1 && !plan_->weightless()) {
    copy_ = readIntoWeightMemory(copyFrom, size_, problem);
    if (!copy_) {
      error = name_ + ": " + problem;
      return false;
    }
    ::munmap(const_cast<uint8_t *>(data_), size_);
    mapped_ = false;
    data_ = copy_->data();
    // The file may have changed since it was mapped: verify the copy.
    if (!verifyPlan(data_, size_, structure, problem)) {
      error = name_ + ": " + problem;
      return false;
    }
    plan_ = planOf(data_);
  }
  if (worldSize() > 1) {
    rankSelected_ = false;
    checksumsPending_ = options.checksums && !plan_->weightless();
  } else if (options.checksums && !plan_->weightless()) {
    std::vector<uint32_t> all(plan_->weights() ? plan_->weights()->size() : 0);
    for (uint32_t i = 0; i < all.size(); ++i)
      all[i] = i;
    if (!verifyWeightChecksums(*plan_, data_, all, problem)) {
      error = name_ + ": " + problem;
      return false;
    }
  }
  if (plan_->weightless() && !synthesize(problem)) {
    error = name_ + ": " + problem;
    return false;
  }
  return true;
}

bool LoadedPlan::synthesize(std::string &error) {
  SyntheticLayout layout = syntheticLayout(*plan_);
  std::string problem;
  synthetic_ = WeightMemory::allocate(
      std::max<size_t>(layout.bytes, kWeightAlignment), problem);
  if (!synthetic_) {
    error = "the weights of the weightless plan: " + problem;
    return false;
  }
  synthesizeWeights(*plan_, plan_->weight_seed(), layout, synthetic_->data());
  synthetic_->seal(); // read-only, as a mapped file
  syntheticOffsets_ = std::move(layout.offsets);
  return true;
}

const char *LoadedPlan::weightHome() const {
  if (synthetic_)
    return "synthesized";
  if (copy_)
    return "huge-page copy";
  return mapped_ ? "file mapping" : "memory";
}

size_t LoadedPlan::weightHugePageBytes() const {
  if (synthetic_)
    return synthetic_->hugePageBytes();
  return copy_ ? copy_->hugePageBytes() : 0;
}

LoadedPlan::~LoadedPlan() {
  if (mapped_ && data_)
    ::munmap(const_cast<uint8_t *>(data_), size_);
}

const void *LoadedPlan::weight(uint32_t index) const {
  if (synthetic_)
    return synthetic_->data() + syntheticOffsets_[index];
  if (rankMap_)
    index = rankMap_->Get(index);
  return data_ + plan_->weights()->Get(index)->offset();
}

void *LoadedPlan::mutableWeight(uint32_t index) {
  if (synthetic_ || mapped_ || copy_ || memory_.empty())
    return nullptr;
  if (rankMap_)
    index = rankMap_->Get(index);
  return memory_.data() + plan_->weights()->Get(index)->offset();
}

int LoadedPlan::worldSize() const {
  return plan_->sharding() ? plan_->sharding()->world_size() : 1;
}

bool LoadedPlan::selectRank(int rank, std::string &error) {
  if (rank < 0 || rank >= worldSize()) {
    error = name_ + ": the plan is split for " + std::to_string(worldSize()) +
            (worldSize() == 1 ? " rank" : " ranks") + ", not for rank " +
            std::to_string(rank);
    return false;
  }
  const fb::Sharding *sharding = plan_->sharding();
  const auto *map = sharding && sharding->rank_weights()
                        ? sharding->rank_weights()->Get(rank)->weights()
                        : nullptr;
  if (checksumsPending_) {
    std::string problem;
    if (!verifyWeightChecksums(*plan_, data_, weightsRead(*plan_, rank),
                               problem)) {
      error = name_ + ": " + problem;
      return false;
    }
  }
  rank_ = rank;
  rankMap_ = map;
  rankSelected_ = true;
  return true;
}

std::vector<uint32_t> weightsRead(const fb::Plan &plan, int rank) {
  const fb::Sharding *sharding = plan.sharding();
  const auto *map = rank >= 0 && sharding && sharding->rank_weights()
                        ? sharding->rank_weights()
                              ->Get(static_cast<uint32_t>(rank))
                              ->weights()
                        : nullptr;
  std::vector<bool> seen(plan.weights() ? plan.weights()->size() : 0);
  std::vector<uint32_t> read;
  for (const fb::Entry *e : *plan.entries())
    for (const fb::Step *step : *e->steps())
      for (const fb::Buffer *b : *step->inputs()) {
        if (b->kind() != fb::BufferKind::Weight)
          continue;
        uint32_t w = static_cast<uint32_t>(b->offset());
        if (map)
          w = map->Get(w);
        if (!seen[w]) {
          seen[w] = true;
          read.push_back(w);
        }
      }
  return read;
}

std::vector<uint64_t> rankWeightBytes(const fb::Plan &plan) {
  const fb::Sharding *sharding = plan.sharding();
  const int ranks =
      sharding && sharding->rank_weights() ? sharding->world_size() : 1;
  std::vector<uint64_t> bytes(static_cast<size_t>(ranks));
  for (int r = 0; r < ranks; ++r)
    for (uint32_t w : weightsRead(plan, r))
      bytes[r] += plan.weights()->Get(w)->size();
  return bytes;
}

QuantizedFigures quantizedFigures(const fb::Plan &plan) {
  QuantizedFigures f;
  std::vector<bool> seen(plan.weights() ? plan.weights()->size() : 0);
  for (const fb::Entry *e : *plan.entries())
    for (const fb::Step *step : *e->steps()) {
      if (step->kernel() != fb::Kernel::DequantMatMul &&
          step->kernel() != fb::Kernel::Int8MatMul)
        continue;
      uint64_t data = step->inputs()->Get(1)->offset();
      if (seen[data])
        continue;
      seen[data] = true;
      const fb::QuantScheme *q = step->quant();
      ++f.matrices;
      f.elements += q->rows() * q->cols();
      for (uint32_t c = 1; c < step->inputs()->size(); ++c)
        f.bytes += static_cast<int64_t>(
            plan.weights()->Get(step->inputs()->Get(c)->offset())->size());
      std::string name =
          q->kind() == fb::QuantKind::NF4 || q->kind() == fb::QuantKind::FP4
              ? std::string(q->kind() == fb::QuantKind::FP4 ? "fp4" : "nf4") +
                    " block " + std::to_string(q->group_size()) +
                    (q->double_quant() ? " double-quant" : "")
              : "int" + std::to_string(q->bits()) + " " +
                    (q->group_size() < 0
                         ? std::string("per-channel")
                         : "g" + std::to_string(q->group_size())) +
                    (q->symmetric() ? " sym" : " asym") +
                    (q->act_order() ? " act-order (g_idx)" : "") + " " +
                    fb::EnumNameDType(q->scale_type()) + " scales";
      if (step->int8_activations())
        name += ", 8-bit activations in blocks of 32";
      if (step->kernel() == fb::Kernel::Int8MatMul) {
        std::ostringstream threshold;
        threshold << step->outlier_threshold();
        name = "llm-int8: " + name +
               ", 8-bit activations, outlier threshold " + threshold.str();
      }
      if (f.schemes.find(name) == std::string::npos)
        f.schemes += (f.schemes.empty() ? "" : ", ") + name;
    }
  return f;
}

} // namespace qrt
