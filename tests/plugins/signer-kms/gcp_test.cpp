// The kms plugin (gcpkms://) loaded through the real loader, with the engine's host services and
// HTTP client, against tests/support/gcpkms-stub: metadata-server and service-account tokens, the
// latest enabled version or a pinned one, publicKey once, asymmetricSign verified by the
// stand-in's key, CRC32C corruption, bad signatures, denials and outages classified.
#include <catch2/catch.hpp>

#include "../../support/python_stub.hpp"
#include "../../support/run_awaitable.hpp"
#include "kms_plugin.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/json.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdlib>

using namespace chainsd;
using test_support::python_stub;
namespace json = boost::json;

namespace {

const std::string key = "projects/p/locations/global/keyRings/r/cryptoKeys/release";

struct env : kms_test::engine_host {
  python_stub kms{"GCPKMS_STUB", {"--key", "release", "--service-account-out", "@sa.json"}};

  env() {
    ::unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    ::setenv("CHAINSD_GCPKMS_ENDPOINT", kms.url().c_str(), 1);
    ::setenv("GCE_METADATA_HOST", ("127.0.0.1:" + std::to_string(kms.port())).c_str(), 1);
  }
  ~env() {
    for (const char* v : {"GOOGLE_APPLICATION_CREDENTIALS", "CHAINSD_GCPKMS_ENDPOINT", "GCE_METADATA_HOST"}) ::unsetenv(v);
  }
  json::value get(const std::string& path) {
    plugin::http_request req;
    req.url = kms.url() + path;
    return json::parse(test_support::run(ctx, host.http(std::move(req))).value().body);
  }
  void stub(const char* what, json::object doc) {
    plugin::http_request req;
    req.method = "POST";
    req.url = kms.url() + "/__stub/" + what;
    req.body = json::serialize(doc);
    REQUIRE(test_support::run(ctx, host.http(std::move(req))).value().status == 200);
  }
  json::value stats() { return get("/__stub/stats"); }
  plugin::result<std::unique_ptr<plugin::signer>> make(const std::string& ref) {
    return kms_test::registry().make_signer("kms", host, {{"signers.kms.kmsref", ref}});
  }
  plugin::result<plugin::signature_result> sign(plugin::signer& s, std::string msg) {
    return test_support::run(ctx, s.sign(std::move(msg)));
  }
};

}  // namespace

TEST_CASE("kms gcpkms: metadata-server token, latest enabled version, publicKey once, signatures verify") {
  env e;
  auto s = e.make("gcpkms://" + key);
  REQUIRE(s.has_value());
  for (int i = 0; i < 3; ++i) {
    auto r = e.sign(**s, "gcp " + std::to_string(i));
    REQUIRE(r.has_value());
    CHECK(kms_test::openssl_verifies((*s)->public_key_pem(), "gcp " + std::to_string(i), r->signature));
  }
  auto st = e.stats();
  CHECK(st.at("public_key").to_number<int>() == 1);
  CHECK(st.at("list").to_number<int>() == 1);
  CHECK(st.at("tokens").to_number<int>() == 1);
  CHECK(st.at("sign").at(key + "/cryptoKeyVersions/1").to_number<int>() == 3);
}

TEST_CASE("kms gcpkms: a service-account key file and a pinned version") {
  env e;
  ::setenv("GOOGLE_APPLICATION_CREDENTIALS", e.kms.file("sa.json").c_str(), 1);
  auto s = e.make("gcpkms://" + key + "/cryptoKeyVersions/1");
  REQUIRE(s.has_value());
  auto r = e.sign(**s, "sa");
  REQUIRE(r.has_value());
  CHECK(kms_test::openssl_verifies((*s)->public_key_pem(), "sa", r->signature));
  CHECK(e.stats().at("list").to_number<int>() == 0);  // pinned: no listing
  ::setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/sa.json", 1);
  auto bad = e.make("gcpkms://" + key);
  REQUIRE_FALSE(bad.has_value());
  CHECK_THAT(bad.error().message, Catch::Contains("GOOGLE_APPLICATION_CREDENTIALS /nonexistent/sa.json"));
}

TEST_CASE("kms gcpkms: corruption, bad signatures, denials, outages and expired tokens are classified") {
  env e;
  auto s = e.make("gcpkms://" + key);
  REQUIRE(s.has_value());
  REQUIRE(e.sign(**s, "first").has_value());
  auto expect = [&](const char* fault, plugin::errc code, const char* text) {
    e.stub("fault", {{"fault", fault}});
    auto r = e.sign(**s, "m");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == code);
    CHECK_THAT(r.error().message, Catch::Contains(text));
  };
  expect("bad-crc", plugin::errc::retryable, "signatureCrc32c does not match");
  expect("unverified", plugin::errc::retryable, "verifiedDigestCrc32c");
  expect("bad-signature", plugin::errc::permanent, "(gcpkms) returned a signature that does not verify");
  expect("5xx:1", plugin::errc::retryable, "UNAVAILABLE");
  e.stub("fault", {{"fault", ""}});
  REQUIRE(e.sign(**s, "again").has_value());

  e.stub("revoke-tokens", {});
  auto expired = e.sign(**s, "m");
  REQUIRE_FALSE(expired.has_value());
  CHECK(expired.error().code == plugin::errc::retryable);  // the token is dropped; the retry gets a new one
  CHECK(e.sign(**s, "m").has_value());

  e.stub("deny", {{"key", key}});
  auto denied = e.sign(**s, "m");
  REQUIRE_FALSE(denied.has_value());
  CHECK(denied.error().code == plugin::errc::unauthenticated);
  CHECK_THAT(denied.error().message, Catch::Contains("PERMISSION_DENIED") && Catch::Contains("useToSign"));

  auto missing = e.make("gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/nope");
  REQUIRE(missing.has_value());
  auto nf = e.sign(**missing, "m");
  REQUIRE_FALSE(nf.has_value());
  CHECK(nf.error().code == plugin::errc::bad_config);
}
