#pragma once
// Keys, signatures and certificates for tests, straight from OpenSSL (no engine code), so what a
// test signs here and the engine verifies goes through two independent paths. ECDSA P-256,
// Ed25519 and RSA keys; a CA that issues leaf certificates with chosen validity windows (a
// Fulcio-like signing certificate, or one that has already expired).

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace chainsd::test_support {

class test_key {
 public:
  enum class type { ecdsa_p256, ecdsa_p384, ed25519, rsa2048 };
  explicit test_key(type t = type::ecdsa_p256) : type_(t), key_(generate(t), EVP_PKEY_free) {
    if (!key_) throw std::runtime_error("key generation failed");
  }
  EVP_PKEY* get() const { return key_.get(); }

  std::string public_pem() const {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_PUBKEY(bio.get(), key_.get());
    return text(bio.get());
  }
  std::string private_pem() const {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
    return text(bio.get());
  }
  std::string public_der() const {
    unsigned char* der = nullptr;
    int n = i2d_PUBKEY(key_.get(), &der);
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
    OPENSSL_free(der);
    return out;
  }
  // Raw 32-byte Ed25519 public key.
  std::string raw_public() const {
    unsigned char raw[64];
    std::size_t len = sizeof raw;
    EVP_PKEY_get_raw_public_key(key_.get(), raw, &len);
    return std::string(reinterpret_cast<char*>(raw), len);
  }

  // ECDSA / RSA PKCS#1 v1.5 with SHA-256 (DER for ECDSA); Ed25519 pure.
  std::string sign(std::string_view message) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    const EVP_MD* md = type_ == type::ed25519 ? nullptr : EVP_sha256();
    if (EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key_.get()) != 1) throw std::runtime_error("sign init");
    std::size_t len = 0;
    auto* m = reinterpret_cast<const unsigned char*>(message.data());
    EVP_DigestSign(ctx.get(), nullptr, &len, m, message.size());
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, m, message.size()) != 1)
      throw std::runtime_error("sign");
    sig.resize(len);
    return sig;
  }

 private:
  static EVP_PKEY* generate(type t) {
    switch (t) {
      case type::ecdsa_p256: return EVP_EC_gen("P-256");
      case type::ecdsa_p384: return EVP_EC_gen("P-384");
      case type::ed25519: return EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      case type::rsa2048: return EVP_RSA_gen(2048);
    }
    return nullptr;
  }
  static std::string text(BIO* b) {
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    return std::string(data, static_cast<std::size_t>(n));
  }
  type type_;
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_;
};

inline std::string cert_pem(X509* c) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), c);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

inline std::string cert_der(X509* c) {
  unsigned char* der = nullptr;
  int n = i2d_X509(c, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return out;
}

// A self-signed CA that issues certificates (as Fulcio issues short-lived signing certificates).
class test_ca {
 public:
  explicit test_ca(std::string name) : cert_(X509_new(), X509_free) {
    std::time_t now = std::time(nullptr);
    fill(cert_.get(), name, name, key_, key_, now - 86400, now + 365 * 86400, true);
  }
  X509* cert() const { return cert_.get(); }
  std::string pem() const { return cert_pem(cert_.get()); }
  std::string der() const { return cert_der(cert_.get()); }

  // A leaf for `subject_key`, valid from now+from to now+to seconds (code signing, as Fulcio's).
  std::string issue_pem(const test_key& subject_key, long from, long to, const std::string& name = "signer") const {
    std::unique_ptr<X509, decltype(&X509_free)> leaf(X509_new(), X509_free);
    std::time_t now = std::time(nullptr);
    fill(leaf.get(), name, subject_of(), subject_key, key_, now + from, now + to, false);
    return cert_pem(leaf.get());
  }

 private:
  std::string subject_of() const {
    char buf[256];
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert_.get()), NID_commonName, buf, sizeof buf);
    return buf;
  }
  static void fill(X509* c, const std::string& cn, const std::string& issuer_cn, const test_key& subject,
                   const test_key& issuer, std::time_t from, std::time_t to, bool ca) {
    static long serial = 1000;
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), ++serial);
    X509_time_adj_ex(X509_getm_notBefore(c), 0, static_cast<long>(from - std::time(nullptr)), nullptr);
    X509_time_adj_ex(X509_getm_notAfter(c), 0, static_cast<long>(to - std::time(nullptr)), nullptr);
    X509_set_pubkey(c, subject.get());
    X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_NAME_add_entry_by_txt(X509_get_issuer_name(c), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(issuer_cn.c_str()), -1, -1, 0);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, c, c, nullptr, nullptr, 0);
    auto add = [&](int nid, const char* value) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
      X509_add_ext(c, ext, -1);
      X509_EXTENSION_free(ext);
    };
    add(NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    add(NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    if (!ca) add(NID_ext_key_usage, "codeSigning");
    X509_sign(c, issuer.get(), EVP_sha256());
  }
  test_key key_;
  std::unique_ptr<X509, decltype(&X509_free)> cert_;
};

}  // namespace chainsd::test_support

namespace test_support = chainsd::test_support;
