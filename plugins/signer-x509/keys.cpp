#include "keys.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <vector>

namespace signer_x509 {
namespace {

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  if (!e) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

std::string b64decode(std::string_view in, std::string_view what) {
  std::vector<unsigned char> out(in.size());
  std::size_t len = 0;
  if (sodium_base642bin(out.data(), out.size(), in.data(), in.size(), " \r\n\t", &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0)
    throw key_error(std::string(what) + " is not valid base64");
  return std::string(reinterpret_cast<char*>(out.data()), len);
}

// The base64 body of the single PEM block of type `type`; empty when absent.
std::string pem_body(std::string_view pem, std::string_view type) {
  std::string begin = "-----BEGIN " + std::string(type) + "-----";
  std::string end = "-----END " + std::string(type) + "-----";
  auto b = pem.find(begin);
  if (b == std::string_view::npos) return {};
  b += begin.size();
  auto e = pem.find(end, b);
  if (e == std::string_view::npos) return {};
  return std::string(pem.substr(b, e - b));
}

pkey_ptr check_type(pkey_ptr key, std::string_view source) {
  int id = EVP_PKEY_get_base_id(key.get());
  if (id != EVP_PKEY_EC && id != EVP_PKEY_ED25519 && id != EVP_PKEY_RSA)
    throw key_error(std::string(source) + ": unsupported key type (ECDSA, Ed25519 or RSA)");
  return key;
}

}  // namespace

pkey_ptr load_pkcs8_pem(std::string_view pem, std::string_view source) {
  if (pem.find("-----BEGIN PRIVATE KEY-----") == std::string_view::npos) {
    auto type_start = pem.find("-----BEGIN ");
    std::string found = "no PEM block";
    if (type_start != std::string_view::npos) {
      auto type_end = pem.find("-----", type_start + 11);
      found = "a PEM block of type " + std::string(pem.substr(type_start + 11, type_end - type_start - 11));
    }
    throw key_error(std::string(source) + ": expected a PKCS#8 \"PRIVATE KEY\" PEM block, found " + found);
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) throw key_error(std::string(source) + ": cannot parse the private key: " + openssl_error());
  return check_type(std::move(key), source);
}

namespace {

bool accepted_scrypt(std::uint64_t n, std::uint64_t r, std::uint64_t p) {
  return (n == 32768 || n == 65536 || n == 131072) && r == 8 && p == 1;
}

}  // namespace

sealed_cosign_key parse_cosign_key(std::string_view pem, std::string_view source) {
  if (sodium_init() < 0) throw key_error("libsodium failed to initialize");
  std::string body = pem_body(pem, "ENCRYPTED SIGSTORE PRIVATE KEY");
  if (body.empty()) body = pem_body(pem, "ENCRYPTED COSIGN PRIVATE KEY");
  if (body.empty())
    throw key_error(std::string(source) + ": expected an \"ENCRYPTED COSIGN PRIVATE KEY\" or \"ENCRYPTED SIGSTORE PRIVATE KEY\" PEM block");
  std::string json = b64decode(body, std::string(source) + " PEM body");

  boost::system::error_code ec;
  auto doc = boost::json::parse(json, ec);
  if (ec || !doc.is_object()) throw key_error(std::string(source) + ": the encrypted key is not JSON");
  try {
    sealed_cosign_key k;
    k.source = std::string(source);
    const auto& kdf = doc.at("kdf").as_object();
    if (kdf.at("name").as_string() != "scrypt")
      throw key_error(k.source + ": unsupported kdf " + std::string(kdf.at("name").as_string()));
    const auto& params = kdf.at("params").as_object();
    // Read wide, so a huge value is reported as itself rather than wrapped into range.
    auto n = params.at("N").to_number<std::uint64_t>();
    auto r = params.at("r").to_number<std::uint64_t>();
    auto p = params.at("p").to_number<std::uint64_t>();
    if (!accepted_scrypt(n, r, p))
      throw key_error(k.source + ": scrypt parameters N=" + std::to_string(n) + ", r=" + std::to_string(r) +
                      ", p=" + std::to_string(p) +
                      " are not accepted (N=32768, 65536 or 131072 with r=8 and p=1, as cosign writes them)");
    k.n = n;
    k.r = static_cast<std::uint32_t>(r);
    k.p = static_cast<std::uint32_t>(p);
    k.salt = b64decode(kdf.at("salt").as_string(), k.source + " kdf.salt");
    const auto& cipher = doc.at("cipher").as_object();
    if (cipher.at("name").as_string() != "nacl/secretbox")
      throw key_error(k.source + ": unsupported cipher " + std::string(cipher.at("name").as_string()));
    k.nonce = b64decode(cipher.at("nonce").as_string(), k.source + " cipher.nonce");
    k.ciphertext = b64decode(doc.at("ciphertext").as_string(), k.source + " ciphertext");
    if (k.nonce.size() != crypto_secretbox_NONCEBYTES) throw key_error(k.source + ": bad nonce length");
    if (k.ciphertext.size() < crypto_secretbox_MACBYTES) throw key_error(k.source + ": ciphertext too short");
    return k;
  } catch (const std::exception& e) {
    if (dynamic_cast<const key_error*>(&e)) throw;
    throw key_error(std::string(source) + ": malformed encrypted key: " + e.what());
  }
}

pkey_ptr open_cosign_key(const sealed_cosign_key& k, std::string_view password) {
  if (sodium_init() < 0) throw key_error("libsodium failed to initialize");
  if (!accepted_scrypt(k.n, k.r, k.p)) throw key_error(k.source + ": scrypt parameters out of range");
  unsigned char key[crypto_secretbox_KEYBYTES];
  if (crypto_pwhash_scryptsalsa208sha256_ll(reinterpret_cast<const uint8_t*>(password.data()), password.size(),
                                            reinterpret_cast<const uint8_t*>(k.salt.data()), k.salt.size(), k.n, k.r,
                                            k.p, key, sizeof key) != 0)
    throw key_error(k.source + ": scrypt failed (out of memory?)");
  std::string plain(k.ciphertext.size() - crypto_secretbox_MACBYTES, '\0');
  int rc = crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                      reinterpret_cast<const unsigned char*>(k.ciphertext.data()), k.ciphertext.size(),
                                      reinterpret_cast<const unsigned char*>(k.nonce.data()), key);
  sodium_memzero(key, sizeof key);
  if (rc != 0) throw key_error(k.source + ": decryption failed: wrong password in cosign.password?");
  const auto* der = reinterpret_cast<const unsigned char*>(plain.data());
  pkey_ptr pk(d2i_AutoPrivateKey(nullptr, &der, static_cast<long>(plain.size())));
  sodium_memzero(plain.data(), plain.size());
  if (!pk) throw key_error(k.source + ": decrypted key is not PKCS#8: " + openssl_error());
  return check_type(std::move(pk), k.source);
}

pkey_ptr load_cosign_key(std::string_view pem, std::string_view password, std::string_view source) {
  return open_cosign_key(parse_cosign_key(pem, source), password);
}

namespace {

// EVP_DigestSignInit fetches the algorithm from the provider and sets up a context on every call;
// for ECDSA and RSA the context for "sign a SHA-256 digest with this key" is prepared once per key
// (the signer is used from one thread) and only the digest is computed per message.
struct prepared_sign_ctx {
  EVP_PKEY* key = nullptr;  // a reference we hold, so the address cannot be reused by another key
  EVP_PKEY_CTX* ctx = nullptr;
  ~prepared_sign_ctx() { reset(); }
  void reset() {
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(key);
    ctx = nullptr;
    key = nullptr;
  }
};

EVP_PKEY_CTX* prepared_ctx(EVP_PKEY* key) {
  thread_local prepared_sign_ctx cache;
  if (cache.key == key) return cache.ctx;
  cache.reset();
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
  if (!ctx || EVP_PKEY_sign_init(ctx) != 1 || EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1) {
    EVP_PKEY_CTX_free(ctx);
    throw key_error("sign init: " + openssl_error());
  }
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1) {
    EVP_PKEY_CTX_free(ctx);
    throw key_error("sign init: " + openssl_error());
  }
  EVP_PKEY_up_ref(key);
  cache.key = key;
  cache.ctx = ctx;
  return ctx;
}

}  // namespace

std::string sign(EVP_PKEY* key, std::string_view message) {
  auto data = reinterpret_cast<const unsigned char*>(message.data());
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_CTX* ctx = prepared_ctx(key);
    unsigned char digest[32];
    if (!SHA256(data, message.size(), digest)) throw key_error("sign: " + openssl_error());
    std::size_t len = 0;
    if (EVP_PKEY_sign(ctx, nullptr, &len, digest, sizeof digest) != 1) throw key_error("sign: " + openssl_error());
    std::string sig(len, '\0');
    if (EVP_PKEY_sign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, digest, sizeof digest) != 1)
      throw key_error("sign: " + openssl_error());
    sig.resize(len);
    return sig;
  }
  // Ed25519 signs the message itself (pure EdDSA): no digest to prepare for.
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key) != 1) throw key_error("sign init: " + openssl_error());
  std::size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, data, message.size()) != 1) throw key_error("sign: " + openssl_error());
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data, message.size()) != 1)
    throw key_error("sign: " + openssl_error());
  sig.resize(len);
  return sig;
}

std::string public_key_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_PUBKEY(bio.get(), key);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace signer_x509
