// signer-kms's Google Cloud parts: CRC32C, the REST wire format and its integrity fields, error
// classes.
#include <catch2/catch.hpp>

#include "gcp_api.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>


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

TEST_CASE("gcp: errors are classified (tokens and the JWT grant: plugins/google-auth, tests/plugins/gcs)") {
  auto denied = gcp::classify(403, R"({"error":{"code":403,"message":"Permission 'cloudkms.cryptoKeyVersions.useToSign' denied","status":"PERMISSION_DENIED"}})", "G");
  CHECK(denied.code == plugin::errc::unauthenticated);
  CHECK_THAT(denied.message, Catch::Contains("PERMISSION_DENIED: Permission 'cloudkms.cryptoKeyVersions.useToSign'"));
  CHECK(gcp::classify(404, "{}", "G").code == plugin::errc::bad_config);
  CHECK(gcp::classify(503, "{}", "G").code == plugin::errc::retryable);
}
