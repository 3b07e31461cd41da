#include "reconciler/echo_filter.hpp"

#include <charconv>

namespace chainsd::reconciler {
namespace {

std::optional<unsigned long long> rv_number(const std::string& rv) {
  unsigned long long v = 0;
  auto [p, ec] = std::from_chars(rv.data(), rv.data() + rv.size(), v);
  if (ec != std::errc() || p != rv.data() + rv.size()) return std::nullopt;
  return v;
}

}  // namespace

bool older_version(const std::string& rv, const std::string& than) {
  auto a = rv_number(rv), b = rv_number(than);
  return a && b && *a < *b;
}

void echo_filter::remember(const std::string& uid, std::string resource_version, std::string parent) {
  notes_[uid] = {std::move(resource_version), clock_.now() + ttl_, std::move(parent)};
}

echo_filter::result echo_filter::check(const std::string& uid, const std::string& resource_version) {
  auto it = notes_.find(uid);
  if (it == notes_.end()) return {};
  if (resource_version == it->second.rv) {
    if (it->second.echoed) return {verdict::stale, {}};  // seen already: a held list's copy
    result r{verdict::echo, std::move(it->second.parent)};
    if (holds_ > 0)
      it->second.echoed = true;
    else
      notes_.erase(it);
    return r;
  }
  if (older_version(it->second.rv, resource_version)) {
    notes_.erase(it);
    return {};
  }
  return {verdict::stale, {}};
}

void echo_filter::release() {
  if (holds_ > 0 && --holds_ == 0)
    for (auto it = notes_.begin(); it != notes_.end();) it = it->second.echoed ? notes_.erase(it) : std::next(it);
}

void echo_filter::sweep() {
  auto now = clock_.now();
  if (now < next_sweep_) return;  // O(notes): at most once a second, not per wake-up
  next_sweep_ = now + std::chrono::seconds(1);
  for (auto it = notes_.begin(); it != notes_.end();) it = it->second.expires < now ? notes_.erase(it) : std::next(it);
}

}  // namespace chainsd::reconciler
