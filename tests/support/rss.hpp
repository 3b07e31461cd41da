#pragma once
// This process's resident set size (VmRSS of /proc/self/status) in KiB, for tests that show a
// refusal costs no memory; -1 when unknown.

#include <fstream>
#include <string>

namespace chainsd::test_support {

inline long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

}  // namespace chainsd::test_support

namespace test_support = chainsd::test_support;
