#include "azure_api.hpp"

#include "aws_api.hpp"  // url_encode
#include "json_fields.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include <charconv>
#include <memory>

namespace signer_kms::azure {

namespace json = boost::json;

namespace {

// SubjectPublicKeyInfo of an uncompressed P-256 point: the fixed DER prefix (SEQUENCE, the
// id-ecPublicKey + prime256v1 AlgorithmIdentifier, BIT STRING of 66 bytes) then 04 || x || y.
const char p256_spki_prefix[] =
    "\x30\x59\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07\x03\x42\x00";

std::string last_segment(std::string_view kid) {
  auto slash = kid.rfind('/');
  return std::string(slash == std::string_view::npos ? kid : kid.substr(slash + 1));
}

}  // namespace

std::string base64url_encode(std::string_view in) {
  auto s = plugin::base64_encode(in);
  for (auto& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::string base64url_decode(std::string_view in) {
  std::string s(in);
  for (auto& c : s) {
    if (c == '+' || c == '/') throw std::invalid_argument("not base64url");
    c = c == '-' ? '+' : c == '_' ? '/' : c;
  }
  return plugin::base64_decode(s);
}

plugin::result<key_info> parse_key(std::string_view body) {
  json::value v;
  const auto* o = object_of(body, v);
  const auto* key = o ? o->if_contains("key") : nullptr;
  const json::object* k = key ? key->if_object() : nullptr;
  if (!k) return plugin::fail(plugin::errc::permanent, "the key answer has no key (JWK)");
  auto kty = str(*k, "kty");
  if ((kty != "EC" && kty != "EC-HSM") || str(*k, "crv") != "P-256")
    return plugin::fail(plugin::errc::bad_config, "the key is " + kty + " " + str(*k, "crv") +
                                                      "; only EC P-256 keys (ES256) are supported");
  std::string x, y;
  try {
    x = base64url_decode(str(*k, "x"));
    y = base64url_decode(str(*k, "y"));
  } catch (const std::invalid_argument&) {
    return plugin::fail(plugin::errc::permanent, "the JWK's x / y are not base64url");
  }
  if (x.size() != 32 || y.size() != 32) return plugin::fail(plugin::errc::permanent, "the JWK's x / y are not 32 bytes");
  key_info out;
  out.spki_der = std::string(p256_spki_prefix, sizeof p256_spki_prefix - 1) + '\x04' + x + y;
  out.version = last_segment(str(*k, "kid"));
  if (out.version.empty()) return plugin::fail(plugin::errc::permanent, "the JWK has no kid");
  return out;
}

std::string sign_request(std::string_view digest) {
  return json::serialize(json::object{{"alg", "ES256"}, {"value", base64url_encode(digest)}});
}

std::string raw_to_der(std::string_view raw) {
  if (raw.size() != 64) return {};
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(), ECDSA_SIG_free);
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return {};
  }
  unsigned char* der = nullptr;
  int n = i2d_ECDSA_SIG(sig.get(), &der);
  if (n <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return out;
}

plugin::result<std::string> parse_signature(std::string_view body, std::string_view version) {
  json::value v;
  const auto* o = object_of(body, v);
  if (!o) return plugin::fail(plugin::errc::permanent, "the sign answer is not a JSON object");
  if (auto kid = str(*o, "kid"); !kid.empty() && last_segment(kid) != version)
    return plugin::fail(plugin::errc::permanent, "the answer names another key version: " + kid);
  std::string raw;
  try {
    raw = base64url_decode(str(*o, "value"));
  } catch (const std::invalid_argument&) {
    return plugin::fail(plugin::errc::permanent, "the signature is not base64url");
  }
  auto der = raw_to_der(raw);
  if (der.empty())
    return plugin::fail(plugin::errc::permanent, "the signature is not a 64-byte ES256 r||s (" + std::to_string(raw.size()) + " bytes)");
  return der;
}

plugin::error classify(unsigned status, std::string_view body, const std::string& what) {
  json::value v;
  const auto* o = object_of(body, v);
  const auto* e = o ? o->if_contains("error") : nullptr;
  const json::object* eo = e ? e->if_object() : nullptr;
  std::string code = eo ? str(*eo, "code") : std::string();
  std::string message = eo ? str(*eo, "message") : std::string();
  std::string msg = what + ": HTTP " + std::to_string(status) + (code.empty() ? "" : " " + code) +
                    (message.empty() ? "" : ": " + message);
  if (status == 401 || status == 403)
    return plugin::fail(plugin::errc::unauthenticated, msg + " (the identity needs the keys get and sign permissions, "
                                                             "or the Key Vault Crypto User role)");
  if (status == 400 || status == 404) return plugin::fail(plugin::errc::bad_config, msg + " (check signers.kms.kmsref)");
  if (status == 429 || status >= 500) return plugin::fail(plugin::errc::retryable, msg);
  return plugin::fail(plugin::errc::permanent, msg);
}

plugin::result<access_token> parse_token(std::string_view body, std::chrono::system_clock::time_point now) {
  json::value v;
  const auto* o = object_of(body, v);
  auto token = o ? str(*o, "access_token") : std::string();
  if (token.empty()) return plugin::fail(plugin::errc::unauthenticated, "the token answer has no access_token");
  std::int64_t expires_in = 3600;
  if (const auto* e = o->if_contains("expires_in")) {
    if (e->is_int64() || e->is_uint64()) {
      expires_in = e->to_number<std::int64_t>();
    } else if (e->is_string()) {
      auto s = e->get_string();
      std::from_chars(s.data(), s.data() + s.size(), expires_in);
    }
  }
  return access_token{token, now + std::chrono::seconds(expires_in)};
}

std::string client_secret_form(std::string_view client_id, std::string_view secret) {
  return "grant_type=client_credentials&client_id=" + aws::url_encode(client_id) + "&client_secret=" +
         aws::url_encode(secret) + "&scope=" + aws::url_encode("https://vault.azure.net/.default");
}

std::string client_assertion_form(std::string_view client_id, std::string_view assertion) {
  return "grant_type=client_credentials&client_id=" + aws::url_encode(client_id) +
         "&client_assertion_type=" + aws::url_encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") +
         "&client_assertion=" + aws::url_encode(assertion) + "&scope=" +
         aws::url_encode("https://vault.azure.net/.default");
}

}  // namespace signer_kms::azure
