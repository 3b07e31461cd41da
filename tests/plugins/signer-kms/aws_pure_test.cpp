// signer-kms's AWS parts: SigV4 against AWS's published example, the KMS JSON and STS XML wire
// formats, and the classification of KMS errors.
#include <catch2/catch.hpp>

#include "aws_api.hpp"
#include "sigv4.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/json/parse.hpp>

#include <map>

using namespace signer_kms;
namespace plugin = chainsd::plugin;

TEST_CASE("sigv4: AWS's documented example (IAM ListUsers, 2015-08-30) signs to its published signature") {
  // docs.aws.amazon.com "Create a signed AWS API request": GET https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08
  header_list headers{{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                              {"X-Amz-Date", "20150830T123600Z"}};
  std::string names;
  auto canonical = sigv4_canonical_request(headers, "GET", "iam.amazonaws.com", "/",
                                           "Version=2010-05-08&Action=ListUsers", "", &names);
  CHECK(names == "content-type;host;x-amz-date");
  CHECK(hex_sha256(canonical) == "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
  CHECK(sigv4_signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830T123600Z", {"us-east-1", "iam"},
                        canonical) == "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

TEST_CASE("sigv4: the Authorization header names the scope and every signed header") {
  header_list h{{"Content-Type", aws::json_content_type}, {"X-Amz-Target", "TrentService.Sign"}};
  aws_credentials c{"ASIAEXAMPLE", "secret", "session-token"};
  sigv4_sign(h, "POST", "127.0.0.1:4566", "/", "", "{}", c, {"eu-west-1", "kms"},
             std::chrono::system_clock::from_time_t(1764806400));  // 2025-12-04T00:00:00Z
  std::map<std::string, std::string> m(h.begin(), h.end());
  CHECK(m["X-Amz-Date"] == "20251204T000000Z");
  CHECK(m["X-Amz-Security-Token"] == "session-token");
  CHECK_THAT(m["Authorization"],
             Catch::StartsWith("AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20251204/eu-west-1/kms/aws4_request, "
                               "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
                               "Signature="));
}

TEST_CASE("aws: GetPublicKey and Sign wire formats") {
  auto req = boost::json::parse(aws::sign_request("alias/release", std::string(32, 'x'), "ECDSA_SHA_256")).as_object();
  CHECK(req.at("KeyId").as_string() == "alias/release");
  CHECK(req.at("MessageType").as_string() == "DIGEST");
  CHECK(req.at("SigningAlgorithm").as_string() == "ECDSA_SHA_256");
  CHECK(plugin::base64_decode(req.at("Message").as_string()) == std::string(32, 'x'));
  CHECK(boost::json::parse(aws::get_public_key_request("k")).at("KeyId").as_string() == "k");

  auto pk = aws::parse_public_key(R"({"KeyId":"arn:aws:kms:us-east-1:111122223333:key/x","PublicKey":"AAEC",
    "KeyUsage":"SIGN_VERIFY","SigningAlgorithms":["ECDSA_SHA_256"],"KeySpec":"ECC_NIST_P256"})");
  REQUIRE(pk.has_value());
  CHECK(pk->der == std::string("\x00\x01\x02", 3));
  CHECK(pk->algorithm == "ECDSA_SHA_256");
  CHECK(pk->key_arn == "arn:aws:kms:us-east-1:111122223333:key/x");
  CHECK(aws::parse_public_key(R"({"KeyUsage":"ENCRYPT_DECRYPT","PublicKey":"AAEC"})").error().code ==
        plugin::errc::bad_config);
  CHECK(aws::supported_algorithm("RSASSA_PKCS1_V1_5_SHA_256"));
  CHECK_FALSE(aws::supported_algorithm("RSASSA_PSS_SHA_256"));
  CHECK_FALSE(aws::supported_algorithm("ECDSA_SHA_384"));
  auto sig = aws::parse_signature(R"({"KeyId":"k","Signature":"MEUC","SigningAlgorithm":"ECDSA_SHA_256"})");
  REQUIRE(sig.has_value());
  CHECK(*sig == plugin::base64_decode("MEUC"));
  CHECK_FALSE(aws::parse_signature("{}").has_value());
}

TEST_CASE("aws: KMS errors are classified by their __type; STS answers are read") {
  auto c = [](unsigned st, const char* body, header_list h = {}) { return aws::classify(st, body, h, "AWS KMS x"); };
  auto denied = c(400, R"({"__type":"AccessDeniedException","message":"User: u is not authorized to perform: kms:Sign"})");
  CHECK(denied.code == plugin::errc::unauthenticated);
  CHECK_THAT(denied.message, Catch::Contains("AccessDeniedException: User: u is not authorized"));
  CHECK(c(400, R"({"__type":"com.amazonaws.kms#UnrecognizedClientException","message":"m"})").code ==
        plugin::errc::unauthenticated);
  CHECK(c(400, R"({"__type":"InvalidSignatureException","Message":"m"})").code == plugin::errc::unauthenticated);
  CHECK(c(400, R"({"__type":"NotFoundException","message":"m"})").code == plugin::errc::bad_config);
  CHECK(c(400, R"({"__type":"DisabledException","message":"m"})").code == plugin::errc::bad_config);
  CHECK(c(400, R"({"__type":"ThrottlingException","message":"Rate exceeded"})").code == plugin::errc::retryable);
  CHECK(c(500, R"({"__type":"KMSInternalException"})").code == plugin::errc::retryable);
  CHECK(c(502, "<html>").code == plugin::errc::retryable);
  CHECK(c(400, "", {{"x-amzn-ErrorType", "ExpiredTokenException:http://internal.amazon.com/"}}).code ==
        plugin::errc::unauthenticated);
  CHECK(c(418, "{}").code == plugin::errc::permanent);

  auto creds = aws::parse_assume_role(
      "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
      "<SessionToken>tok</SessionToken><SecretAccessKey>sec</SecretAccessKey>"
      "<Expiration>2026-12-04T02:00:00Z</Expiration><AccessKeyId>ASIAX</AccessKeyId></Credentials>"
      "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>");
  REQUIRE(creds.has_value());
  CHECK(creds->access_key == "ASIAX");
  CHECK(creds->session_token == "tok");
  CHECK(std::chrono::system_clock::to_time_t(creds->expires) == 1796349600);
  CHECK(aws::sts_error("<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>bad</Message></Error>"
                       "</ErrorResponse>") == "InvalidIdentityToken: bad");
  CHECK(aws::assume_role_form("arn:aws:iam::1:role/r", "s", "a b") ==
        "Action=AssumeRoleWithWebIdentity&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&RoleSessionName=s&"
        "Version=2011-06-15&WebIdentityToken=a%20b");
}
