//===- FirstError.h - the first error of a chain of checks -----*- C++ -*-===//
//
// The plan verifiers (the core's and each backend's) check in order and stop
// at the first failure; FirstError keeps that failure's message, formatted
// from its parts, and makes `return fail(...)` read as the check it is.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CORE_FIRSTERROR_H
#define QRT_CORE_FIRSTERROR_H

#include <sstream>
#include <string>

namespace qrt {

class FirstError {
public:
  /// Records the message made of `parts` (unless one is recorded already)
  /// and returns false.
  template <typename... Parts> bool fail(Parts &&...parts) {
    if (message_.empty()) {
      std::ostringstream os;
      (os << ... << parts);
      message_ = os.str();
    }
    return false;
  }
  const std::string &message() const { return message_; }

private:
  std::string message_;
};

} // namespace qrt

#endif // QRT_CORE_FIRSTERROR_H
