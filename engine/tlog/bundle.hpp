#pragma once
// Sigstore bundles (v0.3 JSON, application/vnd.dev.sigstore.bundle.v0.3+json): what users verify
// offline (cosign verify-blob-attestation --bundle, sigstore-js, sigstore-python) without asking
// the log again. The engine builds them here, for every form it makes: a Rekor v1 entry (SET and
// inclusion proof), a Rekor v2 entry (inclusion proof against a checkpoint), RFC 3161 timestamps
// with either, timestamps alone, or nothing (a signature that was not logged: storage backends
// such as oci's sigstore-bundle mode still store it as a bundle).

#include "tlog/entry.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace chainsd::tlog {

// The verifier: a certificate (Fulcio) when `cert_pem` is not empty, else a public-key hint
// (verifiers look the key up by it; chainsd uses the DSSE key id or "").
struct bundle_signer {
  std::string cert_pem;
  std::string key_hint;
};

// What was signed: a DSSE envelope (in-toto), or a payload and its raw signature (simplesigning).
struct bundle_content {
  std::string envelope_json;  // non-empty: dsseEnvelope
  std::string payload;        // else messageSignature over SHA-256(payload)
  std::string signature;
};

// A bundle from its parts. `tlog_entries`: TransparencyLogEntry objects in protobuf JSON
// (v1_tlog_entry_json, or a verified Rekor v2 entry); `timestamps`: DER TimeStampResps.
// Throws verify_error when the content or certificate cannot be read.
std::string sigstore_bundle(const bundle_content& content, const bundle_signer& who,
                            const std::vector<std::string>& tlog_entries, const std::vector<std::string>& timestamps);

// A signature neither logged nor timestamped (transparency off): verification material and the
// envelope or message signature, an empty tlogEntries list (as cosign's bundle for an unlogged
// signature has no entry). "" when the content or certificate cannot be read.
std::string sigstore_bundle_unlogged(const bundle_content& content, const bundle_signer& who) noexcept;

// A Rekor v1 entry as a bundle's TransparencyLogEntry (needs its inclusion proof).
std::string v1_tlog_entry_json(const log_entry& e);

// An in-toto attestation: the DSSE envelope exactly as logged in `e` (a dsse entry).
std::string sigstore_bundle_dsse(const log_entry& e, std::string_view envelope_json, const bundle_signer& who);

// A simplesigning signature over `payload` (a hashedrekord entry): message digest + signature.
std::string sigstore_bundle_message_signature(const log_entry& e, std::string_view payload, std::string_view signature,
                                              const bundle_signer& who);

}  // namespace chainsd::tlog
