// The kms plugin (azurekms://) loaded through the real loader, with the engine's host services and
// HTTP client (TLS verified against the stand-in's certificate through SSL_CERT_FILE), against
// tests/support/azurekv-stub: managed-identity, client-secret and workload-identity tokens, the
// key read once, ES256 signatures (r||s → DER) verified by openssl, bad signatures, denials and
// expired tokens classified.
#include <catch2/catch.hpp>

#include "../../support/python_stub.hpp"
#include "../../support/run_awaitable.hpp"
#include "azure_api.hpp"
#include "kms_plugin.hpp"

#include <boost/json.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdlib>
#include <fstream>

using namespace chainsd;
using test_support::python_stub;
namespace json = boost::json;

namespace {

void clear_azure_env() {
  for (const char* v : {"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE",
                        "AZURE_AUTHORITY_HOST", "AZURE_POD_IDENTITY_AUTHORITY_HOST"})
    ::unsetenv(v);
}

struct env {
  python_stub kv{"AZUREKV_STUB", {"--key", "release", "--client", "app:app-secret", "--tls-self-signed", "@cert.pem"}};
  // Before the HTTP client exists: its TLS context reads OpenSSL's default paths once.
  bool trust = [this] {
    ::setenv("SSL_CERT_FILE", kv.file("cert.pem").c_str(), 1);
    return true;
  }();
  kms_test::engine_host eh;
  std::string base = "https://127.0.0.1:" + std::to_string(kv.port());

  env() {
    clear_azure_env();
    ::setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", base.c_str(), 1);
  }
  ~env() {
    clear_azure_env();
    ::unsetenv("SSL_CERT_FILE");
  }
  json::value stats() {
    plugin::http_request req;
    req.url = base + "/__stub/stats";
    return json::parse(test_support::run(eh.ctx, eh.host.http(std::move(req))).value().body);
  }
  void stub(const char* what, json::object doc) {
    plugin::http_request req;
    req.method = "POST";
    req.url = base + "/__stub/" + what;
    req.body = json::serialize(doc);
    REQUIRE(test_support::run(eh.ctx, eh.host.http(std::move(req))).value().status == 200);
  }
  plugin::result<std::unique_ptr<plugin::signer>> make(const std::string& ref) {
    return kms_test::registry().make_signer("kms", eh.host, {{"signers.kms.kmsref", ref}});
  }
  plugin::result<plugin::signature_result> sign(plugin::signer& s, std::string msg) {
    return test_support::run(eh.ctx, s.sign(std::move(msg)));
  }
  std::string ref() const { return "azurekms://127.0.0.1:" + std::to_string(kv.port()) + "/release"; }
};

}  // namespace

