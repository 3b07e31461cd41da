#pragma once
// AWS KMS's JSON 1.1 protocol as sigstore's awskms client uses it (pure: no I/O):
//   POST / X-Amz-Target: TrentService.GetPublicKey {"KeyId"} → PublicKey (base64 DER SPKI),
//        KeyId (the key ARN), SigningAlgorithms (the first one is used, as sigstore does)
//   POST / X-Amz-Target: TrentService.Sign {"KeyId", "Message": base64(digest), "MessageType": "DIGEST",
//        "SigningAlgorithm"} → Signature (base64 DER)
// STS AssumeRoleWithWebIdentity (query protocol, XML answer) for web-identity credentials, and
// the classification of both services' errors.

#include "sigv4.hpp"

#include <chainsd/plugin/errors.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace signer_kms::aws {

namespace plugin = chainsd::plugin;

inline constexpr const char* json_content_type = "application/x-amz-json-1.1";

struct public_key_info {
  std::string der;
  std::string key_arn;
  std::string algorithm;  // SigningAlgorithms[0]
};

std::string get_public_key_request(std::string_view key_id);
plugin::result<public_key_info> parse_public_key(std::string_view body);

// Only algorithms over SHA-256 whose signatures this plugin can verify are accepted
// (ECDSA_SHA_256, RSASSA_PKCS1_V1_5_SHA_256); the engine hands every signer SHA-256 digests.
bool supported_algorithm(std::string_view alg);

std::string sign_request(std::string_view key_id, std::string_view digest, std::string_view algorithm);
plugin::result<std::string> parse_signature(std::string_view body);

// The error name of a KMS error answer ("AccessDeniedException"; a "prefix#" is dropped) and its message.
std::pair<std::string, std::string> error_of(std::string_view body, const header_list& headers);
// Unauthenticated: AccessDenied, UnrecognizedClient, InvalidSignature, ExpiredToken, ...; bad_config:
// NotFound, Disabled, InvalidKeyUsage, KMSInvalidState, Validation, ...; retryable: Throttling,
// KMSInternal, DependencyTimeout, KeyUnavailable and any 5xx; else permanent.
plugin::error classify(unsigned status, std::string_view body, const header_list& headers,
                       const std::string& what);

// STS.
std::string assume_role_form(std::string_view role_arn, std::string_view session, std::string_view token);
// Credentials from an AssumeRoleWithWebIdentity answer; error: STS's Code and Message.
plugin::result<aws_credentials> parse_assume_role(std::string_view xml);
std::string sts_error(std::string_view xml);

// The container credentials endpoint's answer: {AccessKeyId, SecretAccessKey, Token, Expiration}.
plugin::result<aws_credentials> parse_container_credentials(std::string_view body);

std::string url_encode(std::string_view s);

}  // namespace signer_kms::aws
