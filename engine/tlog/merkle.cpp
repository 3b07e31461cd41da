#include "tlog/merkle.hpp"

#include <openssl/sha.h>

#include <bit>
#include <stdexcept>

namespace chainsd::tlog {

std::string sha256(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return std::string(reinterpret_cast<const char*>(md), sizeof md);
}

std::string leaf_hash(std::string_view leaf) {
  std::string buf;
  buf.reserve(leaf.size() + 1);
  buf += '\0';
  buf += leaf;
  return sha256(buf);
}

std::string node_hash(std::string_view left, std::string_view right) {
  std::string buf;
  buf.reserve(left.size() + right.size() + 1);
  buf += '\1';
  buf += left;
  buf += right;
  return sha256(buf);
}

std::string root_from_inclusion_proof(std::uint64_t index, std::uint64_t size, std::string_view leaf,
                                      const std::vector<std::string>& proof) {
  if (index >= size)
    throw std::invalid_argument("inclusion proof: index " + std::to_string(index) + " is outside a tree of size " +
                                std::to_string(size));
  if (leaf.size() != 32) throw std::invalid_argument("inclusion proof: leaf hash is not 32 bytes");
  // The proof first climbs the levels where index and size-1 differ (inner), then folds in the
  // right border of the tree (one hash per set bit of what remains of the index).
  auto inner = static_cast<std::size_t>(std::bit_width(index ^ (size - 1)));
  auto border = static_cast<std::size_t>(std::popcount(index >> inner));
  if (proof.size() != inner + border)
    throw std::invalid_argument("inclusion proof: " + std::to_string(proof.size()) + " hashes, expected " +
                                std::to_string(inner + border));
  std::string h(leaf);
  for (std::size_t i = 0; i < proof.size(); ++i) {
    if (proof[i].size() != 32) throw std::invalid_argument("inclusion proof: a hash is not 32 bytes");
    if (i < inner && ((index >> i) & 1) == 0)
      h = node_hash(h, proof[i]);
    else
      h = node_hash(proof[i], h);
  }
  return h;
}

namespace {

std::string root_of(const std::vector<std::string>& l, std::size_t begin, std::size_t end) {
  if (end - begin == 1) return l[begin];
  std::size_t k = std::bit_floor(end - begin - 1);  // largest power of two < n
  return node_hash(root_of(l, begin, begin + k), root_of(l, begin + k, end));
}

void path(const std::vector<std::string>& l, std::size_t m, std::size_t begin, std::size_t end,
          std::vector<std::string>& out) {
  if (end - begin <= 1) return;
  std::size_t k = std::bit_floor(end - begin - 1);
  if (m < k) {
    path(l, m, begin, begin + k, out);
    out.push_back(root_of(l, begin + k, end));
  } else {
    path(l, m - k, begin + k, end, out);
    out.push_back(root_of(l, begin, begin + k));
  }
}

}  // namespace

std::string merkle_root(const std::vector<std::string>& leaf_hashes) {
  if (leaf_hashes.empty()) return sha256("");
  return root_of(leaf_hashes, 0, leaf_hashes.size());
}

std::vector<std::string> inclusion_proof(const std::vector<std::string>& leaf_hashes, std::uint64_t index) {
  if (index >= leaf_hashes.size()) throw std::invalid_argument("inclusion proof: index outside the tree");
  std::vector<std::string> out;
  path(leaf_hashes, static_cast<std::size_t>(index), 0, leaf_hashes.size(), out);
  return out;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto b = static_cast<unsigned char>(c);
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

std::string from_hex(std::string_view hex) {
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::invalid_argument("invalid hex digit");
  };
  if (hex.size() % 2) throw std::invalid_argument("odd-length hex");
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) out += static_cast<char>(val(hex[i]) << 4 | val(hex[i + 1]));
  return out;
}

}  // namespace chainsd::tlog
