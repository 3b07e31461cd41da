#include "tlog/merkle.hpp"

#include <catch2/catch.hpp>

using namespace chainsd::tlog;

namespace {

// The RFC 6962 reference vectors (certificate-transparency merkle_tree_test.cc).
std::vector<std::string> ct_leaves() {
  std::vector<std::string> raw{"", "\x00", "\x10", "\x20\x21", "\x30\x31", "\x40\x41\x42\x43",
                               "\x50\x51\x52\x53\x54\x55\x56\x57",
                               "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"};
  raw[1] = std::string(1, '\0');
  std::vector<std::string> out;
  for (const auto& r : raw) out.push_back(leaf_hash(r));
  return out;
}

const char* const roots[] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

}  // namespace

TEST_CASE("empty tree root is sha256 of nothing") {
  CHECK(to_hex(merkle_root({})) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("roots of the RFC 6962 reference trees") {
  auto leaves = ct_leaves();
  for (std::size_t n = 1; n <= leaves.size(); ++n) {
    std::vector<std::string> prefix(leaves.begin(), leaves.begin() + static_cast<long>(n));
    INFO("size " << n);
    CHECK(to_hex(merkle_root(prefix)) == roots[n - 1]);
  }
}

TEST_CASE("reference inclusion proof: leaf 0 of 8") {
  auto leaves = ct_leaves();
  auto proof = inclusion_proof(leaves, 0);
  REQUIRE(proof.size() == 3);
  CHECK(to_hex(proof[0]) == "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7");
  CHECK(to_hex(proof[1]) == "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e");
  CHECK(to_hex(proof[2]) == "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4");
  CHECK(to_hex(root_from_inclusion_proof(0, 8, leaves[0], proof)) == roots[7]);
}

TEST_CASE("every inclusion proof of every tree up to 40 leaves verifies, and only for its leaf") {
  std::vector<std::string> leaves;
  for (int i = 0; i < 40; ++i) leaves.push_back(leaf_hash("entry " + std::to_string(i)));
  for (std::size_t n = 1; n <= leaves.size(); ++n) {
    std::vector<std::string> t(leaves.begin(), leaves.begin() + static_cast<long>(n));
    auto root = merkle_root(t);
    for (std::size_t i = 0; i < n; ++i) {
      auto proof = inclusion_proof(t, i);
      INFO("size " << n << " index " << i);
      REQUIRE(root_from_inclusion_proof(i, n, t[i], proof) == root);
      if (n > 1) CHECK(root_from_inclusion_proof(i, n, t[(i + 1) % n], proof) != root);
      if (!proof.empty()) {
        auto bad = proof;
        bad.back()[0] = static_cast<char>(bad.back()[0] ^ 1);
        CHECK(root_from_inclusion_proof(i, n, t[i], bad) != root);
        bad.pop_back();
        CHECK_THROWS_AS(root_from_inclusion_proof(i, n, t[i], bad), std::invalid_argument);
      }
    }
  }
}

TEST_CASE("an index outside the tree is refused") {
  auto l = leaf_hash("x");
  CHECK_THROWS_AS(root_from_inclusion_proof(1, 1, l, {}), std::invalid_argument);
}
