#pragma once
// Rekor v2 (rekor-tiles) entries: the hashedrekord v0.0.2 request we POST to
// /api/v2/log/entries, the TransparencyLogEntry the log answers (protobuf JSON), and the checks
// that make it trustworthy: the canonicalized body records exactly our request, the checkpoint
// is a signed note by the log's key naming the log's origin, and the RFC 6962 inclusion proof
// leads from the body's leaf hash to the checkpoint's root. Pure: the logger does the HTTP.
//
// DSSE envelopes go in as hashedrekord too (Rekor v2 has no dsse type, rekor-tiles CLIENTS.md):
// the digest is SHA-256 of the envelope's PAE, the signature the envelope's signature, as
// sigstore-go, sigstore-python and sigstore-rust do.

#include "tlog/entry.hpp"
#include "tlog/note.hpp"

#include <cstdint>
#include <deque>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace chainsd::tlog {

// A signing key Rekor v2 cannot accept (pure Ed25519, a curve whose hash is not the SHA-256 our
// signers use): a configuration problem, not a transient one.
class unsupported_key_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The Sigstore PublicKeyDetails name for a signer's key (PUBLIC KEY or CERTIFICATE PEM) signing
// with SHA-256: PKIX_ECDSA_P256_SHA_256 or PKIX_RSA_PKCS1V15_{2048,3072,4096}_SHA256. Throws
// unsupported_key_error naming the key type otherwise, verify_error for an unreadable PEM.
std::string v2_key_details(std::string_view verifier_pem);

struct v2_request {
  std::string json;          // the POST body
  std::string digest;        // 32 raw bytes (SHA-256)
  std::string signature;     // raw signature bytes
  std::string verifier_der;  // SubjectPublicKeyInfo or certificate DER
  bool verifier_is_cert = false;
  std::string key_details;
};

// hashedrekord v0.0.2 over `digest` (SHA-256 of the signed bytes) with `verifier_pem`: the
// certificate when it is a certificate PEM (keyless), else the public key.
v2_request hashedrekord_v2_request(std::string_view digest, std::string_view signature, std::string_view verifier_pem);

struct v2_entry {
  std::int64_t log_index = -1;
  std::string log_id;      // raw bytes of logId.keyId
  std::string kind, version;
  std::string body;        // decoded canonicalizedBody
  std::vector<std::string> hashes;  // raw 32-byte proof hashes, leaf first
  std::string checkpoint;  // signed note text
};

// Parses a TransparencyLogEntry in protobuf JSON (int64 as strings or numbers, bytes base64).
// Throws verify_error naming the missing or malformed field.
v2_entry parse_v2_entry(std::string_view json);

// The entry in protobuf JSON as bundles carry it (tlogEntries[]): logIndex, logId, kindVersion,
// inclusionProof (rootHash and treeSize from the verified checkpoint `cp`), canonicalizedBody.
std::string v2_entry_json(const v2_entry& e, const checkpoint& cp);

// That the body is hashedrekord 0.0.2 recording our digest, signature and verifier.
void verify_v2_body(const v2_entry& e, const v2_request& r);

// Verified checkpoints by their text: the entries a log answers in one publishing interval
// share a checkpoint, so each is verified once. Bounded (the last few).
class checkpoint_cache {
 public:
  const checkpoint& verify(std::string_view signed_note, const note_key& key);

 private:
  struct item {
    std::string text, key_id;
    checkpoint cp;
  };
  std::deque<item> items_;
};

// Body, log ID (the key's untruncated note key ID), checkpoint signature and origin, and the
// inclusion proof of logIndex against the checkpoint's size and root. Returns the checkpoint.
// Throws verify_error naming what did not hold.
checkpoint verify_v2_entry(const v2_entry& e, const note_key& key, const v2_request& r, checkpoint_cache& cache);

}  // namespace chainsd::tlog
