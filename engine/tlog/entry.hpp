#pragma once
// Rekor entries: what we propose (dsse v0.0.1 for in-toto attestations, hashedrekord v0.0.1 for
// simplesigning signatures), what the log answers, and the checks that make that answer
// trustworthy (SET, RFC 6962 inclusion proof, signed checkpoint). No I/O here: the client does
// the HTTP, these functions are pure and unit-tested against Rekor's formats.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace chainsd::tlog {

// A failed check or a malformed answer. The message names what did not hold.
class verify_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What we asked the log to record, and the facts its canonical body must repeat.
struct proposal {
  std::string kind;          // "dsse" or "hashedrekord"
  std::string json;          // POST /api/v1/log/entries body
  std::string payload_hash;  // hex sha256 of the payload (dsse: the envelope's decoded payload)
  std::string envelope_hash; // dsse: hex sha256 of the envelope JSON as sent; else empty
  std::string signature_b64; // the signature as the body stores it (base64)
};

// dsse v0.0.1: `envelope_json` is the DSSE envelope exactly as stored elsewhere (Rekor hashes
// these bytes); `verifier_pem` the signer's PUBLIC KEY PEM or its certificate PEM.
proposal dsse_proposal(std::string_view envelope_json, std::string_view verifier_pem);

// hashedrekord v0.0.1 over sha256(payload); `signature` raw bytes (DER for ECDSA).
proposal hashedrekord_proposal(std::string_view payload, std::string_view signature, std::string_view verifier_pem);

struct inclusion_proof_data {
  std::uint64_t log_index = 0;   // index within the shard's tree
  std::uint64_t tree_size = 0;
  std::string root_hash;         // hex
  std::vector<std::string> hashes;  // hex
  std::string checkpoint;        // signed note text
};

struct log_entry {
  std::string uuid;
  std::string body_b64;          // base64 of the canonical body
  std::int64_t integrated_time = 0;
  std::string log_id;            // hex sha256 of the log's DER public key
  std::int64_t log_index = 0;    // the global (virtual) index the annotation names
  std::string set_b64;           // SignedEntryTimestamp
  bool has_proof = false;
  inclusion_proof_data proof;
  std::string json;              // {"<uuid>": {...}} exactly as the log returned it
};

// Parses Rekor's `{"<uuid>": {body, integratedTime, logID, logIndex, verification}}` answer.
// Throws verify_error when the shape is not that.
log_entry parse_log_entry(std::string_view response_json);

// The bytes the SET signs: RFC 8785 JSON of {body, integratedTime, logID, logIndex}.
std::string set_payload(const log_entry& e);

// The key a log signs with: SubjectPublicKeyInfo PEM. Throws verify_error if unusable.
struct log_key {
  std::string pem;
  std::string log_id;  // hex sha256(DER)
  std::uint32_t note_key_hash = 0;  // first four bytes of sha256(DER), as checkpoint signatures carry
};
log_key parse_log_key(std::string_view pem);

// Each throws verify_error naming what failed.
void verify_set(const log_entry& e, const log_key& key);
void verify_inclusion(const log_entry& e);
// Checks the checkpoint's signature by `key` and that it commits to the proof's root and size.
void verify_checkpoint(const log_entry& e, const log_key& key);
// That the canonical body records our proposal (kind, hashes, signature).
void verify_body_matches(const log_entry& e, const proposal& p);

// All of the above, the order a reader would check them in.
void verify_entry(const log_entry& e, const log_key& key, const proposal& p);

// Verifies a signature over `message` with a PEM public key or certificate (ECDSA/RSA with
// SHA-256, Ed25519 pure). Returns false on a bad signature; throws verify_error for a bad key.
bool verify_signature(std::string_view pem, std::string_view message, std::string_view signature);

}  // namespace chainsd::tlog
