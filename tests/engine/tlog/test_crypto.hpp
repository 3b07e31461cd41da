#pragma once
// EC P-256 keys and signatures for the tlog tests, straight from OpenSSL (no engine code), so a
// test that signs here and verifies with engine/tlog checks two independent paths.

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace chainsd::tlog::test {

class ec_key {
 public:
  ec_key() : key_(EVP_EC_gen("P-256"), EVP_PKEY_free) {
    if (!key_) throw std::runtime_error("EVP_EC_gen failed");
  }
  std::string public_pem() const {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_PUBKEY(bio.get(), key_.get());
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
  }
  // ECDSA-SHA256, DER.
  std::string sign(std::string_view message) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get());
    std::size_t len = 0;
    auto* m = reinterpret_cast<const unsigned char*>(message.data());
    EVP_DigestSign(ctx.get(), nullptr, &len, m, message.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, m, message.size());
    sig.resize(len);
    return sig;
  }

 private:
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_;
};

}  // namespace chainsd::tlog::test
