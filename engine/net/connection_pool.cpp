#include "net/connection_pool.hpp"

#include <iterator>

namespace chainsd::net {

connection_ptr connection_pool::acquire(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& q = it->second;
  const auto now = std::chrono::steady_clock::now();
  while (!q.empty()) {
    auto e = std::move(q.back());
    q.pop_back();
    if (now - e.since > idle_keepalive_) {
      q.clear();  // the rest are older still
      break;
    }
    if (looks_alive(*e.conn)) return std::move(e.conn);
  }
  idle_.erase(it);
  return nullptr;
}

void connection_pool::release(const std::string& key, connection_ptr conn) {
  if (closed_ || max_idle_per_host_ == 0) return;
  const auto now = std::chrono::steady_clock::now();
  // Sweep every host, not just this one: a host that is never asked again would otherwise keep
  // its sockets open forever.
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto& old = it->second;
    while (!old.empty() && now - old.front().since > idle_keepalive_) old.pop_front();
    it = old.empty() ? idle_.erase(it) : std::next(it);
  }
  auto& q = idle_[key];
  q.push_back(entry{std::move(conn), now});
  while (q.size() > max_idle_per_host_) q.pop_front();
}

std::size_t connection_pool::idle_count() const {
  std::size_t n = 0;
  for (const auto& [key, q] : idle_) n += q.size();
  return n;
}

}  // namespace chainsd::net
