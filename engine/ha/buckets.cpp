#include "ha/buckets.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <stdexcept>

namespace chainsd::ha {

namespace {

constexpr std::uint64_t universe = 1u << 11;  // knative hash.universe
constexpr std::string_view start_salt = "start-angle-salt";

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// strconv.FormatUint(h, 16): lower-case, no leading zeros.
std::string_view hex(std::uint64_t h, std::array<char, 16>& buf) noexcept {
  std::size_t i = buf.size();
  do {
    buf[--i] = "0123456789abcdef"[h & 0xF];
    h >>= 4;
  } while (h != 0);
  return {buf.data() + i, buf.size() - i};
}

}  // namespace

std::vector<std::string> lease_names(std::string_view component, std::string_view queue, const election_config& c) {
  std::string prefix = std::string(component) + "." + std::string(queue);
  if (auto it = c.lease_name_prefixes.find(prefix); it != c.lease_name_prefixes.end() && !it->second.empty())
    prefix = it->second;
  std::vector<std::string> out;
  out.reserve(c.buckets);
  for (std::uint32_t i = 0; i < c.buckets; ++i) {
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, ".%02u-of-%02u", i, c.buckets);
    out.push_back(lower(prefix + suffix));
  }
  return out;
}

bucket_set::bucket_set(std::vector<std::string> names) : names_(std::move(names)) {
  std::sort(names_.begin(), names_.end());
  names_.erase(std::unique(names_.begin(), names_.end()), names_.end());
  if (names_.empty()) throw std::invalid_argument("bucket_set: no bucket names");
  if (names_.size() > max_size)
    throw std::invalid_argument("bucket_set: " + std::to_string(names_.size()) + " buckets, at most " +
                                std::to_string(max_size));
  after_name_.reserve(names_.size());
  for (const auto& n : names_) after_name_.push_back(fnv1a(n));
}

std::size_t bucket_set::index_of(std::string_view lease_name) const noexcept {
  auto it = std::lower_bound(names_.begin(), names_.end(), lease_name);
  return it != names_.end() && *it == lease_name ? static_cast<std::size_t>(it - names_.begin()) : npos;
}

std::size_t bucket_set::owner_of(std::string_view a, std::string_view b, std::string_view c) const noexcept {
  const std::size_t n = names_.size();
  // ChooseSubset returns the whole set when it has no more names than asked for.
  if (n == 1) return 0;
  // Lane i hashes name_i + key, lane n the key alone (for the start angle). One pass over the key
  // bytes advances every lane: the multiplications are independent, so they overlap in the CPU
  // instead of forming one long chain per bucket.
  std::array<std::uint64_t, max_size + 1> lane{};
  for (std::size_t i = 0; i < n; ++i) lane[i] = after_name_[i];
  lane[n] = fnv_offset;
  for (std::string_view part : {a, b, c})
    for (unsigned char ch : part)
      for (std::size_t i = 0; i <= n; ++i) lane[i] = (lane[i] ^ ch) * fnv_prime;
  const std::uint64_t start = fnv1a(start_salt, lane[n]) % universe;
  std::array<std::uint64_t, max_size> angle{};
  std::array<char, 16> buf{};
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t h = lane[i];
    std::uint64_t ang = h % universe;
    // A clash with an earlier (smaller) name: buildHashes appends the hash's hex digits to the
    // bytes hashed so far, which for FNV is continuing from the hash itself.
    while (std::find(angle.begin(), angle.begin() + static_cast<std::ptrdiff_t>(i), ang) !=
           angle.begin() + static_cast<std::ptrdiff_t>(i)) {
      h = fnv1a(hex(h, buf), h);
      ang = h % universe;
    }
    angle[i] = ang;
  }
  // sort.Search for the first angle >= start over the sorted angles, wrapping to the smallest.
  std::size_t best = npos, smallest = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (angle[i] < angle[smallest]) smallest = i;
    if (angle[i] >= start && (best == npos || angle[i] < angle[best])) best = i;
  }
  return best == npos ? smallest : best;
}

std::size_t bucket_set::owner(std::string_view ns, std::string_view name) const noexcept {
  return owner_of(ns, "/", name);
}

std::size_t bucket_set::owner(std::string_view key) const noexcept { return owner_of(key, {}, {}); }

}  // namespace chainsd::ha
