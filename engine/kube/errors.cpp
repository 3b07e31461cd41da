#include "kube/errors.hpp"

#include <charconv>

namespace chainsd::kube {

namespace {
std::string describe(const api_status& s, std::string_view context) {
  std::string w;
  if (!context.empty()) {
    w += context;
    w += ": ";
  }
  w += std::to_string(s.code);
  if (!s.reason.empty()) {
    w += ' ';
    w += s.reason;
  }
  if (!s.message.empty()) {
    w += ": ";
    w += s.message;
  }
  return w;
}
}  // namespace

kube_error::kube_error(api_status s, std::string_view context)
    : std::runtime_error(describe(s, context)), status_(std::move(s)) {}

std::string& result::value() & {
  if (!ok()) throw kube_error(error());
  return body;
}

std::string result::value() && {
  if (!ok()) throw kube_error(error());
  return std::move(body);
}

std::chrono::milliseconds parse_retry_after(std::string_view v) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  long secs = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), secs);
  if (ec != std::errc() || p != v.data() + v.size() || secs < 0) return std::chrono::milliseconds(-1);
  return std::chrono::seconds(secs);
}

}  // namespace chainsd::kube
