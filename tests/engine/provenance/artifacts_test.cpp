#include <catch2/catch.hpp>

#include "provenance/artifacts.hpp"

#include <algorithm>
#include <cstdint>

using namespace chainsd::provenance;

namespace {
std::string render(const artifact_list& l) {
  std::string out;
  for (const auto& [name, digest] : l.items()) {
    out += name + "{";
    for (const auto& [alg, hex] : digest) out += alg + ":" + hex + ";";
    out += "} ";
  }
  return out;
}
result res(std::string name, std::string value) {
  result r;
  r.name = std::move(name);
  r.value.str = std::move(value);
  return r;
}
}  // namespace

TEST_CASE("artifacts with the same name and a shared digest merge (AppendSubjects)") {
  artifact_list l;
  l.add("a", {{"sha256", "1"}});
  l.add("b", {{"sha256", "1"}});
  l.add("a", {{"sha256", "1"}, {"sha512", "2"}});  // merges into the first
  l.add("a", {{"sha512", "2"}});                    // equal through the merged digest
  l.add("a", {{"sha256", "9"}});                    // same name, other digest: a new entry
  CHECK(render(l) == "a{sha256:1;sha512:2;} b{sha256:1;} a{sha256:9;} ");
}

TEST_CASE("a merge that overwrites a digest does not match through the old one") {
  artifact_list l;
  l.add("a", {{"sha1", "x"}, {"sha256", "1"}});
  l.add("a", {{"sha1", "x"}, {"sha256", "2"}});  // equal via sha1; sha256 becomes 2
  l.add("a", {{"sha256", "1"}});                 // no longer equal to anything
  CHECK(render(l) == "a{sha1:x;sha256:2;} a{sha256:1;} ");
}

TEST_CASE("an empty hex matches a missing algorithm, as a Go map lookup does") {
  artifact_list l;
  l.add("oci://x", {{"sha256", ""}});
  l.add("oci://x", {{"sha512", "5"}});
  CHECK(render(l) == "oci://x{sha256:;sha512:5;} ");
}

TEST_CASE("image pairs are matched by prefix and sorted; duplicates collapse") {
  const std::string d1 = "sha256:" + std::string(64, '1'), d2 = "sha256:" + std::string(64, '2');
  std::vector<result> rs{res("z-IMAGE_URL", "gcr.io/z"), res("a-IMAGE_DIGEST", d2), res("z-IMAGE_DIGEST", d1),
                         res("a-IMAGE_URL", " gcr.io/a\n"), res("IMAGES", "gcr.io/z@" + d1 + "\n\n,gcr.io/a:v2@" + d2),
                         res("lonely-IMAGE_URL", "gcr.io/l")};
  auto imgs = extract_oci_images(rs);
  REQUIRE(imgs.size() == 2);
  CHECK(imgs[0].repository == "gcr.io/a");
  CHECK(imgs[1].repository == "gcr.io/z");
}

TEST_CASE("spdx_git decorates URLs once") {
  CHECK(spdx_git("https://g/r") == "git+https://g/r.git");
  CHECK(spdx_git("git+https://g/r.git") == "git+https://g/r.git");
  CHECK(spdx_git("") == "git+.git");
}

TEST_CASE("long lists (indexed past the threshold) dedupe exactly like the plain upstream scan") {
  // The reference is upstream's quadratic AppendSubjects: the first same-named artifact sharing a
  // digest (an empty hex matching a missing algorithm) absorbs the new one's digests.
  auto equal = [](const digest_set& existing, const digest_set& digest) {
    for (const auto& [alg, hex] : existing) {
      auto it = digest.find(alg);
      if ((it == digest.end() ? std::string() : it->second) == hex) return true;
    }
    return false;
  };
  std::uint32_t seed = 12345;
  auto rnd = [&](std::uint32_t n) {
    seed = seed * 1664525u + 1013904223u;
    return (seed >> 8) % n;
  };
  const char* names[] = {"a", "b", "c", "d", "e"};
  const char* algs[] = {"sha1", "sha256", "sha512"};
  const char* hexes[] = {"", "1", "2", "3", "4", "5", "6", "7", "8"};
  int long_lists = 0;
  for (int round = 0; round < 200; ++round) {
    artifact_list l;
    std::vector<std::pair<std::string, digest_set>> ref;
    int n = 40 + static_cast<int>(rnd(150));
    for (int k = 0; k < n; ++k) {
      std::string name = names[rnd(5)];
      digest_set d;
      for (int a = 0, m = 1 + static_cast<int>(rnd(2)); a < m; ++a) d[algs[rnd(3)]] = hexes[rnd(9)];
      l.add(name, d);
      auto it = std::find_if(ref.begin(), ref.end(), [&](const auto& e) { return e.first == name && equal(e.second, d); });
      if (it != ref.end())
        for (const auto& [alg, hex] : d) it->second[alg] = hex;
      else
        ref.emplace_back(name, d);
    }
    REQUIRE(l.items() == ref);
    if (ref.size() > 32) ++long_lists;
  }
  CHECK(long_lists > 20);  // the indexed path was exercised
}