TEST_CASE("azure: r||s to DER, JWK to SubjectPublicKeyInfo, kid checks") {
  std::string raw(64, '\x01');
  auto der = signer_kms::azure::raw_to_der(raw);
  CHECK(der.size() == 70);  // SEQUENCE { INTEGER 32 bytes, INTEGER 32 bytes }, no sign padding needed
  CHECK(signer_kms::azure::raw_to_der(std::string(63, '\x01')).empty());
  CHECK(signer_kms::azure::parse_key(R"({"key":{"kty":"RSA","n":"AQ","e":"AQAB","kid":"x/keys/k/v"}})").error().code ==
        plugin::errc::bad_config);
  CHECK(signer_kms::azure::parse_signature(R"({"kid":"https://v/keys/k/other","value":"AA"})", "v1").error().code ==
        plugin::errc::permanent);
  auto t = signer_kms::azure::parse_token(R"({"access_token":"a","expires_in":"60"})", std::chrono::system_clock::now());
  REQUIRE(t.has_value());
  CHECK(t->token == "a");
}

TEST_CASE("kms azurekms: managed identity, the key read once, ES256 signatures verify") {
  env e;
  auto s = e.make(e.ref());
  REQUIRE(s.has_value());
  for (int i = 0; i < 3; ++i) {
    auto r = e.sign(**s, "azure " + std::to_string(i));
    REQUIRE(r.has_value());
    CHECK(kms_test::openssl_verifies((*s)->public_key_pem(), "azure " + std::to_string(i), r->signature));
    CHECK_FALSE(kms_test::openssl_verifies((*s)->public_key_pem(), "azure !", r->signature));
  }
  auto st = e.stats();
  CHECK(st.at("get_key").to_number<int>() == 1);
  CHECK(st.at("tokens").to_number<int>() == 1);
  CHECK(st.at("sign").at("release").to_number<int>() == 3);
}

TEST_CASE("kms azurekms: client secret and workload identity tokens") {
  env e;
  ::setenv("AZURE_AUTHORITY_HOST", e.base.c_str(), 1);
  ::setenv("AZURE_TENANT_ID", "tenant", 1);
  ::setenv("AZURE_CLIENT_ID", "app", 1);
  ::setenv("AZURE_CLIENT_SECRET", "app-secret", 1);
  auto s = e.make(e.ref());
  REQUIRE(s.has_value());
  REQUIRE(e.sign(**s, "secret").has_value());
  ::setenv("AZURE_CLIENT_SECRET", "wrong", 1);
  auto wrong = e.make(e.ref());
  REQUIRE(wrong.has_value());
  auto w = e.sign(**wrong, "m");
  REQUIRE_FALSE(w.has_value());
  CHECK(w.error().code == plugin::errc::unauthenticated);
  CHECK_THAT(w.error().message, Catch::Contains("invalid_client"));

  ::unsetenv("AZURE_CLIENT_SECRET");
  auto fed = e.kv.file("federated-token");
  std::ofstream(fed) << "eyJhbGciOiJSUzI1NiJ9." << signer_kms::azure::base64url_encode(R"({"aud":"api://AzureADTokenExchange"})")
                     << ".sig\n";
  ::setenv("AZURE_FEDERATED_TOKEN_FILE", fed.c_str(), 1);
  auto wi = e.make(e.ref());
  REQUIRE(wi.has_value());
  auto r = e.sign(**wi, "workload");
  REQUIRE(r.has_value());
  CHECK(kms_test::openssl_verifies((*wi)->public_key_pem(), "workload", r->signature));
  ::unsetenv("AZURE_TENANT_ID");
  auto incomplete = e.make(e.ref());
  REQUIRE_FALSE(incomplete.has_value());
  CHECK_THAT(incomplete.error().message, Catch::Contains("AZURE_TENANT_ID"));
}

TEST_CASE("kms azurekms: bad signatures, denials, throttling and expired tokens are classified") {
  env e;
  auto s = e.make(e.ref());
  REQUIRE(s.has_value());
  REQUIRE(e.sign(**s, "first").has_value());
  e.stub("fault", {{"fault", "bad-signature"}});
  auto bad = e.sign(**s, "m");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code == plugin::errc::permanent);
  CHECK_THAT(bad.error().message, Catch::Contains("(azurekms) returned a signature that does not verify"));
  e.stub("fault", {{"fault", "throttle:1"}});
  auto busy = e.sign(**s, "m");
  REQUIRE_FALSE(busy.has_value());
  CHECK(busy.error().code == plugin::errc::retryable);
  e.stub("revoke-tokens", {});
  auto expired = e.sign(**s, "m");
  REQUIRE_FALSE(expired.has_value());
  CHECK(expired.error().code == plugin::errc::retryable);
  CHECK(e.sign(**s, "m").has_value());
  e.stub("deny", {{"key", "release"}});
  auto denied = e.sign(**s, "m");
  REQUIRE_FALSE(denied.has_value());
  CHECK(denied.error().code == plugin::errc::unauthenticated);
  CHECK_THAT(denied.error().message, Catch::Contains("HTTP 403 Forbidden"));
  auto missing = e.make("azurekms://127.0.0.1:" + std::to_string(e.kv.port()) + "/nope");
  REQUIRE(missing.has_value());
  auto nf = e.sign(**missing, "m");
  REQUIRE_FALSE(nf.has_value());
  CHECK(nf.error().code == plugin::errc::bad_config);
}
