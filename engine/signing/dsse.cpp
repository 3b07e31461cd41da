#include "signing/dsse.hpp"

#include "runtime/log.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <memory>
#include <stdexcept>

namespace chainsd::signing {

using plugin::base64_encode;

namespace {

void put_string(std::string& out, std::string_view s) {
  auto n = static_cast<std::uint32_t>(s.size());
  out += static_cast<char>(n >> 24);
  out += static_cast<char>(n >> 16);
  out += static_cast<char>(n >> 8);
  out += static_cast<char>(n);
  out.append(s);
}

// SSH mpint: big-endian two's complement, a leading zero byte when the top bit is set.
void put_mpint(std::string& out, const std::string& magnitude) {
  std::size_t i = 0;
  while (i < magnitude.size() && magnitude[i] == 0) ++i;
  std::string v = magnitude.substr(i);
  if (!v.empty() && (static_cast<unsigned char>(v[0]) & 0x80)) v.insert(v.begin(), '\0');
  put_string(out, v);
}

std::string bn_param(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (!EVP_PKEY_get_bn_param(key, name, &bn)) throw std::invalid_argument("public key lacks RSA parameters");
  std::string out(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

}  // namespace

std::string pae(std::string_view payload_type, std::string_view payload) {
  std::string out = "DSSEv1 ";
  out += std::to_string(payload_type.size());
  out += ' ';
  out += payload_type;
  out += ' ';
  out += std::to_string(payload.size());
  out += ' ';
  out += payload;
  return out;
}

std::string envelope_json(std::string_view payload_type, std::string_view payload, std::string_view key_id,
                          std::string_view signature) {
  std::string out = "{\"payloadType\":\"";
  log::json_escape(out, payload_type);
  out += "\",\"payload\":\"";
  out += base64_encode(payload);
  out += "\",\"signatures\":[{\"keyid\":\"";
  log::json_escape(out, key_id);
  out += "\",\"sig\":\"";
  out += base64_encode(signature);
  out += "\"}]}";
  return out;
}

std::string ssh_key_id(std::string_view public_key_pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())),
                                                &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr),
                                                          &EVP_PKEY_free);
  if (!key) throw std::invalid_argument("not a PEM public key");
  std::string wire;
  switch (EVP_PKEY_get_base_id(key.get())) {
    case EVP_PKEY_EC: {
      char group[64] = {};
      std::size_t glen = 0;
      EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen);
      std::string g(group, glen), curve;
      if (g == "prime256v1" || g == "P-256") curve = "nistp256";
      else if (g == "secp384r1" || g == "P-384") curve = "nistp384";
      else if (g == "secp521r1" || g == "P-521") curve = "nistp521";
      else throw std::invalid_argument("unsupported EC curve " + g);
      unsigned char point[200];
      std::size_t plen = 0;
      EVP_PKEY_set_utf8_string_param(key.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed");
      if (!EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &plen))
        throw std::invalid_argument("cannot read EC public point");
      put_string(wire, "ecdsa-sha2-" + curve);
      put_string(wire, curve);
      put_string(wire, std::string_view(reinterpret_cast<char*>(point), plen));
      break;
    }
    case EVP_PKEY_ED25519: {
      unsigned char raw[32];
      std::size_t len = sizeof raw;
      if (!EVP_PKEY_get_raw_public_key(key.get(), raw, &len)) throw std::invalid_argument("cannot read Ed25519 key");
      put_string(wire, "ssh-ed25519");
      put_string(wire, std::string_view(reinterpret_cast<char*>(raw), len));
      break;
    }
    case EVP_PKEY_RSA: {
      put_string(wire, "ssh-rsa");
      put_mpint(wire, bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E));
      put_mpint(wire, bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N));
      break;
    }
    default:
      throw std::invalid_argument("unsupported public key type for a key id");
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(wire.data()), wire.size(), digest);
  std::string b64 = base64_encode(std::string_view(reinterpret_cast<char*>(digest), sizeof digest));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return "SHA256:" + b64;
}

}  // namespace chainsd::signing
