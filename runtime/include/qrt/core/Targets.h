//===- Targets.h - what the core runtime knows of backend code --*- C++ -*-===//
//
// A plan's TargetCode holds a backend's executable: a FlatBuffer of the
// backend's own schema, opaque to the core. A backend that reads one
// registers its TargetSupport (the CUDA backend: qrt::cuda::registerTarget,
// called by its backend registration); the core verifier and the JSON view
// then call it for that target's code. Code of targets nobody registered is
// skipped (a plan with code for a later backend still loads). A backend
// verifies its code again before it runs it, whatever was registered when
// the plan was opened.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CORE_TARGETS_H
#define QRT_CORE_TARGETS_H

#include "qrt/schema/plan_generated.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace qrt {

/// A target's executable: the bytes of a TargetCode.
struct Executable {
  const uint8_t *data = nullptr;
  size_t size = 0;
};

struct TargetSupport {
  /// The TargetCode.target it reads ("cuda").
  std::string name;
  /// Verifies the executable against the plan (whose core the verifier
  /// already checked); false with `error`.
  std::function<bool(const fb::Plan &, Executable, std::string &error)> verify;
  /// Writes the verified executable as one JSON value.
  std::function<void(const fb::Plan &, Executable, std::ostream &)> json;
  /// The verified executable in a line ("cubin sm_80, sm_90; ptx
  /// compute_80; 42 kernels").
  std::function<std::string(Executable)> describe;
};

/// Registers (or replaces) the support of `support.name`. Thread-safe.
void registerTarget(TargetSupport support);
/// The support registered for `name`, or nullptr.
const TargetSupport *findTarget(const std::string &name);

/// The executable of `target` in a verified plan (null data: none).
Executable executableOf(const fb::Plan &plan, const std::string &target);

} // namespace qrt

#endif // QRT_CORE_TARGETS_H
