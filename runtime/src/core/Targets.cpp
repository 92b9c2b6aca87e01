//===- Targets.cpp - the registry of backend code -------------------------===//

#include "qrt/core/Targets.h"

#include <map>
#include <memory>
#include <mutex>

namespace qrt {

namespace {

struct Registry {
  std::mutex mutex;
  /// Entries are never removed: findTarget's pointers stay valid.
  std::map<std::string, std::unique_ptr<TargetSupport>> targets;
};

Registry &registry() {
  static Registry instance;
  return instance;
}

} // namespace

void registerTarget(TargetSupport support) {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto &slot = r.targets[support.name];
  if (!slot) // the first registration of a name stays
    slot = std::make_unique<TargetSupport>(std::move(support));
}

const TargetSupport *findTarget(const std::string &name) {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.targets.find(name);
  return it == r.targets.end() ? nullptr : it->second.get();
}

Executable executableOf(const fb::Plan &plan, const std::string &target) {
  if (plan.targets())
    for (const fb::TargetCode *code : *plan.targets())
      if (code->target() && code->target()->str() == target &&
          code->executable())
        return Executable{code->executable()->data(),
                          code->executable()->size()};
  return {};
}

} // namespace qrt
