//===- Collectives.cpp - NCCL loaded at run time, and host staging --------===//

#include "qrt/cuda/Collectives.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <mutex>
#include <vector>

namespace qrt::cuda {

DeviceCollectives::~DeviceCollectives() = default;

namespace {

//===----------------------------------------------------------------------===//
// Host staging
//===----------------------------------------------------------------------===//

class HostStagedCollectives final : public DeviceCollectives {
public:
  HostStagedCollectives(Device &device, Communicator &communicator)
      : device_(device), communicator_(communicator) {}
  std::string name() const override {
    return "host-staged (" + communicator_.name() + ")";
  }
  int rank() const override { return communicator_.rank(); }
  int size() const override { return communicator_.size(); }
  bool allReduceSum(uint64_t data, uint64_t count,
                    std::string &error) override {
    host_.resize(count);
    return device_.copyToHost(host_.data(), data, count * sizeof(float),
                              error) &&
           communicator_.allReduceSum(host_.data(), count, error) &&
           device_.copyToDevice(data, host_.data(), count * sizeof(float),
                                error);
  }
  bool allGather(uint64_t in, uint64_t count, uint64_t out,
                 std::string &error) override {
    host_.resize(count);
    gathered_.resize(count * communicator_.size());
    return device_.copyToHost(host_.data(), in, count * sizeof(float),
                              error) &&
           communicator_.allGather(host_.data(), count, gathered_.data(),
                                   error) &&
           device_.copyToDevice(out, gathered_.data(),
                                gathered_.size() * sizeof(float), error);
  }

private:
  Device &device_;
  Communicator &communicator_;
  std::vector<float> host_, gathered_;
};

//===----------------------------------------------------------------------===//
// NCCL
//===----------------------------------------------------------------------===//

// The few NCCL types and values used (nccl.h, stable since NCCL 2.0).
using ncclResult_t = int;
using ncclComm_t = struct ncclComm *;
struct ncclUniqueId {
  char internal[128];
};
constexpr int kNcclFloat32 = 7;
constexpr int kNcclSum = 0;

struct NcclApi {
  ncclResult_t (*ncclGetVersion)(int *);
  ncclResult_t (*ncclGetUniqueId)(ncclUniqueId *);
  ncclResult_t (*ncclCommInitRank)(ncclComm_t *, int, ncclUniqueId, int);
  ncclResult_t (*ncclCommDestroy)(ncclComm_t);
  ncclResult_t (*ncclAllReduce)(const void *, void *, size_t, int, int,
                                ncclComm_t, void *);
  ncclResult_t (*ncclAllGather)(const void *, void *, size_t, int, ncclComm_t,
                                void *);
  const char *(*ncclGetErrorString)(ncclResult_t);
};

/// NCCL, loaded once per process; null and `error` if it cannot be.
const NcclApi *loadNccl(std::string &error) {
  static std::once_flag once;
  static NcclApi api;
  static bool loaded = false;
  static std::string failure;
  std::call_once(once, [] {
    const char *named = std::getenv("QRT_NCCL");
    std::vector<std::string> candidates;
    if (named && *named)
      candidates.push_back(named);
    else
      candidates = {"libnccl.so.2", "libnccl.so"};
    void *library = nullptr;
    for (const std::string &name : candidates)
      if ((library = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL)))
        break;
    if (!library) {
      failure = "no NCCL library (" + candidates.front() +
                " not found; set QRT_NCCL to its path)";
      return;
    }
    struct {
      const char *name;
      void **slot;
    } symbols[] = {
        {"ncclGetVersion", reinterpret_cast<void **>(&api.ncclGetVersion)},
        {"ncclGetUniqueId", reinterpret_cast<void **>(&api.ncclGetUniqueId)},
        {"ncclCommInitRank", reinterpret_cast<void **>(&api.ncclCommInitRank)},
        {"ncclCommDestroy", reinterpret_cast<void **>(&api.ncclCommDestroy)},
        {"ncclAllReduce", reinterpret_cast<void **>(&api.ncclAllReduce)},
        {"ncclAllGather", reinterpret_cast<void **>(&api.ncclAllGather)},
        {"ncclGetErrorString",
         reinterpret_cast<void **>(&api.ncclGetErrorString)},
    };
    for (auto &symbol : symbols)
      if (!(*symbol.slot = ::dlsym(library, symbol.name))) {
        failure = std::string("the NCCL library lacks ") + symbol.name;
        return;
      }
    loaded = true;
  });
  if (!loaded) {
    error = failure;
    return nullptr;
  }
  return &api;
}

class NcclCollectives final : public DeviceCollectives {
public:
  NcclCollectives(const NcclApi &api, ncclComm_t comm, void *stream, int rank,
                  int size, int version)
      : api_(api), comm_(comm), stream_(stream), rank_(rank), size_(size),
        version_(version) {}
  ~NcclCollectives() override { api_.ncclCommDestroy(comm_); }
  std::string name() const override {
    // NCCL_VERSION_CODE: major * 10000 + minor * 100 + patch (2.9+).
    return "nccl " + std::to_string(version_ / 10000) + "." +
           std::to_string(version_ / 100 % 100) + "." +
           std::to_string(version_ % 100);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  bool allReduceSum(uint64_t data, uint64_t count,
                    std::string &error) override {
    void *p = reinterpret_cast<void *>(data);
    return check(api_.ncclAllReduce(p, p, count, kNcclFloat32, kNcclSum,
                                    comm_, stream_),
                 "ncclAllReduce", error);
  }
  bool allGather(uint64_t in, uint64_t count, uint64_t out,
                 std::string &error) override {
    return check(api_.ncclAllGather(reinterpret_cast<const void *>(in),
                                    reinterpret_cast<void *>(out), count,
                                    kNcclFloat32, comm_, stream_),
                 "ncclAllGather", error);
  }

private:
  bool check(ncclResult_t result, const char *what, std::string &error) {
    if (result == 0)
      return true;
    error = std::string(what) + " failed: " + api_.ncclGetErrorString(result);
    return false;
  }
  const NcclApi &api_;
  ncclComm_t comm_;
  void *stream_;
  int rank_, size_;
  int version_;
};

} // namespace

std::unique_ptr<DeviceCollectives>
createHostStagedCollectives(Device &device, Communicator &communicator) {
  return std::make_unique<HostStagedCollectives>(device, communicator);
}

std::unique_ptr<DeviceCollectives>
openNcclCollectives(Device &device, Communicator &bootstrap,
                    std::string &error) {
  // Every rank loads NCCL and tells the others whether it could, so that no
  // rank waits in a broadcast the others never join.
  const NcclApi *api = loadNccl(error);
  float ok = api ? 1.0f : 0.0f;
  std::string ignored;
  if (!bootstrap.allReduceSum(&ok, 1, ignored))
    return nullptr;
  if (ok != float(bootstrap.size())) {
    if (api)
      error = "NCCL could not be loaded on every rank";
    return nullptr;
  }
  ncclUniqueId id;
  std::memset(&id, 0, sizeof(id));
  int result = 0;
  if (bootstrap.rank() == 0)
    result = api->ncclGetUniqueId(&id);
  float failed = result != 0 ? 1.0f : 0.0f;
  if (!bootstrap.allReduceSum(&failed, 1, error) ||
      !bootstrap.broadcast(&id, sizeof(id), 0, error))
    return nullptr;
  if (failed != 0.0f) {
    error = "ncclGetUniqueId failed on rank 0";
    return nullptr;
  }
  ncclComm_t comm = nullptr;
  result = api->ncclCommInitRank(&comm, bootstrap.size(), id, bootstrap.rank());
  if (result != 0) {
    error = std::string("ncclCommInitRank failed: ") +
            api->ncclGetErrorString(result);
    return nullptr;
  }
  int version = 0;
  api->ncclGetVersion(&version);
  return std::make_unique<NcclCollectives>(*api, comm, device.stream(),
                                           bootstrap.rank(), bootstrap.size(),
                                           version);
}

} // namespace qrt::cuda
