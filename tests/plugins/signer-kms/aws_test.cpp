// The kms plugin (awskms://) loaded through the real loader, with the engine's host services and
// HTTP client, against tests/support/awskms-stub (which checks every SigV4 signature as AWS does):
// GetPublicKey once, Sign with DIGEST verified by the stand-in's own Verify, bad signatures,
// denials, throttling, wrong secrets and web-identity (STS) credentials.
#include <catch2/catch.hpp>

#include "../../support/python_stub.hpp"
#include "../../support/run_awaitable.hpp"
#include "kms_plugin.hpp"
#include "sigv4.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/json.hpp>

#include <openssl/sha.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

using namespace chainsd;
using test_support::python_stub;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

using kms_test::registry;

void clear_aws_env() {
  for (const char* v : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
                        "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL_STS",
                        "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME",
                        "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                        "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"})
    ::unsetenv(v);
}

struct env : kms_test::engine_host {
  python_stub kms{"AWSKMS_STUB", {"--region", "eu-west-1", "--credentials", "AKIDTEST:test-secret",
                                  "--web-identity-token", "jwt-good", "--container-token", "ct-good",
                                  "--key", "release"}};

  env() {
    clear_aws_env();
    ::setenv("AWS_REGION", "eu-west-1", 1);
    ::setenv("AWS_ENDPOINT_URL_KMS", kms.url().c_str(), 1);
    ::setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", "test-secret", 1);
  }
  ~env() { clear_aws_env(); }

  // A KMS call made by the test itself (signed with the test's credentials).
  std::pair<unsigned, json::value> call(const std::string& op, json::object body) {
    plugin::http_request req;
    req.method = "POST";
    req.url = kms.url() + "/";
    req.headers = {{"Content-Type", "application/x-amz-json-1.1"}, {"X-Amz-Target", "TrentService." + op}};
    req.body = json::serialize(body);
    signer_kms::sigv4_sign(req.headers, "POST", "127.0.0.1:" + std::to_string(kms.port()), "/", "", req.body,
                           {"AKIDTEST", "test-secret", ""}, {"eu-west-1", "kms"}, std::chrono::system_clock::now());
    auto r = test_support::run(ctx, host.http(std::move(req))).value();
    return {r.status, json::parse(r.body)};
  }
  json::value stats() {
    plugin::http_request req;
    req.url = kms.url() + "/__stub/stats";
    return json::parse(test_support::run(ctx, host.http(std::move(req))).value().body);
  }
  void stub(const char* what, json::object doc) {
    plugin::http_request req;
    req.method = "POST";
    req.url = kms.url() + "/__stub/" + what;
    req.body = json::serialize(doc);
    REQUIRE(test_support::run(ctx, host.http(std::move(req))).value().status == 200);
  }
  bool kms_verifies(const std::string& msg, const std::string& sig) {
    unsigned char d[32];
    SHA256(reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), d);
    auto [st, doc] = call("Verify", {{"KeyId", "alias/release"},
                                     {"Message", plugin::base64_encode(std::string(reinterpret_cast<char*>(d), 32))},
                                     {"MessageType", "DIGEST"}, {"Signature", plugin::base64_encode(sig)},
                                     {"SigningAlgorithm", "ECDSA_SHA_256"}});
    return st == 200 && doc.at("SignatureValid").as_bool();
  }
  int signs() {
    int n = 0;
    auto st = stats();  // kept alive: the loop walks into it
    for (const auto& [k, v] : st.at("sign").as_object()) n += static_cast<int>(v.to_number<int>());
    return n;
  }
  plugin::result<std::unique_ptr<plugin::signer>> make(const std::string& ref) {
    return registry().make_signer("kms", host, {{"signers.kms.kmsref", ref}});
  }
  plugin::result<plugin::signature_result> sign(plugin::signer& s, std::string msg) {
    return test_support::run(ctx, s.sign(std::move(msg)));
  }
};

}  // namespace

TEST_CASE("kms awskms factory: region and credentials are required, named by their variables") {
  env e;
  ::unsetenv("AWS_REGION");
  auto r = e.make("awskms:///alias/release");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == plugin::errc::bad_config);
  CHECK_THAT(r.error().message, Catch::Contains("AWS_REGION"));
  CHECK(e.make("awskms:///arn:aws:kms:eu-west-1:111122223333:alias/release").has_value());  // region from the ARN
  ::setenv("AWS_REGION", "eu-west-1", 1);
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  auto nc = e.make("awskms:///alias/release");
  REQUIRE_FALSE(nc.has_value());
  CHECK_THAT(nc.error().message, Catch::Contains("AWS_ACCESS_KEY_ID") && Catch::Contains("AWS_WEB_IDENTITY_TOKEN_FILE"));
}

