#pragma once
// A PKCS#11 module and one logged-in session on one token, holding the signing key: blocking calls,
// made only from the pkcs11 signer's worker thread. The module is dlopen()ed and C_Initialize()d
// once per process and path (a config reload builds a second signer on the same module while the
// first still exists), C_Finalize()d when its last user goes. The session is opened, logged in and
// the key found on first use, and again after the token dropped it (removed, session closed).

#include "pkcs11_uri.hpp"
#include "public_key.hpp"

#include <chainsd/plugin/errors.hpp>

#include <memory>
#include <string>

namespace signer_kms {

class pkcs11_token {
 public:
  // `what` names the key in messages (the URI without its PIN).
  pkcs11_token(pkcs11_uri uri, std::string what);
  ~pkcs11_token();
  pkcs11_token(const pkcs11_token&) = delete;
  pkcs11_token& operator=(const pkcs11_token&) = delete;

  // Opens the session and reads the key pair when needed; the SPKI PEM of the public key.
  chainsd::plugin::result<std::string> ensure();
  // A DER ECDSA signature over SHA-256(message) (CKM_ECDSA over the digest), verified with the
  // public key before it is returned.
  chainsd::plugin::result<std::string> sign(const std::string& message);
  // The SPKI PEM read by the first successful ensure(), else empty (no PKCS#11 call).
  std::string pem() const;

 private:
  struct state;
  std::unique_ptr<state> s_;
};

}  // namespace signer_kms
