// signer-kms's Google Cloud parts: CRC32C, the REST wire format and its integrity fields, error
// classes, token answers and the service-account JWT grant.
#include <catch2/catch.hpp>

#include "gcp_api.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>

using namespace signer_kms;
namespace plugin = chainsd::plugin;

TEST_CASE("gcp: CRC32C (Castagnoli) check value") {
  CHECK(gcp::crc32c("123456789") == 0xE3069283u);
  CHECK(gcp::crc32c("") == 0u);
}

TEST_CASE("gcp: versions, public key and signature answers, integrity fields checked") {
  const std::string key = "projects/p/locations/global/keyRings/r/cryptoKeys/k";
  auto latest = gcp::latest_version(R"({"cryptoKeyVersions":[
      {"name":")" + key + R"(/cryptoKeyVersions/2","state":"ENABLED"},
      {"name":")" + key + R"(/cryptoKeyVersions/10","state":"ENABLED"},
      {"name":")" + key + R"(/cryptoKeyVersions/11","state":"DISABLED"}]})", key);
  REQUIRE(latest.has_value());
  CHECK(*latest == key + "/cryptoKeyVersions/10");
  CHECK(gcp::latest_version(R"({})", key).error().code == plugin::errc::bad_config);

  std::string pem = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n";
  auto body = [&](unsigned crc) {
    return boost::json::serialize(boost::json::object{{"pem", pem}, {"algorithm", "EC_SIGN_P256_SHA256"},
                                                      {"pemCrc32c", std::to_string(crc)}});
  };
  auto pk = gcp::parse_public_key(body(gcp::crc32c(pem)));
  REQUIRE(pk.has_value());
  CHECK(pk->algorithm == "EC_SIGN_P256_SHA256");
  CHECK(gcp::parse_public_key(body(gcp::crc32c(pem) ^ 1)).error().code == plugin::errc::retryable);
  CHECK(gcp::supported_algorithm("RSA_SIGN_PKCS1_2048_SHA256"));
  CHECK_FALSE(gcp::supported_algorithm("EC_SIGN_P384_SHA384"));

  std::string digest(32, '\x07');
  auto req = boost::json::parse(gcp::sign_request(digest)).as_object();
  CHECK(plugin::base64_decode(req.at("digest").at("sha256").as_string()) == digest);
  CHECK(req.at("digestCrc32c").as_string() == std::to_string(gcp::crc32c(digest)));

  const std::string version = key + "/cryptoKeyVersions/10";
  std::string sig = "\x30\x44signature";
  auto answer = [&](unsigned crc, bool verified, const std::string& name) {
    return boost::json::serialize(boost::json::object{{"signature", plugin::base64_encode(sig)},
                                                      {"signatureCrc32c", std::to_string(crc)},
                                                      {"verifiedDigestCrc32c", verified}, {"name", name}});
  };
  auto ok = gcp::parse_signature(answer(gcp::crc32c(sig), true, version), version);
  REQUIRE(ok.has_value());
  CHECK(*ok == sig);
  CHECK(gcp::parse_signature(answer(gcp::crc32c(sig) ^ 1, true, version), version).error().code == plugin::errc::retryable);
  CHECK(gcp::parse_signature(answer(gcp::crc32c(sig), false, version), version).error().code == plugin::errc::retryable);
  CHECK(gcp::parse_signature(answer(gcp::crc32c(sig), true, key + "/cryptoKeyVersions/1"), version).error().code ==
        plugin::errc::permanent);
}

TEST_CASE("gcp: errors, tokens, the service-account JWT grant") {
  auto denied = gcp::classify(403, R"({"error":{"code":403,"message":"Permission 'cloudkms.cryptoKeyVersions.useToSign' denied","status":"PERMISSION_DENIED"}})", "G");
  CHECK(denied.code == plugin::errc::unauthenticated);
  CHECK_THAT(denied.message, Catch::Contains("PERMISSION_DENIED: Permission 'cloudkms.cryptoKeyVersions.useToSign'"));
  CHECK(gcp::classify(404, "{}", "G").code == plugin::errc::bad_config);
  CHECK(gcp::classify(503, "{}", "G").code == plugin::errc::retryable);
  auto now = std::chrono::system_clock::now();
  auto t = gcp::parse_token(R"({"access_token":"ya29.x","expires_in":100,"token_type":"Bearer"})", now);
  REQUIRE(t.has_value());
  CHECK(t->token == "ya29.x");
  CHECK(t->expires == now + std::chrono::seconds(100));

  EVP_PKEY* k = EVP_RSA_gen(2048);
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* d = nullptr;
  long n = BIO_get_mem_data(b, &d);
  std::string pem(d, static_cast<std::size_t>(n));
  BIO_free(b);
  boost::json::object sa_json{{"type", "service_account"}, {"client_email", "a@p.iam.gserviceaccount.com"},
                              {"private_key", pem}, {"token_uri", "http://127.0.0.1:1/token"}};
  auto sa = gcp::parse_service_account(boost::json::serialize(sa_json));
  REQUIRE(sa.has_value());
  auto grant = gcp::jwt_grant(*sa, now);
  REQUIRE(grant.has_value());
  CHECK_THAT(*grant, Catch::StartsWith("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=ey"));
  auto jwt = grant->substr(grant->find("assertion=") + 10);
  const std::size_t dot1 = jwt.find('.');
  const std::size_t dot2 = jwt.rfind('.');
  std::string input = jwt.substr(0, dot2);
  std::string sig64 = jwt.substr(dot2 + 1);
  for (auto& c : sig64) c = c == '-' ? '+' : c == '_' ? '/' : c;
  auto sig = plugin::base64_decode(sig64);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, k);
  CHECK(EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                         reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(k);
  std::string claims64 = jwt.substr(dot1 + 1, dot2 - dot1 - 1);
  for (auto& c : claims64) c = c == '-' ? '+' : c == '_' ? '/' : c;
  auto claims = boost::json::parse(plugin::base64_decode(claims64)).as_object();
  CHECK(claims.at("aud").as_string() == "http://127.0.0.1:1/token");
  CHECK(claims.at("scope").as_string() == "https://www.googleapis.com/auth/cloudkms");
  CHECK(gcp::parse_service_account(R"({"type":"authorized_user"})").error().code == plugin::errc::bad_config);
}
