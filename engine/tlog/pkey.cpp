#include "tlog/pkey.hpp"

#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <deque>

namespace chainsd::tlog::detail {
namespace {

using bio_ptr = std::unique_ptr<BIO, freer<BIO_free>>;

bio_ptr mem_bio(std::string_view text) { return bio_ptr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))); }

pkey_ptr decode_key(std::string_view pem) {
  if (auto b = mem_bio(pem)) {
    if (EVP_PKEY* k = PEM_read_bio_PUBKEY(b.get(), nullptr, nullptr, nullptr)) return pkey_ptr(k);
  }
  if (auto b = mem_bio(pem)) {
    x509_ptr cert(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
    if (cert) {
      if (EVP_PKEY* k = X509_get_pubkey(cert.get())) return pkey_ptr(k);
    }
  }
  throw verify_error("not a PEM public key or certificate");
}

std::time_t asn1_seconds(const ASN1_TIME* t) {
  struct tm tm {};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) throw verify_error("certificate has an unreadable validity time");
  return timegm(&tm);
}

}  // namespace

pkey_ptr load_key(std::string_view pem) {
  struct entry {
    std::string pem;
    pkey_ptr key;
  };
  thread_local std::deque<entry> cache;
  for (auto& e : cache)
    if (e.pem == pem) {
      EVP_PKEY_up_ref(e.key.get());
      return pkey_ptr(e.key.get());
    }
  auto key = decode_key(pem);
  EVP_PKEY_up_ref(key.get());
  cache.push_front(entry{std::string(pem), pkey_ptr(key.get())});
  if (cache.size() > 8) cache.pop_back();
  return key;
}

std::string spki_der(EVP_PKEY* key) { return to_der(key, i2d_PUBKEY, "public key"); }

std::vector<x509_ptr> load_certs(std::string_view pem) {
  std::vector<x509_ptr> out;
  auto b = mem_bio(pem);
  while (b) {
    x509_ptr c(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
    if (!c) break;
    out.push_back(std::move(c));
  }
  // A trailing PEM block that is not a certificate (or a broken one) must not pass silently.
  std::size_t blocks = 0;
  for (std::size_t pos = pem.find("-----BEGIN "); pos != std::string_view::npos; pos = pem.find("-----BEGIN ", pos + 1))
    ++blocks;
  if (out.empty()) throw verify_error("no PEM certificate");
  if (blocks != out.size())
    throw verify_error(std::to_string(blocks - out.size()) + " PEM block(s) are not readable certificates");
  return out;
}

std::string cert_der(X509* cert) { return to_der(cert, i2d_X509, "certificate"); }

namespace {

std::string bio_text(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace

std::string public_key_pem_from_der(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  pkey_ptr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  bio_ptr out(BIO_new(BIO_s_mem()));
  if (!key || !out || PEM_write_bio_PUBKEY(out.get(), key.get()) != 1) throw verify_error("not a DER public key");
  return bio_text(out.get());
}

std::string cert_pem_from_der(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  x509_ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  bio_ptr out(BIO_new(BIO_s_mem()));
  if (!cert || !out || PEM_write_bio_X509(out.get(), cert.get()) != 1) throw verify_error("not a DER certificate");
  return bio_text(out.get());
}

std::time_t cert_not_before(X509* cert) { return asn1_seconds(X509_get0_notBefore(cert)); }
std::time_t cert_not_after(X509* cert) { return asn1_seconds(X509_get0_notAfter(cert)); }

bool verify_message(EVP_PKEY* key, std::string_view message, std::string_view signature, const EVP_MD* md) {
  std::unique_ptr<EVP_MD_CTX, freer<EVP_MD_CTX_free>> ctx(EVP_MD_CTX_new());
  // Ed25519 signs the message itself; ECDSA and RSA (PKCS#1 v1.5) a digest of it.
  if (EVP_PKEY_get_id(key) == EVP_PKEY_ED25519)
    md = nullptr;
  else if (!md)
    md = EVP_sha256();
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1)
    throw verify_error("cannot initialize signature verification");
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
}

bool verify_digest(EVP_PKEY* key, std::string_view sha256_digest, std::string_view signature) {
  std::unique_ptr<EVP_PKEY_CTX, freer<EVP_PKEY_CTX_free>> ctx(EVP_PKEY_CTX_new(key, nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) != 1)
    throw verify_error("cannot initialize signature verification");
  if (EVP_PKEY_get_id(key) == EVP_PKEY_RSA && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1)
    throw verify_error("cannot initialize signature verification");
  return EVP_PKEY_verify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                         reinterpret_cast<const unsigned char*>(sha256_digest.data()), sha256_digest.size()) == 1;
}

}  // namespace chainsd::tlog::detail
