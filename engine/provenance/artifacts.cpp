#include "provenance/artifacts.hpp"

#include <algorithm>
#include <unordered_set>

namespace chainsd::provenance {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string trim_space(std::string_view s) {
  constexpr std::string_view ws = " \t\n\r\v\f";
  auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(ws);
  return std::string(s.substr(b, e - b + 1));
}

// structuredSignableExtractor: pairs `<prefix><uri_suffix>` with `<prefix><digest_suffix>`.
std::vector<structured_artifact> pair_results(const std::vector<result>& results, std::string_view uri_suffix,
                                              std::string_view digest_suffix) {
  std::map<std::string, structured_artifact> partials;  // sorted by prefix: deterministic
  for (const auto& r : results) {
    for (int which = 0; which < 2; ++which) {
      auto suffix = which == 0 ? uri_suffix : digest_suffix;
      if (!ends_with(r.name, suffix)) continue;
      // A non-string result has an empty StringVal upstream and is skipped.
      auto value = r.value.type == param_value::kind::string ? trim_space(r.value.str) : std::string();
      if (value.empty()) continue;
      auto& p = partials[r.name.substr(0, r.name.size() - suffix.size())];
      (which == 0 ? p.uri : p.digest) = std::move(value);
    }
  }
  std::vector<structured_artifact> out;
  for (auto& [prefix, p] : partials)
    if (!p.uri.empty() && !p.digest.empty()) out.push_back(std::move(p));
  return out;
}

bool valid_artifact_object(const result& r) {
  auto uri = r.value.field("uri");
  auto digest = r.value.field("digest");
  if (!uri || uri->empty() || !digest || digest->empty()) return false;
  return parse_digest(*digest).has_value();
}

}  // namespace

namespace {
// A hash of (name, algorithm, hex): candidates found through it are re-checked, so a collision
// costs a comparison, never a wrong merge.
std::size_t digest_key(const std::string& name, const std::string& alg, const std::string& hex) {
  std::hash<std::string_view> h;
  std::size_t k = h(name);
  k ^= h(alg) + 0x9e3779b97f4a7c15ULL + (k << 6) + (k >> 2);
  k ^= h(hex) + 0x9e3779b97f4a7c15ULL + (k << 6) + (k >> 2);
  return k;
}

// artifactEqual: same name and some algorithm of `existing` whose hex equals the new one's
// (a missing algorithm reads as "" in Go).
bool artifact_equal(const digest_set& existing, const digest_set& digest) {
  return std::any_of(existing.begin(), existing.end(), [&](const auto& kv) {
    auto it = digest.find(kv.first);
    return (it == digest.end() ? std::string_view() : std::string_view(it->second)) == kv.second;
  });
}
}  // namespace

std::optional<std::size_t> artifact_list::find_equal(const std::string& name, const digest_set& digest) const {
  if (!indexed_) {  // the first equal item, as the index would find it
    for (std::size_t i = 0; i < items_.size(); ++i)
      if (items_[i].first == name && artifact_equal(items_[i].second, digest)) return i;
    return std::nullopt;
  }
  std::optional<std::size_t> best;
  auto consider = [&](std::size_t i) {
    if (best && *best <= i) return;
    if (items_[i].first == name && artifact_equal(items_[i].second, digest)) best = i;
  };
  for (const auto& [alg, hex] : digest) {
    auto it = by_digest_.find(digest_key(name, alg, hex));
    if (it == by_digest_.end()) continue;
    for (auto i : it->second) {
      if (best && *best <= i) break;
      consider(i);
    }
  }
  if (auto it = with_empty_hex_.find(name); it != with_empty_hex_.end())
    for (auto i : it->second) consider(i);
  return best;
}

void artifact_list::index(std::size_t i) {
  const auto& [name, digest] = items_[i];
  for (const auto& [alg, hex] : digest) {
    auto& v = by_digest_[digest_key(name, alg, hex)];
    if (v.empty() || v.back() != i) v.push_back(i);  // indices stay increasing per key
    if (hex.empty()) {
      auto& e = with_empty_hex_[name];
      if (e.empty() || e.back() != i) e.push_back(i);
    }
  }
}

