// signer-kms's pure parts: the kmsref grammar of each provider, Vault's wire format and the
// classification of its answers, public keys and signature checks, token files.
#include <catch2/catch.hpp>

#include "kms_ref.hpp"
#include "public_key.hpp"
#include "token_file.hpp"
#include "vault_api.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <openssl/ec.h>
#include <openssl/pem.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace signer_kms;
namespace plugin = chainsd::plugin;

TEST_CASE("kmsref: each provider's forms, as sigstore's clients accept them") {
  auto ok = [](const char* s) { return parse_kms_ref(s); };
  auto v = ok("hashivault://release-key.v2");
  REQUIRE(v.ref);
  CHECK(v.ref->kind == provider::hashivault);
  CHECK(v.ref->key == "release-key.v2");
  for (const char* bad : {"hashivault://", "hashivault://-a", "hashivault://a/b", "hashivault://a.", "vault://k"}) {
    auto r = parse_kms_ref(bad);
    CHECK_FALSE(r.ref);
    CHECK_THAT(r.error, Catch::Contains("signers.kms.kmsref"));
  }
  auto a = ok("awskms:///1234abcd-12ab-34cd-56ef-1234567890ab");
  REQUIRE(a.ref);
  CHECK(a.ref->endpoint.empty());
  CHECK(a.ref->key == "1234abcd-12ab-34cd-56ef-1234567890ab");
  auto e = ok("awskms://localhost:4566/alias/release");
  REQUIRE(e.ref);
  CHECK(e.ref->endpoint == "localhost:4566");
  CHECK(e.ref->key == "alias/release");
  auto arn = ok("awskms:///arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab");
  REQUIRE(arn.ref);
  CHECK(arn.ref->region == "eu-west-1");
  CHECK(ok("awskms:///arn:aws:kms:us-east-2:111122223333:alias/x").ref->region == "us-east-2");
  CHECK_FALSE(ok("awskms:///not-a-key").ref);
  CHECK_FALSE(ok("awskms://1234abcd-12ab-34cd-56ef-1234567890ab").ref);  // no slash before the id
  auto g = ok("gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/3");
  REQUIRE(g.ref);
  CHECK(g.ref->key == "projects/p/locations/global/keyRings/r/cryptoKeys/k");
  CHECK(g.ref->version == "3");
  CHECK(ok("gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k").ref->version.empty());
  CHECK_FALSE(ok("gcpkms://projects/p/keyRings/r/cryptoKeys/k").ref);
  auto z = ok("azurekms://myvault.vault.azure.net/release");
  REQUIRE(z.ref);
  CHECK(z.ref->endpoint == "myvault.vault.azure.net");
  CHECK(z.ref->key == "release");
  CHECK_FALSE(ok("azurekms://onlyvault").ref);
  CHECK_THAT(ok("kms://x").error, Catch::Contains("hashivault://, awskms://, gcpkms://, azurekms:// or pkcs11:"));
}

