// The kms plugin (hashivault://) loaded through the real loader, with the engine's host services
// and HTTP client, against tests/support/vault-stub: the key is read once, signatures are checked
// by the stand-in's own transit/verify (an independent implementation), bad signatures, revoked
// tokens, Vault outages and token file rotation are each classified as the engine needs.
#include <catch2/catch.hpp>

#include "../../support/python_stub.hpp"
#include "../../support/run_awaitable.hpp"
#include "kms_plugin.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/json.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <filesystem>
#include <fstream>

using namespace chainsd;
using test_support::python_stub;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

using kms_test::registry;

struct env : kms_test::engine_host {
  python_stub vault{"VAULT_STUB", {"--root-token", "root", "--key", "release"}};
  fs::path dir = vault.file("");

  // A request to the stand-in with the root token; returns status and parsed body.
  std::pair<unsigned, json::value> call(std::string method, std::string path, json::object body = {},
                                        std::string token = "root") {
    plugin::http_request req;
    req.method = std::move(method);
    req.url = vault.url() + path;
    req.headers = {{"X-Vault-Token", token}, {"Content-Type", "application/json"}};
    if (req.method != "GET") req.body = json::serialize(body);
    auto r = test_support::run(ctx, host.http(std::move(req))).value();
    return {r.status, r.body.empty() ? json::value() : json::parse(r.body)};
  }
  std::string new_token(const char* id) {
    auto [st, doc] = call("POST", "/v1/auth/token/create", {{"id", id}, {"policies", json::array{"root"}}});
    REQUIRE(st == 200);
    return std::string(doc.at("auth").at("client_token").as_string());
  }
  json::value stats() { return call("GET", "/__stub/stats").second; }
  void fault(const char* f) { call("POST", "/__stub/fault", {{"fault", f}}); }

  plugin::result<std::unique_ptr<plugin::signer>> make(plugin::config_map cfg) {
    return registry().make_signer("kms", host, cfg);
  }
  plugin::result<plugin::signature_result> sign(plugin::signer& s, std::string msg) {
    return test_support::run(ctx, s.sign(std::move(msg)));
  }
  // Vault's own verdict on a signature (transit/verify with the key's version 1).
  bool vault_verifies(const std::string& msg, const std::string& sig) {
    unsigned char d[32];
    SHA256(reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), d);
    auto [st, doc] = call("POST", "/v1/transit/verify/release/sha2-256",
                          {{"input", plugin::base64_encode(std::string(reinterpret_cast<char*>(d), 32))},
                           {"prehashed", true}, {"signature", "vault:v1:" + plugin::base64_encode(sig)}});
    return st == 200 && doc.at("data").at("valid").as_bool();
  }
  void write_token(const fs::path& p, const std::string& t) {
    std::ofstream(p.string() + ".tmp") << t << "\n";
    fs::rename(p.string() + ".tmp", p);
  }
};

}  // namespace

TEST_CASE("kms factory: bad references and missing auth are bad_config naming the key, without I/O") {
  env e;
  auto err = [&](plugin::config_map cfg) {
    auto s = e.make(std::move(cfg));
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error().code == plugin::errc::bad_config);
    return s.error().message;
  };
  CHECK_THAT(err({}), Catch::Contains("signers.kms.kmsref is not set"));
  CHECK_THAT(err({{"signers.kms.kmsref", "hashivault://a/b"}}), Catch::Contains("signers.kms.kmsref: invalid value"));
  ::unsetenv("VAULT_ADDR");
  ::unsetenv("VAULT_TOKEN");
  CHECK_THAT(err({{"signers.kms.kmsref", "hashivault://k"}}), Catch::Contains("signers.kms.auth.address"));
  CHECK_THAT(err({{"signers.kms.kmsref", "hashivault://k"}, {"signers.kms.auth.address", e.vault.url()}}),
             Catch::Contains("signers.kms.auth.token-path"));
  CHECK_THAT(err({{"signers.kms.kmsref", "hashivault://k"}, {"signers.kms.auth.address", e.vault.url()},
                  {"signers.kms.auth.token-path", "/nonexistent/token"}}),
             Catch::Contains("signers.kms.auth.token-path") && Catch::Contains("/nonexistent/token"));
  CHECK_THAT(err({{"signers.kms.kmsref", "hashivault://k"}, {"signers.kms.auth.address", "vault:8200"},
                  {"signers.kms.auth.token", "t"}}),
             Catch::Contains("wanted an http(s) URL"));
  CHECK(e.stats().at("requests").to_number<int>() == 1);  // this stats request only
}

