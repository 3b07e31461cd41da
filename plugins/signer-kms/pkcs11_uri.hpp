#pragma once
// signers.kms.kmsref "pkcs11:…": an RFC 7512 PKCS#11 URI naming a private key on a token, with the
// attributes cosign's pkcs11 URIs use. Path (';'-separated): token= (the token label) or serial=,
// object= (the key's CKA_LABEL) and/or id= (its CKA_ID, percent-encoded bytes), type=private
// (optional); query ('&'-separated): module-path= (the PKCS#11 module .so), pin-value= or
// pin-source= (file:/path or /path: a file holding the PIN, re-read at each login). Values are
// percent-decoded. Pure: no I/O.

#include <optional>
#include <string>
#include <string_view>

namespace signer_kms {

struct pkcs11_uri {
  std::string token;        // CK_TOKEN_INFO label; empty = any
  std::string serial;       // CK_TOKEN_INFO serialNumber; empty = any
  std::string object;       // CKA_LABEL; empty = any
  std::string id;           // CKA_ID bytes; empty = any
  std::string module_path;  // required (the factory says so)
  std::string pin_value;
  std::string pin_source;   // a file path (the "file:" prefix removed)
  bool has_pin = false;     // pin-value or pin-source given
};

struct pkcs11_uri_outcome {
  std::optional<pkcs11_uri> uri;
  std::string error;  // names signers.kms.kmsref and the offending attribute
};
pkcs11_uri_outcome parse_pkcs11_uri(std::string_view text);

// The URI without its pin-value (for logs and error messages).
std::string redact_pkcs11_uri(std::string_view text);

}  // namespace signer_kms
