//===- WeightMemory.cpp - memory for weights streamed once per token ------===//

#include "qrt/core/WeightMemory.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <sys/mman.h>

namespace qrt {
namespace {

constexpr size_t kHugePage = size_t(2) << 20;

// Linux 5.14 and later; older kernels answer EINVAL and the pages fault in
// as they are written.
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

} // namespace

std::unique_ptr<WeightMemory> WeightMemory::allocate(size_t bytes,
                                                     std::string &error) {
  const size_t mapped = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  // Map a huge page more than needed and trim both ends to align it.
  void *raw = ::mmap(nullptr, mapped + kHugePage, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    error = "cannot allocate " + std::to_string(bytes) +
            " bytes for weights: " + std::strerror(errno);
    return nullptr;
  }
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  // Head: aligned - start bytes (maybe none); tail: the rest of the extra
  // huge page (never none).
  if (aligned > start)
    ::munmap(raw, aligned - start);
  ::munmap(reinterpret_cast<void *>(aligned + mapped),
           start + kHugePage - aligned);
  uint8_t *data = reinterpret_cast<uint8_t *>(aligned);
#ifdef MADV_HUGEPAGE
  ::madvise(data, mapped, MADV_HUGEPAGE); // a hint: failure is harmless
#endif
  ::madvise(data, mapped, MADV_POPULATE_WRITE); // likewise
  std::unique_ptr<WeightMemory> memory(new WeightMemory());
  memory->data_ = data;
  memory->size_ = bytes;
  memory->mapped_ = mapped;
  return memory;
}

WeightMemory::~WeightMemory() {
  if (data_)
    ::munmap(data_, mapped_);
}

void WeightMemory::seal() { ::mprotect(data_, mapped_, PROT_READ); }

size_t WeightMemory::hugePageBytes() const {
  return hugePageBytesOf(data_, size_);
}

size_t hugePageBytesOf(const void *data, size_t size) {
  std::FILE *smaps = std::fopen("/proc/self/smaps", "r");
  if (!smaps)
    return 0;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data),
                  end = begin + size;
  size_t total = 0;
  bool inside = false;
  char line[512];
  while (std::fgets(line, sizeof line, smaps)) {
    uintptr_t from = 0, to = 0;
    // A mapping's first line: "from-to perms offset dev inode path".
    if (std::sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &from, &to) == 2) {
      inside = from < end && begin < to;
      continue;
    }
    size_t kib = 0;
    if (inside && std::sscanf(line, "AnonHugePages: %zu kB", &kib) == 1)
      total += kib * 1024;
  }
  std::fclose(smaps);
  return total;
}

} // namespace qrt