void artifact_list::add(std::string name, digest_set digest) {
  if (auto i = find_equal(name, digest)) {
    for (auto& [alg, hex] : digest) items_[*i].second[alg] = hex;
    if (!indexed_) return;
    // A merged-in digest may index an older item after a newer one; keep each key's list sorted.
    for (const auto& [alg, hex] : items_[*i].second) {
      auto& v = by_digest_[digest_key(name, alg, hex)];
      if (std::find(v.begin(), v.end(), *i) == v.end()) v.insert(std::upper_bound(v.begin(), v.end(), *i), *i);
      if (hex.empty()) {
        auto& e = with_empty_hex_[name];
        if (std::find(e.begin(), e.end(), *i) == e.end()) e.insert(std::upper_bound(e.begin(), e.end(), *i), *i);
      }
    }
    return;
  }
  items_.emplace_back(std::move(name), std::move(digest));
  if (indexed_) {
    index(items_.size() - 1);
  } else if (items_.size() > index_threshold) {
    for (std::size_t k = 0; k < items_.size(); ++k) index(k);
    indexed_ = true;
  }
}

void artifact_list::add_all(const std::vector<std::pair<std::string, digest_set>>& items) {
  for (const auto& [n, d] : items) add(n, d);
}

void artifact_list::add_all(std::vector<std::pair<std::string, digest_set>>&& items) {
  for (auto& [n, d] : items) add(std::move(n), std::move(d));
}

std::vector<digest_ref> extract_oci_images(const std::vector<result>& results) {
  std::vector<digest_ref> out;
  std::unordered_set<std::string> seen;
  auto take = [&](const std::string& ref) {
    auto d = parse_digest_ref(ref);
    if (!d) return;
    if (!seen.insert(d->name()).second) return;
    out.push_back(std::move(*d));
  };
  for (const auto& p : pair_results(results, "IMAGE_URL", "IMAGE_DIGEST")) take(p.uri + "@" + p.digest);
  for (const auto& r : results) {
    if (r.name != "IMAGES" || r.value.type != param_value::kind::string) continue;
    const auto& s = r.value.str;
    std::size_t start = 0;
    while (start <= s.size()) {
      auto end = s.find_first_of(",\n", start);
      if (end == std::string::npos) end = s.size();
      auto item = trim_space(std::string_view(s).substr(start, end - start));
      if (!item.empty()) take(item);
      start = end + 1;
    }
  }
  for (const auto& a : extract_build_artifacts(results)) take(a.uri + "@" + a.digest);
  return out;
}

std::vector<structured_artifact> extract_signable_targets(const std::vector<result>& results) {
  auto pairs = pair_results(results, "ARTIFACT_URI", "ARTIFACT_DIGEST");
  std::vector<structured_artifact> out;
  for (auto& p : pairs)
    if (parse_digest(p.digest)) out.push_back(std::move(p));
  return out;
}

std::vector<structured_artifact> extract_structured(const std::vector<result>& results, std::string_view marker) {
  std::vector<structured_artifact> out;
  if (marker != "ARTIFACT_INPUTS" && marker != "ARTIFACT_OUTPUTS") return out;
  for (const auto& r : results) {
    if (!ends_with(r.name, marker) || r.value.type != param_value::kind::object) continue;
    if (!valid_artifact_object(r)) continue;
    out.push_back({*r.value.field("uri"), *r.value.field("digest")});
  }
  return out;
}

build_artifact_check check_build_artifact(const result& r) {
  if (!ends_with(r.name, "ARTIFACT_OUTPUTS")) return {};
  if (r.value.type != param_value::kind::object) return {false, true};
  auto flag = r.value.field("isBuildArtifact");
  if (!flag || *flag != "true") return {};
  if (!valid_artifact_object(r)) return {false, true};
  return {true, false};
}

std::vector<structured_artifact> extract_build_artifacts(const std::vector<result>& results) {
  std::vector<structured_artifact> out;
  for (const auto& r : results)
    if (check_build_artifact(r).is_build_artifact) out.push_back({*r.value.field("uri"), *r.value.field("digest")});
  return out;
}

std::vector<std::pair<std::string, digest_set>> materials_from_structured(const std::vector<result>& results) {
  std::vector<std::pair<std::string, digest_set>> out;
  for (const auto& s : extract_structured(results, "ARTIFACT_INPUTS")) {
    auto d = parse_digest(s.digest);
    if (!d) continue;
    out.push_back({s.uri, digest_set{{d->algorithm, d->hex}}});
  }
  return out;
}

std::string spdx_git(std::string url) {
  if (url.rfind("git+", 0) != 0) url = "git+" + url;
  if (!ends_with(url, ".git")) url += ".git";
  return url;
}

std::optional<std::pair<std::string, std::string>> split_digest(const std::string& digest) {
  auto colon = digest.find(':');
  if (colon == std::string::npos || digest.find(':', colon + 1) != std::string::npos) return std::nullopt;
  return std::make_pair(digest.substr(0, colon), digest.substr(colon + 1));
}

}  // namespace chainsd::provenance