TEST_CASE("kms hashivault: the key is read once, signatures verify with it and with Vault") {
  env e;
  auto s = e.make({{"signers.kms.kmsref", "hashivault://release"}, {"signers.kms.auth.address", e.vault.url() + "/"},
                   {"signers.kms.auth.token", "root"}});
  REQUIRE(s.has_value());
  CHECK((*s)->public_key_pem().empty());  // nothing read before the first sign
  for (int i = 0; i < 3; ++i) {
    std::string msg = "payload " + std::to_string(i);
    auto r = e.sign(**s, msg);
    REQUIRE(r.has_value());
    CHECK(e.vault_verifies(msg, r->signature));
    CHECK_FALSE(e.vault_verifies(msg + "!", r->signature));
  }
  auto [st, key] = e.call("GET", "/v1/transit/keys/release");
  CHECK((*s)->public_key_pem() == std::string(key.at("data").at("keys").at("1").at("public_key").as_string()));
  auto stats = e.stats();
  CHECK(stats.at("key_reads").at("release").to_number<int>() == 2);  // ours once, this test's once
  CHECK(stats.at("sign").at("release").to_number<int>() == 3);

  // A rotated key does not change what this signer signs with (pinned to the version it read).
  e.call("POST", "/v1/transit/keys/release/rotate");
  auto r = e.sign(**s, "after rotation");
  REQUIRE(r.has_value());
  CHECK(e.vault_verifies("after rotation", r->signature));
}

TEST_CASE("kms hashivault: a bad signature, a denied token, an outage and a missing key are classified") {
  env e;
  plugin::config_map cfg{{"signers.kms.kmsref", "hashivault://release"}, {"signers.kms.auth.address", e.vault.url()},
                         {"signers.kms.auth.token", e.new_token("revocable")}};
  auto s = e.make(cfg);
  REQUIRE(s.has_value());
  REQUIRE(e.sign(**s, "first").has_value());

  e.fault("bad-signature");
  auto bad = e.sign(**s, "m");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code == plugin::errc::permanent);
  CHECK_THAT(bad.error().message, Catch::Contains("hashivault") && Catch::Contains("does not verify"));

  e.fault("5xx:1");
  auto busy = e.sign(**s, "m");
  REQUIRE_FALSE(busy.has_value());
  CHECK(busy.error().code == plugin::errc::retryable);
  CHECK_THAT(busy.error().message, Catch::Contains("HTTP 500: internal error"));
  CHECK(e.sign(**s, "m").has_value());

  e.call("POST", "/v1/auth/token/revoke", {{"token", "revocable"}});
  int before = e.stats().at("sign").at("release").to_number<int>();
  auto denied = e.sign(**s, "m");
  REQUIRE_FALSE(denied.has_value());
  CHECK(denied.error().code == plugin::errc::unauthenticated);
  CHECK_THAT(denied.error().message, Catch::Contains("permission denied") && Catch::Contains(e.vault.url()));
  CHECK(e.stats().at("sign").at("release").to_number<int>() == before + 1);  // one call, no retry inside

  auto missing = e.make({{"signers.kms.kmsref", "hashivault://nope"}, {"signers.kms.auth.address", e.vault.url()},
                         {"signers.kms.auth.token", "root"}});
  REQUIRE(missing.has_value());
  auto nf = e.sign(**missing, "m");
  REQUIRE_FALSE(nf.has_value());
  CHECK(nf.error().code == plugin::errc::bad_config);
  CHECK_THAT(nf.error().message, Catch::Contains("'nope'") && Catch::Contains("HTTP 404"));

  auto down = e.make({{"signers.kms.kmsref", "hashivault://release"}, {"signers.kms.auth.address", "http://127.0.0.1:1"},
                      {"signers.kms.auth.token", "root"}});
  REQUIRE(down.has_value());
  auto unreachable = e.sign(**down, "m");
  REQUIRE_FALSE(unreachable.has_value());
  CHECK(unreachable.error().code == plugin::errc::retryable);
}

