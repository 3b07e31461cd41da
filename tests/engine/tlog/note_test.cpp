// Signed notes and checkpoints: the C2SP signed-note example verifies with our Ed25519 key ID,
// ECDSA and RSA key IDs follow rekor-tiles, and every way a note can lie is refused.
#include "../../support/test_pki.hpp"
#include "chainsd/plugin/encoding.hpp"
#include "tlog/merkle.hpp"
#include "tlog/note.hpp"

#include <catch2/catch.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>

using namespace chainsd::tlog;
using chainsd::plugin::base64_decode;
using chainsd::plugin::base64_encode;
using chainsd::test_support::test_key;

namespace {

std::string ed25519_pem_from_raw(const std::string& raw) {
  EVP_PKEY* k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                            reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, k);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(k);
  return out;
}

std::string sig_line(const std::string& name, std::uint32_t id, const std::string& sig) {
  std::string raw;
  for (int s = 24; s >= 0; s -= 8) raw += static_cast<char>((id >> s) & 0xff);
  return "\xe2\x80\x94 " + name + " " + base64_encode(raw + sig) + "\n";
}

std::string signed_note(const std::string& text, const note_key& k, const test_key& key) {
  return text + "\n" + sig_line(k.name, k.key_id, key.sign(text));
}

std::string checkpoint_text(const std::string& origin, std::uint64_t size, const std::string& root) {
  return origin + "\n" + std::to_string(size) + "\n" + base64_encode(root) + "\n";
}

}  // namespace

TEST_CASE("the C2SP signed-note example verifies") {
  // signed-note.md: vkey example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k
  auto vkey = base64_decode("AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k");
  REQUIRE(vkey.size() == 33);
  REQUIRE(vkey[0] == '\x01');  // signature type Ed25519
  auto k = make_note_key("example.com/foo", ed25519_pem_from_raw(vkey.substr(1)));
  CHECK(k.kind == note_key::type::ed25519);
  CHECK(k.key_id == 0x530d903a);
  std::string note =
      "This is an example message.\n\n"
      "\xe2\x80\x94 example.com/foo "
      "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
  CHECK(verify_note(note, k) == "This is an example message.\n");
  // One flipped character of the text: the signature no longer verifies.
  auto bad = note;
  bad[3] = 'S';
  CHECK_THROWS_WITH(verify_note(bad, k), Catch::Contains("does not verify"));
}

TEST_CASE("key IDs: Ed25519 and RSA by name and key, ECDSA by the key alone (rekor-tiles)") {
  test_key ec, ed(test_key::type::ed25519), rsa(test_key::type::rsa2048);
  auto e1 = make_note_key("log.example/a", ec.public_pem());
  auto e2 = make_note_key("log.example/b", ec.public_pem());
  CHECK(e1.id == sha256(ec.public_der()));
  CHECK(e1.id == e2.id);  // the name does not enter an ECDSA key ID
  auto d = make_note_key("log.example/a", ed.public_pem());
  CHECK(d.id == sha256("log.example/a\n\x01" + ed.raw_public()));
  CHECK(make_note_key("log.example/b", ed.public_pem()).id != d.id);
  auto r = make_note_key("log.example/a", rsa.public_pem());
  CHECK(r.id == sha256(std::string("log.example/a\n\xff") + "PKIX-RSA-PKCS#1v1.5" + rsa.public_der()));
  CHECK(d.key_id == (static_cast<std::uint32_t>(static_cast<unsigned char>(d.id[0])) << 24 |
                     static_cast<std::uint32_t>(static_cast<unsigned char>(d.id[1])) << 16 |
                     static_cast<std::uint32_t>(static_cast<unsigned char>(d.id[2])) << 8 |
                     static_cast<std::uint32_t>(static_cast<unsigned char>(d.id[3]))));
  CHECK_THROWS_WITH(make_note_key("has space", ec.public_pem()), Catch::Contains("space"));
  CHECK_THROWS_WITH(make_note_key("a+b", ec.public_pem()), Catch::Contains("'+'"));
  CHECK_THROWS_WITH(make_note_key("", ec.public_pem()), Catch::Contains("empty"));
}

TEST_CASE("checkpoints signed by ECDSA, Ed25519 and RSA log keys verify; cosigners are ignored") {
  std::string root = sha256("root");
  for (auto t : {test_key::type::ecdsa_p256, test_key::type::ed25519, test_key::type::rsa2048}) {
    test_key log_key(t), witness(test_key::type::ed25519);
    auto k = make_note_key("127.0.0.1:4000", log_key.public_pem());
    auto w = make_note_key("witness.example/w1", witness.public_pem());
    std::string text = checkpoint_text(k.name, 42, root) + "ext line\n";
    std::string note = text + "\n" + sig_line(w.name, w.key_id, witness.sign(text)) +
                       sig_line(k.name, k.key_id, log_key.sign(text));
    auto cp = verify_checkpoint_note(note, k);
    CHECK(cp.origin == "127.0.0.1:4000");
    CHECK(cp.size == 42);
    CHECK(cp.root == root);
    REQUIRE(cp.extensions.size() == 1);
    CHECK(cp.extensions[0] == "ext line");
  }
}

TEST_CASE("a note that lies is refused, each with its reason") {
  test_key log_key, other;
  auto k = make_note_key("log.example", log_key.public_pem());
  std::string text = checkpoint_text("log.example", 7, sha256("r"));
  SECTION("signed by another key under the same name and key ID") {
    std::string note = text + "\n" + sig_line(k.name, k.key_id, other.sign(text));
    CHECK_THROWS_WITH(verify_note(note, k), Catch::Contains("does not verify"));
  }
  SECTION("only signed by others") {
    auto o = make_note_key("log.example", other.public_pem());
    std::string note = text + "\n" + sig_line(o.name, o.key_id, other.sign(text));
    CHECK_THROWS_WITH(verify_note(note, k), Catch::Contains("no signature by the log's key"));
  }
  SECTION("our key ID under another name is someone else's") {
    std::string note = text + "\n" + sig_line("other.example", k.key_id, log_key.sign(text));
    CHECK_THROWS_WITH(verify_note(note, k), Catch::Contains("no signature by the log's key"));
  }
  SECTION("another origin line") {
    std::string t2 = checkpoint_text("evil.example", 7, sha256("r"));
    CHECK_THROWS_WITH(verify_checkpoint_note(signed_note(t2, k, log_key), k), Catch::Contains("origin"));
  }
  SECTION("malformed") {
    CHECK_THROWS_WITH(verify_note(text, k), Catch::Contains("malformed"));
    CHECK_THROWS_WITH(verify_note(text + "\n\xe2\x80\x94 x\n", k), Catch::Contains("malformed signature line"));
    CHECK_THROWS_WITH(verify_note(text + "\nnot a signature\n", k), Catch::Contains("malformed signature line"));
    CHECK_THROWS_WITH(verify_note(text + "\n\xe2\x80\x94 log.example !!!\n", k), Catch::Contains("not base64"));
    CHECK_THROWS_WITH(parse_checkpoint("o\n07\n" + base64_encode(sha256("r")) + "\n"), Catch::Contains("tree size"));
    CHECK_THROWS_WITH(parse_checkpoint("o\n7\n" + base64_encode("short") + "\n"), Catch::Contains("32 bytes"));
    CHECK_THROWS_WITH(parse_checkpoint("o\n7\n"), Catch::Contains("fewer than three"));
  }
}
