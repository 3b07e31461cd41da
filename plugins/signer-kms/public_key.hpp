#pragma once
// The KMS key's public half: parsed once from what the provider returned, and used to check every
// signature before it leaves the plugin (a KMS answering with another key's or a corrupt
// signature must fail the run, not produce an unverifiable attestation). Pure OpenSSL.

#include <openssl/evp.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace signer_kms {

struct pkey_deleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;

class key_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct public_key {
  pkey_ptr key;
  std::string pem;  // normalised SubjectPublicKeyInfo PEM (what the engine derives the key id from)
};

// From an SPKI PEM ("-----BEGIN PUBLIC KEY-----") or DER. ECDSA or RSA. Throws key_error.
public_key public_key_from_pem(std::string_view pem);
public_key public_key_from_der(std::string_view der);

// True when `sig` (DER ECDSA, or RSA PKCS#1 v1.5) verifies over SHA-256(message).
bool verifies(const public_key& k, std::string_view message, std::string_view sig);

// SHA-256 of `message` (32 raw bytes).
std::string sha256(std::string_view message);

}  // namespace signer_kms
