#pragma once
// C2SP signed notes and tlog checkpoints (c2sp.org/signed-note, c2sp.org/tlog-checkpoint), as a
// Rekor v2 log (rekor-tiles) signs them: the key name is the log's origin, the 4-byte key ID is
//   Ed25519: SHA-256(name || 0x0A || 0x01 || 32-byte key)[:4]
//   ECDSA:   SHA-256(SubjectPublicKeyInfo DER)[:4]            (transparency-dev/witness' type)
//   RSA:     SHA-256(name || 0x0A || 0xFF || "PKIX-RSA-PKCS#1v1.5" || SPKI DER)[:4]
// and the untruncated hash is the log ID a TransparencyLogEntry carries. Pure: no I/O.

#include "tlog/entry.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chainsd::tlog {

// The key a log signs its checkpoints with, under its key name.
struct note_key {
  enum class type { ed25519, ecdsa, rsa };
  std::string name;         // key name = checkpoint origin (e.g. "log2025-1.rekor.sigstore.dev")
  std::string pem;          // SubjectPublicKeyInfo PEM
  type kind = type::ecdsa;
  std::string id;           // 32 raw bytes: the untruncated key ID (Rekor v2's log ID)
  std::uint32_t key_id = 0; // first four bytes of `id`, big-endian: what signature lines carry
};

// Throws verify_error for a name the note spec forbids (empty, spaces, '+') or an unusable key.
note_key make_note_key(std::string_view name, std::string_view public_key_pem);

struct checkpoint {
  std::string origin;
  std::uint64_t size = 0;
  std::string root;                     // 32 raw bytes
  std::vector<std::string> extensions;  // opaque extension lines
};

// Verifies that `signed_note` carries a valid signature by `key` (matched by key name AND key
// ID; other signers such as witnesses are ignored, as the spec requires) and returns the note
// text (ending in '\n'). A matching signature that does not verify is an error.
std::string verify_note(std::string_view signed_note, const note_key& key);

// Parses a checkpoint's note text. Throws verify_error when it is not origin/size/root lines.
checkpoint parse_checkpoint(std::string_view note_text);

// Both, and the origin line must be the key's name (as transparency-dev's ParseCheckpoint).
checkpoint verify_checkpoint_note(std::string_view signed_note, const note_key& key);

}  // namespace chainsd::tlog
