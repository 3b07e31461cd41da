#pragma once
// OpenSSL key, certificate and signature helpers shared by the tlog files (internal to
// engine/tlog). Errors throw verify_error naming what could not be read.

#include "tlog/entry.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace chainsd::tlog::detail {

// unique_ptr deleter calling an OpenSSL free function: std::unique_ptr<X509, freer<X509_free>>.
template <auto Free>
struct freer {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, freer<EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, freer<X509_free>>;

// The DER of an OpenSSL object through its i2d function. Throws verify_error naming `what`.
template <class T, class I2d>
std::string to_der(T* obj, I2d i2d, const char* what) {
  int len = i2d(obj, nullptr);
  if (len <= 0) throw verify_error(std::string(what) + ": cannot encode");
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d(obj, &p);
  return der;
}

// A PUBLIC KEY PEM or a certificate PEM (whose key is used), decoded once and kept (per thread,
// the last few): decoding costs far more than a verification.
pkey_ptr load_key(std::string_view pem);

// SubjectPublicKeyInfo DER of a key.
std::string spki_der(EVP_PKEY* key);

// Every certificate in a PEM text, in order. Throws when there is none or one is malformed.
std::vector<x509_ptr> load_certs(std::string_view pem);
std::string cert_der(X509* cert);
// DER (SubjectPublicKeyInfo, certificate) to PEM. Throws verify_error when not readable.
std::string public_key_pem_from_der(std::string_view der);
std::string cert_pem_from_der(std::string_view der);
// notBefore / notAfter as Unix seconds.
std::time_t cert_not_before(X509* cert);
std::time_t cert_not_after(X509* cert);

// Verifies `signature` over `message` with `key`: Ed25519 pure, ECDSA and RSA PKCS#1 v1.5 with
// `md` (nullptr: SHA-256). False on a bad signature.
bool verify_message(EVP_PKEY* key, std::string_view message, std::string_view signature, const EVP_MD* md = nullptr);
// ECDSA or RSA PKCS#1 v1.5 over a precomputed SHA-256 digest. False on a bad signature.
bool verify_digest(EVP_PKEY* key, std::string_view sha256_digest, std::string_view signature);

}  // namespace chainsd::tlog::detail
