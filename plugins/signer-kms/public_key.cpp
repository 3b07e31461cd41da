#include "public_key.hpp"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

namespace signer_kms {

namespace {

public_key finish(EVP_PKEY* raw, const char* what) {
  if (!raw) throw key_error(std::string("the public key is not a valid ") + what);
  pkey_ptr key(raw);
  int id = EVP_PKEY_get_base_id(key.get());
  if (id != EVP_PKEY_EC && id != EVP_PKEY_RSA)
    throw key_error("the public key is neither ECDSA nor RSA (only those sign a SHA-256 digest)");
  std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), BIO_free);
  if (!PEM_write_bio_PUBKEY(out.get(), key.get())) throw key_error("cannot encode the public key");
  char* data = nullptr;
  long n = BIO_get_mem_data(out.get(), &data);
  return public_key{std::move(key), std::string(data, static_cast<std::size_t>(n))};
}

}  // namespace

public_key public_key_from_pem(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  return finish(PEM_read_bio_PUBKEY(in.get(), nullptr, nullptr, nullptr), "SubjectPublicKeyInfo PEM");
}

public_key public_key_from_der(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  return finish(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())), "SubjectPublicKeyInfo DER");
}

bool verifies(const public_key& k, std::string_view message, std::string_view sig) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, k.key.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
}

std::string sha256(std::string_view message) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(message.data()), message.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

}  // namespace signer_kms
