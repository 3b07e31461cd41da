#pragma once
// X.509 pieces of keyless signing: the ephemeral key, the CSR Fulcio's v2 API takes as proof of
// possession, and the checks on the chain Fulcio returns before any signature relies on it.
// Pure OpenSSL (no I/O), so tests link it directly.

#include "keys.hpp"

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace signer_x509 {

class cert_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A fresh ECDSA P-256 key, as cosign's ephemeral keys. Throws key_error.
pkey_ptr generate_p256();

// A PKCS#10 request ("CERTIFICATE REQUEST" PEM) for `key`, self-signed with SHA-256: Fulcio reads
// only the public key from it and takes the signature as proof of possession.
std::string make_csr_pem(EVP_PKEY* key, std::string_view common_name);

// The PEM CERTIFICATE blocks of `pem`, in order, each normalised to end with a newline.
std::vector<std::string> split_pem_certs(std::string_view pem);

// What a leaf certificate says, as far as keyless signing cares.
struct leaf_info {
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  std::vector<std::string> emails;  // rfc822Name SANs
  std::vector<std::string> uris;    // URI SANs
  std::string oidc_issuer;          // 1.3.6.1.4.1.57264.1.8 (DER UTF8String), else .1.1 (raw)
  std::string serial_hex;
  bool code_signing = false;        // extended key usage codeSigning
};

// The identity a Fulcio certificate must carry for a token: an email SAN for tokens with an email
// claim, Fulcio's Kubernetes URI for service-account tokens, else the subject as a URI SAN.
struct expected_identity {
  std::string email;
  std::string uri;
  std::string issuer;
};

// Checks `certs` (leaf first, as Fulcio returns them): the leaf holds `key`'s public key, is for
// code signing, names the expected identity and issuer; every certificate is signed by the next
// one and the last one by itself or by a certificate we were not given. Returns the leaf's
// details. Throws cert_error saying what is wrong.
leaf_info check_chain(const std::vector<std::string>& certs, EVP_PKEY* key, const expected_identity& want);

}  // namespace signer_x509
