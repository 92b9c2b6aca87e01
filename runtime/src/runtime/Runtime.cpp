//===- Runtime.cpp - the session factory ----------------------------------===//
//
// Session::create lives in the library that links the backends
// (QuantRuntime): it registers them (registerBuiltinBackends, generated from
// runtime/CMakeLists.txt) and asks the registry for the one the options
// name. No backend is named here.
//
//===----------------------------------------------------------------------===//

#include "qrt/runtime/Backend.h"

namespace qrt {

std::unique_ptr<Session> Session::create(const LoadedPlan &plan,
                                         const SessionOptions &options,
                                         std::string &error) {
  registerBuiltinBackends();
  std::string reason;
  const Backend *backend =
      chooseBackend(plan.plan(), options.device, reason, error);
  if (!backend)
    return nullptr;
  std::unique_ptr<Session> session = backend->create(plan, options, error);
  if (session)
    session->reason_ = reason;
  return session;
}

} // namespace qrt
