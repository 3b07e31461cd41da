#pragma once
// Sigstore bundles (v0.3 JSON, application/vnd.dev.sigstore.bundle.v0.3+json) from a verified
// log entry: what users verify offline (cosign verify-blob-attestation --bundle, sigstore-js,
// sigstore-python) without asking the log again.

#include "tlog/entry.hpp"

#include <string>
#include <string_view>

namespace chainsd::tlog {

// The verifier: a certificate (Fulcio) when `cert_pem` is not empty, else a public-key hint
// (verifiers look the key up by it; chainsd uses the DSSE key id or "").
struct bundle_signer {
  std::string cert_pem;
  std::string key_hint;
};

// An in-toto attestation: the DSSE envelope exactly as logged in `e` (a dsse entry).
std::string sigstore_bundle_dsse(const log_entry& e, std::string_view envelope_json, const bundle_signer& who);

// A simplesigning signature over `payload` (a hashedrekord entry): message digest + signature.
std::string sigstore_bundle_message_signature(const log_entry& e, std::string_view payload, std::string_view signature,
                                              const bundle_signer& who);

}  // namespace chainsd::tlog
