#pragma once
// RFC 6962 Merkle tree hashing and inclusion proofs: how a log proves an entry is in the tree
// whose root its checkpoint signs.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chainsd::tlog {

// SHA-256 of `data` (32 raw bytes).
std::string sha256(std::string_view data);
// SHA-256(0x00 || leaf) and SHA-256(0x01 || left || right): the domain separation that keeps a
// leaf from posing as an inner node.
std::string leaf_hash(std::string_view leaf);
std::string node_hash(std::string_view left, std::string_view right);

// The root that `proof` implies for the leaf hash at `index` in a tree of `size` leaves
// (RFC 9162 §2.1.3.2). Throws std::invalid_argument when the proof has the wrong length or the
// index is outside the tree.
std::string root_from_inclusion_proof(std::uint64_t index, std::uint64_t size, std::string_view leaf,
                                      const std::vector<std::string>& proof);

// Builders, for tests and the reference in them (O(n) per call).
std::string merkle_root(const std::vector<std::string>& leaf_hashes);
std::vector<std::string> inclusion_proof(const std::vector<std::string>& leaf_hashes, std::uint64_t index);

std::string to_hex(std::string_view bytes);
// Throws std::invalid_argument on odd length or a non-hex digit.
std::string from_hex(std::string_view hex);

}  // namespace chainsd::tlog
