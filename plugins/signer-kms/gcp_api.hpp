#pragma once
// Google Cloud KMS's REST API as sigstore's gcpkms client uses it (pure: no I/O):
//   GET  /v1/{key}/cryptoKeyVersions?filter=state%3DENABLED   (no version in the kmsref: the highest enabled)
//   GET  /v1/{version}/publicKey          → pem, algorithm, pemCrc32c
//   POST /v1/{version}:asymmetricSign {"digest": {"sha256": b64}, "digestCrc32c": "N"}
//        → signature, signatureCrc32c, verifiedDigestCrc32c, name
// with the integrity fields checked as Google asks clients to (CRC32C of what was sent and received),
// Google's error JSON classified, and the OAuth pieces: the metadata server's token answer and a
// service-account JWT assertion (RS256) for the token endpoint.

#include <chainsd/plugin/errors.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace signer_kms::gcp {

namespace plugin = chainsd::plugin;

std::uint32_t crc32c(std::string_view data);

// The highest-numbered version in a list answer, as a full resource name; not_found when none.
plugin::result<std::string> latest_version(std::string_view body, std::string_view key);

struct public_key_info {
  std::string pem;
  std::string algorithm;  // EC_SIGN_P256_SHA256, RSA_SIGN_PKCS1_2048_SHA256, ...
};
plugin::result<public_key_info> parse_public_key(std::string_view body);
// Algorithms over SHA-256 whose signatures this plugin verifies (ECDSA P-256, RSA PKCS#1 v1.5).
bool supported_algorithm(std::string_view alg);

std::string sign_request(std::string_view digest);
plugin::result<std::string> parse_signature(std::string_view body, std::string_view version_name);

plugin::error classify(unsigned status, std::string_view body, const std::string& what);

}  // namespace signer_kms::gcp
