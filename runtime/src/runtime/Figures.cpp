//===- Figures.cpp - the figures of a run ---------------------------------===//

#include "qrt/runtime/Figures.h"

#include "qrt/core/Plan.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace qrt {

void Figures::add(const std::string &key, double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", value);
  items_.push_back({key, buf});
}

void Figures::add(const std::string &key, int64_t value) {
  items_.push_back({key, std::to_string(value)});
}

void Figures::addString(const std::string &key, const std::string &value) {
  items_.push_back({key, jsonQuoted(value)});
}

void Figures::addBool(const std::string &key, bool value) {
  items_.push_back({key, value ? "true" : "false"});
}

void Figures::addDetail(const std::string &key, const Figures &detail) {
  items_.push_back({key, detail.json()});
  details_.push_back(key);
}

std::string Figures::line() const {
  std::string line;
  for (const auto &[key, value] : items_)
    if (std::find(details_.begin(), details_.end(), key) == details_.end())
      line += (line.empty() ? "" : ", ") + key + " " + value;
  return line;
}

std::string Figures::json() const {
  std::string out = "{";
  for (size_t i = 0; i < items_.size(); ++i)
    out += (i ? ", " : "") + jsonQuoted(items_[i].first) + ": " +
           items_[i].second;
  return out + "}";
}

bool Figures::writeJson(const std::string &path, std::string &error) const {
  std::string tmp = path + ".tmp";
  {
    std::ofstream os(tmp);
    os << json() << "\n";
    if (!os) {
      error = path + ": cannot write";
      std::remove(tmp.c_str());
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = path + ": " + std::strerror(errno);
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

} // namespace qrt