TEST_CASE("kms awskms: GetPublicKey once, every form of key reference signs, KMS verifies") {
  env e;
  auto [st, meta] = e.call("DescribeKey", {{"KeyId", "alias/release"}});
  REQUIRE(st == 200);
  std::string id(meta.at("KeyMetadata").at("KeyId").as_string());
  std::string arn(meta.at("KeyMetadata").at("Arn").as_string());
  const std::vector<std::string> refs{"awskms:///alias/release", "awskms:///" + id, "awskms:///" + arn,
                                      "awskms:///arn:aws:kms:eu-west-1:111122223333:alias/release"};
  for (std::size_t i = 0; i < refs.size(); ++i) {
    const auto& ref = refs[i];
    // Named by position: the key id differs in each run of the test case (a new stand-in).
    DYNAMIC_SECTION("key reference form " << i) {
      int reads = e.stats().at("get_public_key").to_number<int>();
      auto s = e.make(ref);
      REQUIRE(s.has_value());
      for (int n = 0; n < 3; ++n) {
        std::string msg = "statement " + std::to_string(n);
        auto r = e.sign(**s, msg);
        REQUIRE(r.has_value());
        CHECK(e.kms_verifies(msg, r->signature));
        CHECK_FALSE(e.kms_verifies(msg + ".", r->signature));
      }
      CHECK(e.stats().at("get_public_key").to_number<int>() == reads + 1);
      CHECK_THAT((*s)->public_key_pem(), Catch::StartsWith("-----BEGIN PUBLIC KEY-----"));
    }
  }
}

TEST_CASE("kms awskms: bad signatures, denials, throttling and wrong secrets are classified") {
  env e;
  auto s = e.make("awskms:///alias/release");
  REQUIRE(s.has_value());
  REQUIRE(e.sign(**s, "first").has_value());

  e.stub("fault", {{"fault", "bad-signature"}});
  auto bad = e.sign(**s, "m");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code == plugin::errc::permanent);
  CHECK_THAT(bad.error().message, Catch::Contains("awskms") && Catch::Contains("does not verify"));

  e.stub("fault", {{"fault", "throttle:1"}});
  auto busy = e.sign(**s, "m");
  REQUIRE_FALSE(busy.has_value());
  CHECK(busy.error().code == plugin::errc::retryable);
  CHECK_THAT(busy.error().message, Catch::Contains("ThrottlingException: Rate exceeded"));
  CHECK(e.sign(**s, "m").has_value());

  e.stub("deny", {{"access_key", "AKIDTEST"}, {"key", "alias/release"}});
  int before = e.signs();
  auto denied = e.sign(**s, "m");
  REQUIRE_FALSE(denied.has_value());
  CHECK(denied.error().code == plugin::errc::unauthenticated);
  CHECK_THAT(denied.error().message, Catch::Contains("AccessDeniedException") && Catch::Contains("kms:Sign"));
  CHECK(e.signs() == before + 1);

  ::setenv("AWS_SECRET_ACCESS_KEY", "wrong", 1);
  auto wrong = e.make("awskms:///alias/release");
  REQUIRE(wrong.has_value());
  auto ws = e.sign(**wrong, "m");
  REQUIRE_FALSE(ws.has_value());
  CHECK(ws.error().code == plugin::errc::unauthenticated);
  CHECK_THAT(ws.error().message, Catch::Contains("InvalidSignatureException"));

  auto missing = e.make("awskms:///alias/nope");
  ::setenv("AWS_SECRET_ACCESS_KEY", "test-secret", 1);
  REQUIRE(missing.has_value());
}

TEST_CASE("kms awskms: web identity credentials from STS, one exchange for many signatures") {
  env e;
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  auto token = e.kms.file("web-token");
  std::ofstream(token) << "jwt-good\n";
  ::setenv("AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/chains", 1);
  ::setenv("AWS_WEB_IDENTITY_TOKEN_FILE", token.c_str(), 1);
  ::setenv("AWS_ENDPOINT_URL_STS", e.kms.url().c_str(), 1);
  auto s = e.make("awskms:///alias/release");
  REQUIRE(s.has_value());
  for (int i = 0; i < 3; ++i) {
    auto r = e.sign(**s, "irsa " + std::to_string(i));
    REQUIRE(r.has_value());
    CHECK(e.kms_verifies("irsa " + std::to_string(i), r->signature));
  }
  CHECK(e.stats().at("assume_role").to_number<int>() == 1);

  std::ofstream(token) << "jwt-bad\n";
  auto other = e.make("awskms:///alias/release");
  REQUIRE(other.has_value());
  auto r = e.sign(**other, "m");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == plugin::errc::unauthenticated);
  CHECK_THAT(r.error().message, Catch::Contains("AssumeRoleWithWebIdentity") && Catch::Contains("InvalidIdentityToken"));
}

TEST_CASE("kms awskms: container credentials (ECS / EKS Pod Identity) with a token file") {
  env e;
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  auto token = e.kms.file("pod-identity-token");
  std::ofstream(token) << "ct-good\n";
  ::setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", (e.kms.url() + "/v1/credentials").c_str(), 1);
  ::setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token.c_str(), 1);
  auto s = e.make("awskms:///alias/release");
  REQUIRE(s.has_value());
  for (int i = 0; i < 2; ++i) {
    auto r = e.sign(**s, "pod " + std::to_string(i));
    REQUIRE(r.has_value());
    CHECK(e.kms_verifies("pod " + std::to_string(i), r->signature));
  }
  CHECK(e.stats().at("container").to_number<int>() == 1);

  std::ofstream(token) << "ct-bad\n";
  auto other = e.make("awskms:///alias/release");
  REQUIRE(other.has_value());
  auto r = e.sign(**other, "m");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == plugin::errc::unauthenticated);
  CHECK_THAT(r.error().message, Catch::Contains("AWS container credentials") && Catch::Contains("HTTP 401"));

  ::setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds", 1);
  auto remote = e.make("awskms:///alias/release");
  REQUIRE_FALSE(remote.has_value());
  CHECK_THAT(remote.error().message, Catch::Contains("only to loopback"));
}
