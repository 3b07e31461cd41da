#pragma once
// RFC 3339 UTC timestamps with second precision ("2006-01-02T15:04:05Z"), as Go's
// time.Now().UTC().Format(time.RFC3339) writes them (OCI annotations, Fulcio requests).

#include <chrono>
#include <ctime>
#include <string>

namespace chainsd::plugin {

inline std::string rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

inline std::string rfc3339_now() { return rfc3339(std::chrono::system_clock::now()); }

}  // namespace chainsd::plugin
