#pragma once
// Private keys for the x509 signer: PKCS#8 PEM ("PRIVATE KEY", as upstream's x509.pem) and
// cosign's encrypted format ("ENCRYPTED COSIGN PRIVATE KEY" / "ENCRYPTED SIGSTORE PRIVATE KEY":
// JSON with scrypt KDF parameters and a NaCl secretbox around a PKCS#8 DER key). ECDSA
// (P-256/384/521), Ed25519 and RSA keys are accepted.

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace signer_x509 {

struct pkey_deleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;

class key_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `source` names the file in errors ("x509.pem"). Throws key_error.
pkey_ptr load_pkcs8_pem(std::string_view pem, std::string_view source);

// A cosign key as read from its PEM, before the (costly) key derivation.
struct sealed_cosign_key {
  std::uint64_t n = 0;  // scrypt cost parameters
  std::uint32_t r = 0, p = 0;
  std::string salt, nonce, ciphertext;
  std::string source;
};

// Parses the PEM and checks the KDF parameters (cheap). Accepted are exactly the scrypt
// parameter sets go-securesystemslib (which cosign uses) writes and reads: N = 32768 (cosign's
// default), 65536 or 131072, with r = 8 and p = 1; scrypt then needs 128·N·r bytes (32, 64 or
// 128 MiB) for ~0.1–0.4 s. Anything else is refused naming the file. Throws key_error.
sealed_cosign_key parse_cosign_key(std::string_view pem, std::string_view source);
// Derives the key from the password and decrypts (blocking: run it off the loop or at startup).
// Throws key_error ("wrong password in cosign.password?" when the box does not open).
pkey_ptr open_cosign_key(const sealed_cosign_key& sealed, std::string_view password);
pkey_ptr load_cosign_key(std::string_view pem, std::string_view password, std::string_view source);

// Signs as sigstore's signers do: ECDSA and RSA (PKCS#1 v1.5) over SHA-256 (ASN.1 DER signature
// for ECDSA), Ed25519 over the message itself. Throws key_error.
std::string sign(EVP_PKEY* key, std::string_view message);

// SubjectPublicKeyInfo PEM.
std::string public_key_pem(EVP_PKEY* key);

}  // namespace signer_x509
