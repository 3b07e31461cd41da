#pragma once
// Azure Key Vault's REST API as sigstore's azurekms client uses it (pure: no I/O):
//   GET  {vault}/keys/{name}[/{version}]?api-version=7.4        → key: a JWK (EC P-256 here), kid
//   POST {vault}/keys/{name}/{version}/sign?api-version=7.4 {"alg": "ES256", "value": base64url(digest)}
//        → value: base64url(r||s), which is converted to the DER signature cosign and DSSE use
// and Microsoft Entra ID tokens (scope https://vault.azure.net/.default): client credentials with a
// secret or a federated (workload identity) assertion, or the managed-identity endpoint.

#include <chainsd/plugin/errors.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace signer_kms::azure {

namespace plugin = chainsd::plugin;

inline constexpr const char* api_version = "7.4";

struct key_info {
  std::string spki_der;
  std::string version;  // the last segment of kid
};
// An EC P-256 JWK (the only curve whose signatures this plugin verifies over SHA-256).
plugin::result<key_info> parse_key(std::string_view body);

std::string sign_request(std::string_view digest);
// The DER signature from a sign answer; its kid must name `version`.
plugin::result<std::string> parse_signature(std::string_view body, std::string_view version);
// r||s (64 bytes for P-256) → ASN.1 DER ECDSA-Sig-Value; empty when malformed.
std::string raw_to_der(std::string_view raw);

plugin::error classify(unsigned status, std::string_view body, const std::string& what);

struct access_token {
  std::string token;
  std::chrono::system_clock::time_point expires;
};
// Entra ID and managed-identity answers (expires_in as a number or a string).
plugin::result<access_token> parse_token(std::string_view body, std::chrono::system_clock::time_point now);

std::string client_secret_form(std::string_view client_id, std::string_view secret);
std::string client_assertion_form(std::string_view client_id, std::string_view assertion);

std::string base64url_encode(std::string_view in);
std::string base64url_decode(std::string_view in);  // throws std::invalid_argument

}  // namespace signer_kms::azure
