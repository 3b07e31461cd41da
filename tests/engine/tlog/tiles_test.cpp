// C2SP tiles: paths and partial widths as the spec's examples give them, and inclusion proofs
// computed from tiles equal to RFC 6962 proofs computed from the whole tree.
#include "tlog/merkle.hpp"
#include "tlog/tiles.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace chainsd::tlog;

namespace {

std::vector<std::string> leaves(std::uint64_t n) {
  std::vector<std::string> out;
  out.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) out.push_back(leaf_hash("entry " + std::to_string(i)));
  return out;
}

// The tiles of a tree, built from the definition: tile n at level l holds
// MTH(D[(n*256 + i) * 256^l : (n*256 + i + 1) * 256^l]) for the complete subtrees it covers.
tile_map all_tiles(const std::vector<std::string>& l) {
  tile_map out;
  std::vector<std::string> level = l;
  for (unsigned lv = 0; !level.empty(); ++lv) {
    for (std::size_t t = 0; t * 256 < level.size(); ++t) {
      std::string bytes;
      for (std::size_t i = t * 256; i < level.size() && i < (t + 1) * 256; ++i) bytes += level[i];
      out[tile_in_tree(lv, t, l.size())] = bytes;
    }
    std::vector<std::string> up;
    for (std::size_t i = 0; i + 256 <= level.size(); i += 256)
      up.push_back(merkle_root(std::vector<std::string>(level.begin() + static_cast<long>(i),
                                                        level.begin() + static_cast<long>(i + 256))));
    level = std::move(up);
  }
  return out;
}

}  // namespace

TEST_CASE("tile paths encode the index in 3-digit groups") {
  CHECK(tile_path({0, 1234067, 256}) == "tile/0/x001/x234/067");
  CHECK(tile_path({0, 0, 256}) == "tile/0/000");
  CHECK(tile_path({2, 1000, 17}) == "tile/2/x001/000.p/17");
  CHECK(entry_bundle_path(19669, 256) == "tile/entries/x019/669");
  CHECK(entry_bundle_path(5, 3) == "tile/entries/005.p/3");
}

TEST_CASE("the spec's example: a tree of 70,000 leaves") {
  // 273 full level-0 tiles and a partial of width 112, a full level-1 tile and a partial of
  // width 17, and a partial level-2 tile of width 1.
  CHECK(tile_in_tree(0, 272, 70000).width == 256);
  CHECK(tile_in_tree(0, 273, 70000).width == 112);
  CHECK_THROWS(tile_in_tree(0, 274, 70000));
  CHECK(tile_in_tree(1, 0, 70000).width == 256);
  CHECK(tile_in_tree(1, 1, 70000).width == 17);
  CHECK_THROWS(tile_in_tree(1, 2, 70000));
  CHECK(tile_in_tree(2, 0, 70000).width == 1);
  CHECK_THROWS(tile_in_tree(3, 0, 70000));
  // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile of width 1"
  CHECK(tile_in_tree(0, 0, 256).width == 256);
  CHECK(tile_in_tree(1, 0, 256).width == 1);
  CHECK(entry_bundle_for(69999, 70000) == tile_id{0, 273, 112});
}

TEST_CASE("inclusion proofs from tiles equal RFC 6962 proofs, every leaf of small trees") {
  for (std::uint64_t size : {1u, 2u, 3u, 7u, 255u, 256u, 257u, 511u, 512u, 513u, 700u}) {
    auto l = leaves(size);
    auto tiles = all_tiles(l);
    auto root = merkle_root(l);
    // Every leaf of trees up to two tiles; the tile edges and every 23rd leaf of larger ones.
    for (std::uint64_t i = 0; i < size; i += (size <= 257 || i % 256 > 252 || i % 256 < 3) ? 1 : 23) {
      INFO("size " << size << " leaf " << i);
      auto proof = inclusion_proof_from_tiles(i, size, tiles);
      REQUIRE(proof == inclusion_proof(l, i));
      CHECK(root_from_inclusion_proof(i, size, l[i], proof) == root);
      // Only the tiles the planner names are needed.
      tile_map needed;
      for (const auto& t : tiles_for_inclusion(i, size)) needed[t] = tiles.at(t);
      CHECK(inclusion_proof_from_tiles(i, size, needed) == proof);
    }
  }
}

TEST_CASE("inclusion proofs from tiles in a three-level tree") {
  const std::uint64_t size = 70000;
  auto l = leaves(size);
  auto tiles = all_tiles(l);
  auto root = merkle_root(l);
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> picks{0, 255, 256, 65535, 65536, 69887, 69888, 69999};
  for (int i = 0; i < 8; ++i) picks.push_back(rng() % size);
  for (auto i : picks) {
    INFO("leaf " << i);
    tile_map needed;
    for (const auto& t : tiles_for_inclusion(i, size)) needed[t] = tiles.at(t);
    CHECK(needed.size() <= 6);
    auto proof = inclusion_proof_from_tiles(i, size, needed);
    CHECK(root_from_inclusion_proof(i, size, l[i], proof) == root);
  }
}

TEST_CASE("a missing or short tile and a truncated entry bundle are errors") {
  auto l = leaves(300);
  auto tiles = all_tiles(l);
  tiles.erase(tile_id{0, 1, 44});
  CHECK_THROWS_WITH(inclusion_proof_from_tiles(3, 300, tiles), Catch::Contains("tile/0/001.p/44 is missing"));
  tiles = all_tiles(l);
  tiles[tile_id{0, 0, 256}].pop_back();
  CHECK_THROWS_WITH(inclusion_proof_from_tiles(3, 300, tiles), Catch::Contains("bytes, expected 8192"));
  CHECK_THROWS(inclusion_proof_from_tiles(300, 300, tiles));

  std::string bundle = std::string("\x00\x02", 2) + "ab" + std::string("\x00\x01", 2) + "c";
  CHECK(parse_entry_bundle(bundle) == std::vector<std::string>{"ab", "c"});
  CHECK_THROWS_WITH(parse_entry_bundle(bundle.substr(0, bundle.size() - 1)), Catch::Contains("truncated"));
  CHECK_THROWS_WITH(parse_entry_bundle(bundle + std::string(1, '\0')), Catch::Contains("truncated"));
}
