#include "crypto.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace chainsd::testserver {
namespace {

[[noreturn]] void fail(const char* what) { throw std::runtime_error(std::string("openssl: ") + what); }

std::string bn_fixed(const BIGNUM* bn, int width) {
  std::string out(static_cast<std::size_t>(width), '\0');
  if (BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), width) != width) fail("bn2binpad");
  return out;
}

EVP_PKEY* new_p256() {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (!k) fail("keygen");
  return k;
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace

struct token_issuer::impl {
  EVP_PKEY* key = nullptr;
  std::string x, y;  // raw 32-byte affine coordinates
  ~impl() { EVP_PKEY_free(key); }
};

token_issuer::token_issuer(std::string issuer) : impl_(std::make_unique<impl>()), issuer_(std::move(issuer)) {
  impl_->key = new_p256();
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  if (!EVP_PKEY_get_bn_param(impl_->key, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
      !EVP_PKEY_get_bn_param(impl_->key, OSSL_PKEY_PARAM_EC_PUB_Y, &y))
    fail("public key coordinates");
  impl_->x = bn_fixed(x, 32);
  impl_->y = bn_fixed(y, 32);
  BN_free(x);
  BN_free(y);
  // Like kube-apiserver: the key id is the base64url SHA-256 of the DER public key.
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(impl_->key, &der);
  if (n <= 0) fail("i2d_PUBKEY");
  unsigned char digest[32];
  unsigned int dlen = 0;
  EVP_Digest(der, static_cast<std::size_t>(n), digest, &dlen, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  kid_ = base64url_encode(std::string_view(reinterpret_cast<char*>(digest), dlen));
}

token_issuer::~token_issuer() = default;

std::string token_issuer::sign(const json::object& claims) const {
  json::object header{{"alg", "ES256"}, {"kid", kid_}};
  std::string input = base64url_encode(json::serialize(header)) + "." + base64url_encode(json::serialize(claims));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t siglen = 0;
  if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, impl_->key) != 1 ||
      EVP_DigestSign(ctx, nullptr, &siglen, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    EVP_MD_CTX_free(ctx);
    fail("sign init");
  }
  std::string der(siglen, '\0');
  if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &siglen,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    EVP_MD_CTX_free(ctx);
    fail("sign");
  }
  EVP_MD_CTX_free(ctx);
  // JWS wants r||s (64 bytes), OpenSSL gives a DER ECDSA-Sig-Value.
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(siglen));
  if (!sig) fail("d2i_ECDSA_SIG");
  std::string raw = bn_fixed(ECDSA_SIG_get0_r(sig), 32) + bn_fixed(ECDSA_SIG_get0_s(sig), 32);
  ECDSA_SIG_free(sig);
  return input + "." + base64url_encode(raw);
}

json::object token_issuer::jwks() const {
  json::object key{{"use", "sig"},
                   {"kty", "EC"},
                   {"kid", kid_},
                   {"crv", "P-256"},
                   {"alg", "ES256"},
                   {"x", base64url_encode(impl_->x)},
                   {"y", base64url_encode(impl_->y)}};
  return {{"keys", json::array{std::move(key)}}};
}

pem_pair make_self_signed_cert() {
  EVP_PKEY* key = new_p256();
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), static_cast<long>(std::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("kube-testserver"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1,IP:::1,DNS:localhost"},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "critical,digitalSignature,keyCertSign"},
                            std::pair{NID_ext_key_usage, "serverAuth"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    if (!ext) fail("certificate extension");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert, key, EVP_sha256()) <= 0) fail("X509_sign");
  BIO* cb = BIO_new(BIO_s_mem());
  BIO* kb = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cb, cert);
  PEM_write_bio_PrivateKey(kb, key, nullptr, nullptr, 0, nullptr, nullptr);
  pem_pair out{bio_string(cb), bio_string(kb)};
  BIO_free(cb);
  BIO_free(kb);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

}  // namespace chainsd::testserver
