//===- Backend.h - backends register themselves -----------------*- C++ -*-===//
//
// A backend runs plans on one kind of device: the CPU kernels
// (runtime/src/cpu), the plan's generated CUDA kernels (runtime/src/cuda).
// Each backend's library defines a registration function that registers its
// Backend here (and the TargetSupport of its plan code, qrt/core/Targets.h);
// runtime/CMakeLists.txt lists the backends the build links
// (qrt_add_backend), and the runtime library generates
// registerBuiltinBackends() from that list. Session::create then picks a
// backend by name, or for "auto" the usable one that ranks first; nothing
// else in the runtime knows a backend by name. Adding a backend is a new
// folder under runtime/src and one qrt_add_backend line.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_RUNTIME_BACKEND_H
#define QRT_RUNTIME_BACKEND_H

#include "qrt/runtime/Session.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace qrt {

/// Whether a backend can run a plan on this machine.
struct BackendProbe {
  bool usable = false;
  /// Usable: why it suits the plan ("the plan has CUDA code and NVIDIA H100
  /// is present"); not usable: why not ("the plan has no CUDA code", "no
  /// CUDA driver (libcuda.so.1 not found)").
  std::string reason;
  /// The device, when usable ("NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB").
  std::string device;
};

struct Backend {
  /// The name SessionOptions::device and quant-run --device use.
  std::string name;
  /// Device "auto" picks the usable backend with the highest rank (the CPU:
  /// 0, always usable).
  int autoRank = 0;
  /// Whether it can run `plan` here. Cheap enough to call per session (a
  /// driver is loaded once per process).
  std::function<BackendProbe(const fb::Plan &plan)> probe;
  /// A session over `plan` (which outlives it); nullptr and `error` if it
  /// cannot run it.
  std::function<std::unique_ptr<Session>(
      const LoadedPlan &plan, const SessionOptions &options,
      std::string &error)>
      create;
  /// Whether its sessions time kernels (SessionOptions::profile).
  bool profiles = false;
  /// Optional: measures the device's memory bandwidth (quant-run
  /// --bandwidth); a line saying what was measured, or false and `error`.
  std::function<bool(std::string &report, std::string &error)> bandwidth;
};

/// Registers `backend` (a second registration of a name is ignored).
void registerBackend(Backend backend);
/// The backend named `name`, or nullptr.
const Backend *findBackend(const std::string &name);
/// Every registered backend, highest autoRank first.
std::vector<const Backend *> registeredBackends();

/// Registers every backend this build links (generated from
/// runtime/CMakeLists.txt's qrt_add_backend list; idempotent, thread-safe).
/// Session::create calls it; tools that list backends or open plans whose
/// target code should be verified at open call it first.
void registerBuiltinBackends();

/// The backend `device` names for `plan`: a registered name, or "auto".
/// nullptr and `error` for an unknown name or a backend that cannot run the
/// plan here; `reason` says why auto chose it.
const Backend *chooseBackend(const fb::Plan &plan, const std::string &device,
                             std::string &reason, std::string &error);

} // namespace qrt

#endif // QRT_RUNTIME_BACKEND_H
