//===- ThreadPool.cpp - Fixed pool of workers for parallel loops ----------===//
//
// One job at a time. The caller publishes a job under the mutex and bumps
// `generation`; workers that see the new generation take chunks from an
// atomic counter, as the caller does. When the caller runs out of chunks it
// closes the job (no worker may join afterwards) and waits until the workers
// that joined have finished. Workers and the waiting caller spin briefly
// before sleeping on a condition variable, since decode issues hundreds of
// short loops per token and a futex wake-up costs tens of microseconds.
//
//===----------------------------------------------------------------------===//

#include "qrt/cpu/Kernels.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QRT_CPU_RELAX() _mm_pause()
#else
#define QRT_CPU_RELAX() std::this_thread::yield()
#endif

namespace qrt::cpu {
namespace {

// About 20-50 microseconds of pause instructions on current x86 cores.
constexpr int kSpinIterations = 4000;
// Chunks per thread: some slack for threads the OS delays (two-core VMs
// running other work), few enough that each chunk stays long.
constexpr int64_t kChunksPerThread = 4;

thread_local bool insidePool = false;

} // namespace

struct ThreadPool::Impl {
  int threads = 1;
  std::vector<std::thread> workers;

  std::mutex callMutex; // serializes parallelFor calls from outside threads

  std::mutex mutex;
  std::condition_variable wake; // workers: a new generation or stop
  std::condition_variable idle; // caller: active reached 0
  std::atomic<uint64_t> generation{0};
  bool stop = false;
  bool jobOpen = false;
  std::atomic<int> active{0}; // workers inside the current job

  // The job, written under `mutex` before generation is bumped.
  const std::function<void(int64_t, int64_t)> *fn = nullptr;
  int64_t n = 0;
  int64_t chunk = 0;
  int64_t numChunks = 0;
  std::atomic<int64_t> nextChunk{0};
  std::exception_ptr error;

  void runChunks(const std::function<void(int64_t, int64_t)> &body,
                 int64_t count, int64_t size, int64_t chunks) {
    for (;;) {
      int64_t index = nextChunk.fetch_add(1, std::memory_order_relaxed);
      if (index >= chunks)
        return;
      int64_t begin = index * size;
      int64_t end = std::min(count, begin + size);
      try {
        body(begin, end);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error)
          error = std::current_exception();
        nextChunk.store(chunks, std::memory_order_relaxed);
        return;
      }
    }
  }

  void workerLoop() {
    insidePool = true;
    uint64_t seen = 0;
    for (;;) {
      for (int i = 0; i < kSpinIterations &&
                      generation.load(std::memory_order_acquire) == seen;
           ++i)
        QRT_CPU_RELAX();
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait(lock, [&] {
        return stop || generation.load(std::memory_order_relaxed) != seen;
      });
      if (stop)
        return;
      seen = generation.load(std::memory_order_relaxed);
      if (!jobOpen)
        continue; // the caller finished that job alone
      active.fetch_add(1, std::memory_order_relaxed);
      const std::function<void(int64_t, int64_t)> *body = fn;
      int64_t count = n, size = chunk, chunks = numChunks;
      lock.unlock();

      runChunks(*body, count, size, chunks);

      lock.lock();
      if (active.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        lock.unlock();
        idle.notify_one();
      }
    }
  }
};

ThreadPool::ThreadPool(int threads) : impl_(std::make_unique<Impl>()) {
  if (threads <= 0)
    threads =
        static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  impl_->threads = threads;
  impl_->workers.reserve(static_cast<size_t>(threads - 1));
  for (int i = 1; i < threads; ++i)
    impl_->workers.emplace_back([impl = impl_.get()] { impl->workerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stop = true;
  }
  impl_->wake.notify_all();
  for (std::thread &worker : impl_->workers)
    worker.join();
}

int ThreadPool::size() const { return impl_->threads; }

void ThreadPool::parallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t)> &fn) {
  if (n <= 0)
    return;
  grain = std::max<int64_t>(grain, 1);
  Impl &impl = *impl_;
  if (n <= grain || impl.threads == 1 || insidePool) {
    fn(0, n);
    return;
  }
  int64_t target = impl.threads * kChunksPerThread;
  int64_t chunk = std::max(grain, (n + target - 1) / target);
  int64_t numChunks = (n + chunk - 1) / chunk;
  if (numChunks == 1) {
    fn(0, n);
    return;
  }

  std::lock_guard<std::mutex> call(impl.callMutex);
  {
    std::lock_guard<std::mutex> lock(impl.mutex);
    impl.fn = &fn;
    impl.n = n;
    impl.chunk = chunk;
    impl.numChunks = numChunks;
    impl.nextChunk.store(0, std::memory_order_relaxed);
    impl.error = nullptr;
    impl.jobOpen = true;
    impl.generation.fetch_add(1, std::memory_order_release);
  }
  impl.wake.notify_all();

  insidePool = true;
  impl.runChunks(fn, n, chunk, numChunks);
  insidePool = false;

  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(impl.mutex);
    impl.jobOpen = false;
    if (impl.active.load(std::memory_order_acquire) != 0) {
      lock.unlock();
      for (int i = 0; i < kSpinIterations &&
                      impl.active.load(std::memory_order_acquire) != 0;
           ++i)
        QRT_CPU_RELAX();
      lock.lock();
      impl.idle.wait(lock, [&] {
        return impl.active.load(std::memory_order_acquire) == 0;
      });
    }
    impl.fn = nullptr;
    error = impl.error;
    impl.error = nullptr;
  }
  if (error)
    std::rethrow_exception(error);
}

} // namespace qrt::cpu
