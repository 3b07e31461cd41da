#pragma once
// Vault transit's wire format as sigstore's hashivault client uses it (pure: no I/O):
//   GET  /v1/<mount>/keys/<key>              → data.keys["<latest_version>"].public_key (PEM)
//   POST /v1/<mount>/sign/<key>/sha2-256     {"input": base64(SHA-256 digest), "prehashed": true,
//        "key_version": N, "signature_algorithm": "pkcs1v15"} → data.signature "vault:vN:<base64 DER>"
// and the classification of Vault's answers: 403 → unauthenticated, 400/404 → bad_config,
// 429/5xx → retryable, other statuses → permanent; the message carries Vault's own `errors`.

#include <chainsd/plugin/errors.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace signer_kms::vault {

namespace plugin = chainsd::plugin;

struct key_version {
  std::uint64_t version = 0;
  std::string public_pem;  // as Vault returned it
};

// The latest version of a transit key read answer (HTTP 200 body).
plugin::result<key_version> parse_key(std::string_view body);

// The JSON body of a sign request for a SHA-256 digest, pinned to `version`.
std::string sign_request(std::string_view digest, std::uint64_t version);

// The DER signature of a sign answer (HTTP 200 body); its "vault:vN:" prefix must name `version`.
plugin::result<std::string> parse_signature(std::string_view body, std::uint64_t version);

// Vault's reasons from an error body ({"errors": [...]}), joined with "; "; empty when none.
std::string reasons(std::string_view body);

// The error for a non-2xx answer; `what` says who was asked what ("Vault http://… signing with transit key 'k'").
plugin::error classify(unsigned status, std::string_view body, const std::string& what);

}  // namespace signer_kms::vault
