#include "tlog/tiles.hpp"

#include "tlog/merkle.hpp"

#include <bit>
#include <cstdio>
#include <functional>
#include <set>
#include <stdexcept>

namespace chainsd::tlog {
namespace {

std::string encode_index(std::uint64_t n) {
  std::vector<unsigned> groups;
  do {
    groups.push_back(static_cast<unsigned>(n % 1000));
    n /= 1000;
  } while (n > 0);
  std::string out;
  for (std::size_t i = groups.size(); i-- > 0;) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%s%03u", i > 0 ? "x" : "", groups[i]);
    out += buf;
    if (i > 0) out += '/';
  }
  return out;
}

// Number of complete subtrees of 256^level leaves in a tree of `size` leaves.
std::uint64_t complete_at(unsigned level, std::uint64_t size) { return level >= 8 ? 0 : size >> (8 * level); }

// One hash of `level`: the Merkle tree hash of leaves [g * 256^level, (g + 1) * 256^level).
using level_hash = std::function<std::string(unsigned level, std::uint64_t g)>;

// MTH(D[lo:hi]) for the ranges RFC 6962's recursion visits: a complete aligned subtree is read
// from one tile (2^r hashes of the level below folded, for heights that are not multiples of 8);
// a range ending at the tree size is split as RFC 6962 splits it.
// `dry`: only visit (one hash per complete subtree names its tile), to plan the fetches.
std::string range_hash(std::uint64_t lo, std::uint64_t hi, const level_hash& get, bool dry) {
  std::uint64_t n = hi - lo;
  if (std::has_single_bit(n) && lo % n == 0) {
    auto height = static_cast<unsigned>(std::countr_zero(n));
    unsigned level = height / 8, r = height % 8;
    std::uint64_t first = lo >> (8 * level);
    if (dry) return get(level, first);  // the 2^r hashes lie in one tile
    std::vector<std::string> hashes;
    for (std::uint64_t i = 0; i < (std::uint64_t{1} << r); ++i) hashes.push_back(get(level, first + i));
    return merkle_root(hashes);
  }
  std::uint64_t k = std::bit_floor(n - 1);
  return node_hash(range_hash(lo, lo + k, get, dry), range_hash(lo + k, hi, get, dry));
}

std::vector<std::string> proof(std::uint64_t m, std::uint64_t size, const level_hash& get, bool dry = false) {
  std::vector<std::string> out;
  std::uint64_t lo = 0, hi = size;
  while (hi - lo > 1) {
    std::uint64_t k = std::bit_floor(hi - lo - 1);
    if (m < lo + k) {
      out.push_back(range_hash(lo + k, hi, get, dry));
      hi = lo + k;
    } else {
      out.push_back(range_hash(lo, lo + k, get, dry));
      lo += k;
    }
  }
  return {out.rbegin(), out.rend()};
}

void check_inside(std::uint64_t leaf_index, std::uint64_t tree_size) {
  if (leaf_index >= tree_size)
    throw std::invalid_argument("leaf " + std::to_string(leaf_index) + " is outside a tree of size " +
                                std::to_string(tree_size));
}

}  // namespace

std::string tile_path(const tile_id& t) {
  std::string p = "tile/" + std::to_string(t.level) + "/" + encode_index(t.index);
  if (t.width < 256) p += ".p/" + std::to_string(t.width);
  return p;
}

std::string entry_bundle_path(std::uint64_t bundle_index, unsigned width) {
  std::string p = "tile/entries/" + encode_index(bundle_index);
  if (width < 256) p += ".p/" + std::to_string(width);
  return p;
}

tile_id tile_in_tree(unsigned level, std::uint64_t index, std::uint64_t tree_size) {
  std::uint64_t count = complete_at(level, tree_size);
  if (index >= (count + 255) / 256)
    throw std::invalid_argument("a tree of size " + std::to_string(tree_size) + " has no tile " +
                                std::to_string(level) + "/" + std::to_string(index));
  std::uint64_t left = count - index * 256;
  return {level, index, static_cast<unsigned>(left < 256 ? left : 256)};
}

tile_id entry_bundle_for(std::uint64_t leaf_index, std::uint64_t tree_size) {
  check_inside(leaf_index, tree_size);
  return tile_in_tree(0, leaf_index / 256, tree_size);
}

std::vector<tile_id> tiles_for_inclusion(std::uint64_t leaf_index, std::uint64_t tree_size) {
  check_inside(leaf_index, tree_size);
  std::set<tile_id> seen;
  level_hash record = [&seen, tree_size](unsigned level, std::uint64_t g) {
    seen.insert(tile_in_tree(level, g / 256, tree_size));
    return std::string(32, '\0');
  };
  proof(leaf_index, tree_size, record, true);
  return {seen.begin(), seen.end()};
}

std::vector<std::string> inclusion_proof_from_tiles(std::uint64_t leaf_index, std::uint64_t tree_size,
                                                    const tile_map& tiles) {
  check_inside(leaf_index, tree_size);
  level_hash read = [&tiles, tree_size](unsigned level, std::uint64_t g) {
    auto id = tile_in_tree(level, g / 256, tree_size);
    auto it = tiles.find(id);
    if (it == tiles.end()) throw std::invalid_argument("tile " + tile_path(id) + " is missing");
    if (it->second.size() != std::size_t{id.width} * 32)
      throw std::invalid_argument("tile " + tile_path(id) + " has " + std::to_string(it->second.size()) +
                                  " bytes, expected " + std::to_string(id.width * 32));
    return it->second.substr(static_cast<std::size_t>(g % 256) * 32, 32);
  };
  return proof(leaf_index, tree_size, read);
}

std::vector<std::string> parse_entry_bundle(std::string_view bundle) {
  std::vector<std::string> out;
  for (std::size_t pos = 0; pos < bundle.size();) {
    if (bundle.size() - pos < 2) throw std::invalid_argument("entry bundle: truncated length prefix");
    std::size_t len = static_cast<unsigned char>(bundle[pos]) << 8 | static_cast<unsigned char>(bundle[pos + 1]);
    pos += 2;
    if (bundle.size() - pos < len) throw std::invalid_argument("entry bundle: truncated entry");
    out.emplace_back(bundle.substr(pos, len));
    pos += len;
  }
  return out;
}

}  // namespace chainsd::tlog
