#include "certs.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

namespace signer_x509 {
namespace {

std::string ssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

struct x509_deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using x509_ptr = std::unique_ptr<X509, x509_deleter>;

x509_ptr parse_cert(const std::string& pem, std::size_t index) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  x509_ptr x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!x) throw cert_error("certificate " + std::to_string(index) + " of the chain cannot be parsed: " + ssl_error());
  return x;
}

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) throw cert_error("certificate has an unreadable validity time");
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string asn1_string(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<std::size_t>(ASN1_STRING_length(s)));
}

// The value of a Fulcio extension: .1.8 is a DER UTF8String, the deprecated .1.1 the raw bytes.
std::string fulcio_extension(X509* x, const char* oid, bool der_utf8) {
  std::unique_ptr<ASN1_OBJECT, decltype(&ASN1_OBJECT_free)> obj(OBJ_txt2obj(oid, 1), &ASN1_OBJECT_free);
  if (!obj) return {};
  int idx = X509_get_ext_by_OBJ(x, obj.get(), -1);
  if (idx < 0) return {};
  const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(X509_get_ext(x, idx));
  std::string raw = asn1_string(data);
  if (!der_utf8) return raw;
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  std::unique_ptr<ASN1_UTF8STRING, decltype(&ASN1_UTF8STRING_free)> s(
      d2i_ASN1_UTF8STRING(nullptr, &p, static_cast<long>(raw.size())), &ASN1_UTF8STRING_free);
  return s ? asn1_string(s.get()) : std::string();
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

}  // namespace

pkey_ptr generate_p256() {
  pkey_ptr key(EVP_EC_gen("P-256"));
  if (!key) throw key_error("cannot generate an ECDSA P-256 key: " + ssl_error());
  return key;
}

std::string make_csr_pem(EVP_PKEY* key, std::string_view common_name) {
  std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)> req(X509_REQ_new(), &X509_REQ_free);
  if (!req || X509_REQ_set_version(req.get(), 0) != 1 || X509_REQ_set_pubkey(req.get(), key) != 1)
    throw key_error("cannot build a certificate request: " + ssl_error());
  // Fulcio ignores the subject; a CN is only a hint for humans and X.509 caps it at 64 characters.
  if (!common_name.empty() && common_name.size() <= 64) {
    X509_NAME* name = X509_REQ_get_subject_name(req.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(common_name.data()),
                               static_cast<int>(common_name.size()), -1, 0);
  }
  if (X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0) throw key_error("cannot sign the certificate request: " + ssl_error());
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::vector<std::string> split_pem_certs(std::string_view pem) {
  static constexpr std::string_view begin = "-----BEGIN CERTIFICATE-----";
  static constexpr std::string_view end = "-----END CERTIFICATE-----";
  std::vector<std::string> out;
  std::size_t pos = 0;
  while ((pos = pem.find(begin, pos)) != std::string_view::npos) {
    auto e = pem.find(end, pos);
    if (e == std::string_view::npos) break;
    e += end.size();
    out.emplace_back(std::string(pem.substr(pos, e - pos)) + "\n");
    pos = e;
  }
  return out;
}

leaf_info check_chain(const std::vector<std::string>& certs, EVP_PKEY* key, const expected_identity& want) {
  if (certs.empty()) throw cert_error("the response holds no certificate");
  std::vector<x509_ptr> chain;
  for (std::size_t i = 0; i < certs.size(); ++i) chain.push_back(parse_cert(certs[i], i));
  X509* leaf = chain.front().get();

  if (EVP_PKEY_eq(X509_get0_pubkey(leaf), key) != 1)
    throw cert_error("the certificate is for another public key than the one we sent");
  for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
    X509* issuer = chain[i + 1].get();
    if (X509_check_issued(issuer, chain[i].get()) != X509_V_OK || X509_verify(chain[i].get(), X509_get0_pubkey(issuer)) != 1)
      throw cert_error("certificate " + std::to_string(i) + " of the chain is not signed by certificate " +
                       std::to_string(i + 1));
  }
  X509* last = chain.back().get();
  if (X509_check_issued(last, last) == X509_V_OK && X509_verify(last, X509_get0_pubkey(last)) != 1)
    throw cert_error("the root certificate's self-signature does not verify");

  leaf_info info;
  info.not_before = to_time_point(X509_get0_notBefore(leaf));
  info.not_after = to_time_point(X509_get0_notAfter(leaf));
  if (info.not_after <= info.not_before) throw cert_error("the certificate's validity period is empty");

  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
    if (n->type == GEN_EMAIL) info.emails.push_back(asn1_string(n->d.rfc822Name));
    if (n->type == GEN_URI) info.uris.push_back(asn1_string(n->d.uniformResourceIdentifier));
  }
  GENERAL_NAMES_free(sans);

  info.code_signing = (X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) && (X509_get_extended_key_usage(leaf) & XKU_CODE_SIGN);
  if (!info.code_signing) throw cert_error("the certificate is not for code signing (extended key usage)");

  info.oidc_issuer = fulcio_extension(leaf, "1.3.6.1.4.1.57264.1.8", true);
  if (info.oidc_issuer.empty()) info.oidc_issuer = fulcio_extension(leaf, "1.3.6.1.4.1.57264.1.1", false);
  if (!want.issuer.empty() && info.oidc_issuer != want.issuer)
    throw cert_error("the certificate names OIDC issuer \"" + info.oidc_issuer + "\", the token was issued by \"" +
                     want.issuer + "\"");

  auto has = [](const std::vector<std::string>& v, const std::string& s) {
    for (const auto& x : v)
      if (x == s) return true;
    return false;
  };
  if (!want.email.empty() && !has(info.emails, want.email))
    throw cert_error("the certificate's email SANs (" + join(info.emails) + ") do not name " + want.email);
  if (!want.uri.empty() && !has(info.uris, want.uri))
    throw cert_error("the certificate's URI SANs (" + join(info.uris) + ") do not name " + want.uri);
  if (info.emails.empty() && info.uris.empty()) throw cert_error("the certificate names no identity (no email or URI SAN)");

  const ASN1_INTEGER* serial = X509_get0_serialNumber(leaf);
  if (std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(ASN1_INTEGER_to_BN(serial, nullptr), &BN_free); bn) {
    char* hex = BN_bn2hex(bn.get());
    info.serial_hex = hex;
    OPENSSL_free(hex);
  }
  return info;
}

}  // namespace signer_x509