namespace {

struct ec_key {
  EVP_PKEY* k = EVP_EC_gen("P-256");
  ~ec_key() { EVP_PKEY_free(k); }
  std::string pem() const {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, k);
    char* d = nullptr;
    long n = BIO_get_mem_data(b, &d);
    std::string s(d, static_cast<std::size_t>(n));
    BIO_free(b);
    return s;
  }
  std::string sign(std::string_view msg) const {
    EVP_MD_CTX* c = EVP_MD_CTX_new();
    EVP_DigestSignInit(c, nullptr, EVP_sha256(), nullptr, k);
    std::size_t n = 0;
    EVP_DigestSign(c, nullptr, &n, reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
    std::string sig(n, '\0');
    EVP_DigestSign(c, reinterpret_cast<unsigned char*>(sig.data()), &n,
                   reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
    sig.resize(n);
    EVP_MD_CTX_free(c);
    return sig;
  }
};

}  // namespace

TEST_CASE("vault: key read answer, sign request, sign answer") {
  ec_key k;
  std::string pem = k.pem();
  boost::json::object keys{{"1", {{"name", "P-256"}, {"public_key", "old"}}},
                           {"2", {{"name", "P-256"}, {"public_key", pem}}}};
  std::string body = boost::json::serialize(boost::json::object{
      {"data", {{"keys", keys}, {"latest_version", 2}, {"type", "ecdsa-p256"}}}});
  auto kv = vault::parse_key(body);
  REQUIRE(kv.has_value());
  CHECK(kv->version == 2);
  CHECK(kv->public_pem == pem);
  CHECK(vault::parse_key(R"({"data":{"keys":{},"latest_version":1}})").error().code == plugin::errc::bad_config);
  CHECK_FALSE(vault::parse_key("not json").has_value());

  std::string digest = sha256("message");
  auto req = boost::json::parse(vault::sign_request(digest, 2)).as_object();
  CHECK(req.at("input").as_string() == plugin::base64_encode(digest));
  CHECK(req.at("prehashed").as_bool());
  CHECK(req.at("key_version").to_number<int>() == 2);
  CHECK(req.at("signature_algorithm").as_string() == "pkcs1v15");

  std::string sig = k.sign("message");
  auto answer = [&](std::string s) { return R"({"data":{"key_version":2,"signature":")" + s + R"("}})"; };
  auto der = vault::parse_signature(answer("vault:v2:" + plugin::base64_encode(sig)), 2);
  REQUIRE(der.has_value());
  CHECK(*der == sig);
  CHECK_THAT(vault::parse_signature(answer("vault:v1:" + plugin::base64_encode(sig)), 2).error().message,
             Catch::Contains("vault:v2:"));
  CHECK_FALSE(vault::parse_signature(answer("vault:v2:%%%"), 2).has_value());
  CHECK_FALSE(vault::parse_signature(R"({"data":{}})", 2).has_value());

  auto pub = public_key_from_pem(pem);
  CHECK(verifies(pub, "message", sig));
  CHECK_FALSE(verifies(pub, "messagf", sig));
  ec_key other;
  CHECK_FALSE(verifies(pub, "message", other.sign("message")));
  CHECK_THROWS_AS(public_key_from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), key_error);
}

TEST_CASE("vault: answers are classified; Vault's reasons are kept") {
  std::string denied = R"({"errors":["permission denied"]})";
  auto e = vault::classify(403, denied, "Vault http://v transit key 'k' refused to sign");
  CHECK(e.code == plugin::errc::unauthenticated);
  CHECK_THAT(e.message, Catch::Contains("HTTP 403: permission denied") && Catch::Contains("signers.kms.auth.token"));
  CHECK(vault::classify(400, R"({"errors":["signing key not found"]})", "x").code == plugin::errc::bad_config);
  CHECK(vault::classify(404, R"({"errors":[]})", "x").code == plugin::errc::bad_config);
  CHECK(vault::classify(500, "", "x").code == plugin::errc::retryable);
  CHECK(vault::classify(503, R"({"errors":["Vault is sealed"]})", "x").message == "x: HTTP 503: Vault is sealed");
  CHECK(vault::classify(429, "", "x").code == plugin::errc::retryable);
  CHECK(vault::classify(405, "", "x").code == plugin::errc::permanent);
  CHECK(vault::reasons(R"({"errors":["a","b"]})") == "a; b");
}

TEST_CASE("token file: re-read when it changes, the last good token kept when it vanishes") {
  auto path = std::filesystem::temp_directory_path() / ("kms-token-" + std::to_string(::getpid()));
  auto write = [&](const char* t) {
    std::ofstream(path.string() + ".tmp") << t;
    std::filesystem::rename(path.string() + ".tmp", path);  // as a secret volume or an agent swaps it
  };
  write("first\n");
  token_file f(path.string(), "ignored");
  bool changed = true;
  CHECK(f.get(&changed) == "first");
  CHECK_FALSE(changed);
  write("second");
  CHECK(f.get(&changed) == "second");
  CHECK(changed);
  std::filesystem::remove(path);
  CHECK(f.get() == "second");
  CHECK_THROWS(token_file(path.string(), ""));
  token_file fixed("", "t");
  CHECK(fixed.get() == "t");
}
