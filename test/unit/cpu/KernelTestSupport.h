//===- KernelTestSupport.h - shared pieces of the CPU kernel tests -*- C++ -*-===//

#ifndef QRT_TEST_CPU_KERNELTESTSUPPORT_H
#define QRT_TEST_CPU_KERNELTESTSUPPORT_H

#include "qrt/cpu/Kernels.h"

#include <random>
#include <string>
#include <vector>

namespace qrt::cpu::test {

/// Pools of 1, 2 and 3 threads, made once per test binary.
inline ThreadPool &pool(int threads) {
  static ThreadPool pools[] = {ThreadPool(1), ThreadPool(2), ThreadPool(3)};
  return pools[threads - 1];
}

/// `count` floats uniform in [low, high).
inline std::vector<float> uniform(std::mt19937 &rng, int64_t count, float low,
                                  float high) {
  std::uniform_real_distribution<float> dist(low, high);
  std::vector<float> out(static_cast<size_t>(count));
  for (float &value : out)
    value = dist(rng);
  return out;
}

/// Runs f() once per integer kernel the active build can take: with VNNI
/// (where the CPU has it) and without, as `kernelName` (e.g.
/// int8ActivationKernelName) tells them apart; once where both are one.
/// Leaves VNNI enabled.
template <typename F> void forEachVnniChoice(const char *(*kernelName)(), F f) {
  setVnniEnabled(true);
  const std::string withVnni = kernelName();
  f();
  setVnniEnabled(false);
  if (withVnni != kernelName())
    f();
  setVnniEnabled(true);
}

} // namespace qrt::cpu::test

#endif // QRT_TEST_CPU_KERNELTESTSUPPORT_H
