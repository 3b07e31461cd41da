#pragma once
// SCRAM-SHA-256 (RFC 5802, RFC 7677) client messages, as MongoDB runs them over saslStart /
// saslContinue. Pure (OpenSSL's PBKDF2 and HMAC). Passwords are used as given (printable ASCII;
// SASLprep of other characters is not implemented: such a password is refused as bad_config).

#include <chainsd/plugin/errors.hpp>

#include <string>
#include <string_view>

namespace storage_docdb::scram {

struct client {
  std::string user;
  std::string password;
  std::string nonce;              // the client's nonce (printable, no ',')
  std::string first_bare;         // "n=<user>,r=<nonce>"
  std::string server_signature;   // expected "v=" value (base64), set by final_message()

  // "n,,n=<user>,r=<nonce>" (no channel binding), remembering the bare part.
  std::string first_message();
  // From the server's first message ("r=...,s=...,i=..."): "c=biws,r=...,p=<proof>". Errors:
  // `permanent` for a malformed message, a nonce that does not extend ours, fewer than 4096
  // iterations.
  chainsd::plugin::result<std::string> final_message(std::string_view server_first);
  // The server's final message must be "v=<server_signature>" (else `unauthenticated`).
  chainsd::plugin::result<void> verify(std::string_view server_final) const;
};

// A fresh 24-byte random nonce, base64.
std::string make_nonce();
// "=" → "=3D", "," → "=2C" (RFC 5802 saslname).
std::string escape_user(std::string_view user);
bool printable_ascii(std::string_view s);

}  // namespace storage_docdb::scram
