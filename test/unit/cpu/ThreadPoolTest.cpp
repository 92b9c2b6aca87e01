//===- ThreadPoolTest.cpp - qrt::cpu::ThreadPool --------------------------===//

#include "qrt/cpu/Kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

using namespace qrt::cpu;

namespace {

TEST(ThreadPool, SizeCountsTheCaller) {
  EXPECT_EQ(ThreadPool(1).size(), 1);
  EXPECT_EQ(ThreadPool(3).size(), 3);
  unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_EQ(ThreadPool().size(), static_cast<int>(hardware));
  EXPECT_EQ(ThreadPool(0).size(), static_cast<int>(hardware));
}

// Every index of [0, n) is visited exactly once, chunks are disjoint and at
// least `grain` long except the one that ends at n.
TEST(ThreadPool, ChunksCoverTheRangeExactlyOnce) {
  for (int threads : {1, 2, 3, 5, 8}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 3, 7, 8, 9, 31, 100, 1000, 4099, 100000}) {
      for (int64_t grain : {0, 1, 2, 3, 7, 64, 1000, 200000}) {
        std::vector<std::atomic<int>> visits(static_cast<size_t>(n));
        std::mutex mutex;
        std::vector<std::pair<int64_t, int64_t>> chunks;
        pool.parallelFor(n, grain, [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i)
            visits[i].fetch_add(1, std::memory_order_relaxed);
          std::lock_guard<std::mutex> lock(mutex);
          chunks.emplace_back(begin, end);
        });
        SCOPED_TRACE(testing::Message() << "threads " << threads << " n " << n
                                        << " grain " << grain);
        for (int64_t i = 0; i < n; ++i)
          ASSERT_EQ(visits[i].load(), 1) << "index " << i;
        if (n == 0) {
          EXPECT_TRUE(chunks.empty());
          continue;
        }
        std::sort(chunks.begin(), chunks.end());
        EXPECT_EQ(chunks.front().first, 0);
        EXPECT_EQ(chunks.back().second, n);
        for (size_t c = 0; c < chunks.size(); ++c) {
          EXPECT_LT(chunks[c].first, chunks[c].second);
          if (c + 1 < chunks.size()) {
            EXPECT_EQ(chunks[c].second, chunks[c + 1].first);
            EXPECT_GE(chunks[c].second - chunks[c].first,
                      std::max<int64_t>(grain, 1));
          }
        }
        if (n <= grain) {
          EXPECT_EQ(chunks.size(), 1u);
        }
      }
    }
  }
}

TEST(ThreadPool, SmallRangesRunInlineOnTheCaller) {
  ThreadPool pool(3);
  std::thread::id caller = std::this_thread::get_id(), ran;
  pool.parallelFor(10, 10, [&](int64_t begin, int64_t end) {
    EXPECT_EQ(begin, 0);
    EXPECT_EQ(end, 10);
    ran = std::this_thread::get_id();
  });
  EXPECT_EQ(ran, caller);
}

TEST(ThreadPool, UsesTheWorkers) {
  ThreadPool pool(3);
  std::mutex mutex;
  std::vector<std::thread::id> seen;
  // Chunks that wait for each other can only finish if several threads run.
  std::atomic<int> arrived{0};
  pool.parallelFor(3, 1, [&](int64_t, int64_t) {
    arrived.fetch_add(1);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (arrived.load() < 3 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    std::lock_guard<std::mutex> lock(mutex);
    seen.push_back(std::this_thread::get_id());
  });
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::unique(seen.begin(), seen.end()) - seen.begin(), 3);
}

TEST(ThreadPool, ManyShortCallsInARow) {
  ThreadPool pool(3);
  std::atomic<int64_t> total{0};
  for (int call = 0; call < 20000; ++call)
    pool.parallelFor(12, 1, [&](int64_t begin, int64_t end) {
      total.fetch_add(end - begin);
    });
  EXPECT_EQ(total.load(), 12 * 20000);
}

TEST(ThreadPool, NestedCallsRunInline) {
  ThreadPool pool(3);
  std::atomic<int64_t> total{0};
  pool.parallelFor(6, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      pool.parallelFor(100, 1,
                       [&](int64_t b, int64_t e) { total.fetch_add(e - b); });
  });
  EXPECT_EQ(total.load(), 600);
}

TEST(ThreadPool, CallsFromSeveralThreadsAreSerialized) {
  ThreadPool pool(3);
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      for (int call = 0; call < 500; ++call)
        pool.parallelFor(64, 4, [&](int64_t begin, int64_t end) {
          total.fetch_add(end - begin);
        });
    });
  for (std::thread &caller : callers)
    caller.join();
  EXPECT_EQ(total.load(), 4 * 500 * 64);
}

TEST(ThreadPool, RethrowsTheFirstException) {
  ThreadPool pool(3);
  EXPECT_THROW(pool.parallelFor(1000, 1,
                                [&](int64_t begin, int64_t) {
                                  if (begin > 0)
                                    throw std::runtime_error("chunk failed");
                                }),
               std::runtime_error);
  // The pool still works afterwards.
  std::atomic<int64_t> total{0};
  pool.parallelFor(1000, 1, [&](int64_t begin, int64_t end) {
    total.fetch_add(end - begin);
  });
  EXPECT_EQ(total.load(), 1000);
}

} // namespace