TEST_CASE("kms hashivault: token-path wins over token and is re-read when the file changes") {
  env e;
  auto path = e.dir / "vault-token";
  e.write_token(path, e.new_token("token-a"));
  auto s = e.make({{"signers.kms.kmsref", "hashivault://release"}, {"signers.kms.auth.address", e.vault.url()},
                   {"signers.kms.auth.token", "not-a-token"}, {"signers.kms.auth.token-path", path.string()}});
  REQUIRE(s.has_value());
  REQUIRE(e.sign(**s, "with a").has_value());
  e.write_token(path, e.new_token("token-b"));
  e.call("POST", "/v1/auth/token/revoke", {{"token", "token-a"}});
  auto r = e.sign(**s, "with b");
  REQUIRE(r.has_value());
  CHECK(e.vault_verifies("with b", r->signature));
}

namespace {

std::string b64url(std::string_view s) {
  auto out = plugin::base64_encode(s);
  for (auto& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

// An RS256 JWT as a Kubernetes projected service-account token would be, signed by `key`.
std::string make_jwt(EVP_PKEY* key, const std::string& aud) {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string input = b64url(R"({"alg":"RS256","typ":"JWT"})") + "." +
                      b64url(json::serialize(json::object{{"sub", "system:serviceaccount:tekton-chains:controller"},
                                                          {"aud", aud}, {"iat", now}, {"exp", now + 600}}));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t n = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, nullptr, &n, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  std::string sig(n, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &n,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  EVP_MD_CTX_free(ctx);
  sig.resize(n);
  return input + "." + b64url(sig);
}

std::string public_pem(EVP_PKEY* key) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(b, key);
  char* d = nullptr;
  long n = BIO_get_mem_data(b, &d);
  std::string s(d, static_cast<std::size_t>(n));
  BIO_free(b);
  return s;
}

}  // namespace

TEST_CASE("kms hashivault: JWT login (signers.kms.auth.oidc.*) with a service-account token file") {
  env e;
  EVP_PKEY* key = EVP_RSA_gen(2048);
  e.call("POST", "/v1/sys/policy/signer",
         {{"policy", "path \"transit/sign/release*\" { capabilities = [\"update\"] }\n"
                     "path \"transit/keys/release\" { capabilities = [\"read\"] }"}});
  e.call("POST", "/v1/auth/k8s/config", {{"jwt_validation_pubkeys", json::array{public_pem(key)}}});
  e.call("POST", "/v1/auth/k8s/role/chains",
         {{"role_type", "jwt"}, {"bound_audiences", json::array{"vault"}}, {"user_claim", "sub"},
          {"token_policies", json::array{"signer"}}});
  auto jwt_file = e.dir / "sa-token";
  e.write_token(jwt_file, make_jwt(key, "vault"));
  plugin::config_map cfg{{"signers.kms.kmsref", "hashivault://release"}, {"signers.kms.auth.address", e.vault.url()},
                         {"signers.kms.auth.oidc.path", "k8s"}, {"signers.kms.auth.oidc.role", "chains"},
                         {"signers.kms.auth.oidc.token-path", jwt_file.string()}};
  auto s = e.make(cfg);
  REQUIRE(s.has_value());
  for (int i = 0; i < 2; ++i) {
    auto r = e.sign(**s, "jwt " + std::to_string(i));
    REQUIRE(r.has_value());
    CHECK(e.vault_verifies("jwt " + std::to_string(i), r->signature));
  }
  CHECK(e.stats().at("logins").to_number<int>() == 1);  // one login for both

  e.write_token(jwt_file, make_jwt(key, "not-vault"));
  auto other = e.make(cfg);
  REQUIRE(other.has_value());
  auto r = e.sign(**other, "m");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == plugin::errc::unauthenticated);
  CHECK_THAT(r.error().message, Catch::Contains("login at auth/k8s as role 'chains'") && Catch::Contains("audience"));
  EVP_PKEY_free(key);
}
