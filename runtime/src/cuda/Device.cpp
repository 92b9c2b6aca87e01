//===- Device.cpp - what the CUDA backend needs of a GPU ------------------===//

#include "qrt/cuda/Device.h"

#include <algorithm>
#include <chrono>

namespace qrt::cuda {

Device::~Device() = default;

namespace {
bool noGraphs(const Device &device, std::string &error) {
  error = device.name() + " cannot run CUDA graphs";
  return false;
}
} // namespace

bool Device::beginCapture(std::string &error) { return noGraphs(*this, error); }

bool Device::endCapture(Graph &graph, std::string &error) {
  graph = nullptr;
  return noGraphs(*this, error);
}

bool Device::launchGraph(Graph, std::string &error) {
  return noGraphs(*this, error);
}

bool measureCopyBandwidth(Device &device, uint64_t bytes, int iterations,
                          double &gbPerSecond, std::string &error) {
  uint64_t source = 0, destination = 0;
  if (!device.allocate(bytes, source, error))
    return false;
  bool ok = device.allocate(bytes, destination, error) &&
            device.memset(source, 1, bytes, error) &&
            device.copyOnDevice(destination, source, bytes, error) &&
            device.synchronize(error);
  if (ok) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; ok && i < iterations; ++i)
      ok = device.copyOnDevice(destination, source, bytes, error);
    ok = ok && device.synchronize(error);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    gbPerSecond = 2.0 * double(bytes) * iterations / seconds / 1e9;
  }
  device.free(destination);
  device.free(source);
  return ok;
}

std::vector<KernelProfile>
sortedProfile(const std::map<std::string, KernelProfile> &byFunction) {
  std::vector<KernelProfile> out;
  for (const auto &entry : byFunction)
    out.push_back(entry.second);
  std::sort(out.begin(), out.end(),
            [](const KernelProfile &a, const KernelProfile &b) {
              return a.microseconds > b.microseconds;
            });
  return out;
}

} // namespace qrt::cuda
