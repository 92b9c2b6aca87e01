//===- WeightMemory.h - memory for weights streamed once per token -*- C++ -*-===//
//
// Decode reads every weight once per token, a stream far past the caches.
// Through 4 KiB pages that stream pays a TLB miss every 4 KiB, and the
// hardware prefetchers stop at every page boundary; on 2 MiB pages it does
// not. Measured on AMD EPYC (Zen 4), 1 thread, a 1 GiB sum: 23 GB/s
// through a file mapping, 27 from anonymous 4 KiB pages, 28-29 from
// anonymous huge pages (docs/runtime.md).
//
// WeightMemory is anonymous memory, 2 MiB-aligned, advised onto
// transparent huge pages (MADV_HUGEPAGE: the kernel's default mode,
// "madvise", gives them only to memory that asks) and populated up front
// (MADV_POPULATE_WRITE: filling it page fault by page fault took 10x
// longer with huge pages). Where the kernel has no huge pages it is
// ordinary anonymous memory.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CORE_WEIGHTMEMORY_H
#define QRT_CORE_WEIGHTMEMORY_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace qrt {

class WeightMemory {
public:
  /// `bytes` (> 0) of zeroed memory; nullptr and `error` when the system has
  /// none to give.
  static std::unique_ptr<WeightMemory> allocate(size_t bytes,
                                                std::string &error);
  ~WeightMemory();
  WeightMemory(const WeightMemory &) = delete;
  WeightMemory &operator=(const WeightMemory &) = delete;

  uint8_t *data() const { return data_; }
  size_t size() const { return size_; }
  /// Makes the memory read-only (weights, once written).
  void seal();
  /// Bytes of it that sit on huge pages now (AnonHugePages in
  /// /proc/self/smaps); 0 where the kernel does not say.
  size_t hugePageBytes() const;

private:
  WeightMemory() = default;
  uint8_t *data_ = nullptr;
  size_t size_ = 0;
  /// The whole mapping (size_ rounded up to 2 MiB).
  size_t mapped_ = 0;
};

/// Bytes of anonymous memory on huge pages in [data, data + size) per
/// /proc/self/smaps (the mappings that overlap it, whole); 0 where it cannot
/// be read.
size_t hugePageBytesOf(const void *data, size_t size);

} // namespace qrt

#endif // QRT_CORE_WEIGHTMEMORY_H
