//===- Figures.h - the figures of a run -------------------------*- C++ -*-===//
//
// Named figures (speed, memory, counts) in the order they were added, as
// quant-run prints them ("key value, key value") and writes them as JSON.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_RUNTIME_FIGURES_H
#define QRT_RUNTIME_FIGURES_H

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace qrt {

/// Time spent in one kernel function (a backend's profiling mode).
struct KernelProfile {
  std::string function;
  uint64_t calls = 0;
  double microseconds = 0;
};

class Figures {
public:
  void add(const std::string &key, double value);
  void add(const std::string &key, int64_t value);
  void addString(const std::string &key, const std::string &value);
  void addBool(const std::string &key, bool value);
  /// A nested object, written to the JSON only (line() leaves it out).
  void addDetail(const std::string &key, const Figures &detail);

  /// "key value, key value, ..." (details left out).
  std::string line() const;
  /// {"key": value, ...} on one line, details included.
  std::string json() const;
  /// {"key": value, ...} to `path` through a temporary file; false and
  /// `error` if it cannot be written (no partial file is left).
  bool writeJson(const std::string &path, std::string &error) const;
  /// (key, JSON value) pairs in order.
  const std::vector<std::pair<std::string, std::string>> &items() const {
    return items_;
  }

private:
  std::vector<std::pair<std::string, std::string>> items_;
  /// Keys of items_ that are details.
  std::vector<std::string> details_;
};

} // namespace qrt

#endif // QRT_RUNTIME_FIGURES_H
