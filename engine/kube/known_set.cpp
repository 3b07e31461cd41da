#include "kube/known_set.hpp"

namespace chainsd::kube {

namespace {
int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// 8-4-4-4-12 lower- or upper-case hex.
bool pack_uuid(std::string_view s, std::array<std::uint8_t, 16>& out) {
  if (s.size() != 36) return false;
  std::size_t j = 0;
  for (std::size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
      ++i;
      continue;
    }
    int hi = hexval(s[i]), lo = hexval(s[i + 1]);
    // Upper-case would not round-trip; keep those as odd uids.
    if (hi < 0 || lo < 0 || (s[i] >= 'A' && s[i] <= 'F') || (s[i + 1] >= 'A' && s[i + 1] <= 'F'))
      return false;
    out[j++] = static_cast<std::uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return true;
}

std::string unpack_uuid(const std::array<std::uint8_t, 16>& u) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += hex[u[i] >> 4];
    s += hex[u[i] & 15];
  }
  return s;
}
}  // namespace

std::string known_set::make_key(std::string_view ns, std::string_view name) {
  std::string k;
  k.reserve(ns.size() + name.size() + 1);
  if (!ns.empty()) {
    k += ns;
    k += '/';
  }
  k += name;
  return k;
}

std::pair<std::string_view, std::string_view> known_set::split_key(std::string_view key) {
  auto slash = key.find('/');
  if (slash == std::string_view::npos) return {{}, key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

void known_set::set_uid(entry& e, std::string_view uid) {
  if (pack_uuid(uid, e.uid)) {
    e.odd_uid.reset();
  } else {
    e.uid = {};
    e.odd_uid = std::make_unique<std::string>(uid);
  }
}

std::string known_set::get_uid(const entry& e) {
  return e.odd_uid ? *e.odd_uid : unpack_uuid(e.uid);
}

bool known_set::same_uid(const entry& e, std::string_view uid) {
  if (e.odd_uid) return *e.odd_uid == uid;
  std::array<std::uint8_t, 16> u{};
  return pack_uuid(uid, u) && u == e.uid;
}

std::optional<event_type> known_set::upsert(std::string_view key, std::string_view uid,
                                            std::string_view rv, std::optional<forgotten>* replaced) {
  auto it = map_.find(key);
  if (it == map_.end()) {
    entry e;
    e.rv.assign(rv);
    set_uid(e, uid);
    e.generation = generation_;
    map_.emplace(std::string(key), std::move(e));
    return event_type::added;
  }
  entry& e = it->second;
  e.generation = generation_;
  if (!same_uid(e, uid)) {
    if (replaced) *replaced = forgotten{std::string(key), get_uid(e), e.rv};
    e.rv.assign(rv);
    set_uid(e, uid);
    return event_type::added;
  }
  if (e.rv == rv) return std::nullopt;
  e.rv.assign(rv);
  return event_type::modified;
}

bool known_set::erase(std::string_view key) {
  auto it = map_.find(key);
  if (it == map_.end()) return false;
  map_.erase(it);
  return true;
}

void known_set::begin_sweep() { ++generation_; }

std::vector<known_set::forgotten> known_set::end_sweep() {
  std::vector<forgotten> out;
  for (auto it = map_.begin(); it != map_.end();) {
    if (it->second.generation != generation_) {
      out.push_back(forgotten{it->first, get_uid(it->second), it->second.rv});
      it = map_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::string known_set::resource_version(std::string_view key) const {
  auto it = map_.find(key);
  return it == map_.end() ? std::string() : it->second.rv;
}

}  // namespace chainsd::kube
