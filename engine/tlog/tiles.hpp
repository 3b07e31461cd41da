#pragma once
// C2SP tlog-tiles (c2sp.org/tlog-tiles): the static read API of a tiled log such as Rekor v2.
// A tile at level L, index N holds up to 256 consecutive Merkle tree hashes of subtrees of
// 256^L leaves; entry bundles hold the entries themselves (uint16 length-prefixed). From the
// tiles any inclusion proof can be computed, which is how we prove an entry the log already had
// (a 409 on upload) without an online proof API. Pure: the client fetches, this computes.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace chainsd::tlog {

struct tile_id {
  unsigned level = 0;
  std::uint64_t index = 0;
  unsigned width = 256;  // < 256: a partial tile (path ends in ".p/<width>")
  auto operator<=>(const tile_id&) const = default;
};

// "tile/<L>/<N>[.p/<W>]" with N in zero-padded 3-digit groups, all but the last prefixed "x"
// (1234067 -> "x001/x234/067").
std::string tile_path(const tile_id& t);
// "tile/entries/<N>[.p/<W>]" for entry bundle N (entries 256*N .. 256*N+width-1).
std::string entry_bundle_path(std::uint64_t bundle_index, unsigned width);

// The tile of `level` and `index` as it exists in a tree of `tree_size` leaves (width 256 or
// partial). Throws std::invalid_argument when the tree has no such tile.
tile_id tile_in_tree(unsigned level, std::uint64_t index, std::uint64_t tree_size);
// The entry bundle holding leaf `leaf_index`, as a tile_id at level 0.
tile_id entry_bundle_for(std::uint64_t leaf_index, std::uint64_t tree_size);

// The tiles needed for the inclusion proof of `leaf_index` in a tree of `tree_size` leaves.
std::vector<tile_id> tiles_for_inclusion(std::uint64_t leaf_index, std::uint64_t tree_size);

using tile_map = std::map<tile_id, std::string>;  // raw tile bytes (32 bytes per hash)

// The RFC 6962 inclusion proof (leaf first) computed from `tiles`. Throws std::invalid_argument
// when a needed tile is missing or has the wrong length.
std::vector<std::string> inclusion_proof_from_tiles(std::uint64_t leaf_index, std::uint64_t tree_size,
                                                    const tile_map& tiles);

// The entries of an entry bundle. Throws std::invalid_argument when it is truncated.
std::vector<std::string> parse_entry_bundle(std::string_view bundle);

}  // namespace chainsd::tlog
