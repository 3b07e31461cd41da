#include "gcp_api.hpp"

#include "aws_api.hpp"  // url_encode

#include <chainsd/plugin/encoding.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <array>
#include <charconv>
#include <memory>

namespace signer_kms::gcp {

namespace json = boost::json;

namespace {

const json::object* object_of(std::string_view body, json::value& holder) {
  boost::system::error_code ec;
  holder = json::parse(body, ec);
  return ec ? nullptr : holder.if_object();
}

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// int64 fields are strings in proto3 JSON; numbers are tolerated.
bool crc_field(const json::object& o, std::string_view key, std::uint32_t& out) {
  const auto* v = o.if_contains(key);
  if (!v) return false;
  if (v->is_int64() || v->is_uint64()) {
    out = static_cast<std::uint32_t>(v->to_number<std::uint64_t>());
    return true;
  }
  if (!v->is_string()) return false;
  std::uint64_t n = 0;
  auto s = v->get_string();
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  out = static_cast<std::uint32_t>(n);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string base64url(std::string_view in) {
  auto s = plugin::base64_encode(in);
  for (auto& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

}  // namespace

std::uint32_t crc32c(std::string_view data) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char b : data) crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

plugin::result<std::string> latest_version(std::string_view body, std::string_view key) {
  json::value v;
  const auto* o = object_of(body, v);
  if (!o) return plugin::fail(plugin::errc::permanent, "the version list is not a JSON object");
  const auto* list = o->if_contains("cryptoKeyVersions");
  std::string best;
  unsigned long best_n = 0;
  const std::string prefix = std::string(key) + "/cryptoKeyVersions/";
  if (list && list->is_array())
    for (const auto& kv : list->get_array()) {
      const auto* ko = kv.if_object();
      if (!ko || str(*ko, "state") != "ENABLED") continue;
      auto name = str(*ko, "name");
      if (name.rfind(prefix, 0) != 0) continue;
      unsigned long n = 0;
      auto tail = name.substr(prefix.size());
      auto [p, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), n);
      if (ec == std::errc() && p == tail.data() + tail.size() && n > best_n) {
        best_n = n;
        best = name;
      }
    }
  if (best.empty()) return plugin::fail(plugin::errc::bad_config, "the key has no ENABLED version");
  return best;
}

plugin::result<public_key_info> parse_public_key(std::string_view body) {
  json::value v;
  const auto* o = object_of(body, v);
  if (!o) return plugin::fail(plugin::errc::permanent, "the publicKey answer is not a JSON object");
  public_key_info out{str(*o, "pem"), str(*o, "algorithm")};
  std::uint32_t crc = 0;
  if (out.pem.empty()) return plugin::fail(plugin::errc::permanent, "the publicKey answer has no pem");
  if (crc_field(*o, "pemCrc32c", crc) && crc != crc32c(out.pem))
    return plugin::fail(plugin::errc::retryable, "the public key's pemCrc32c does not match: corrupted in transit");
  return out;
}

bool supported_algorithm(std::string_view alg) {
  return alg == "EC_SIGN_P256_SHA256" || alg == "RSA_SIGN_PKCS1_2048_SHA256" || alg == "RSA_SIGN_PKCS1_3072_SHA256" ||
         alg == "RSA_SIGN_PKCS1_4096_SHA256";
}

std::string sign_request(std::string_view digest) {
  return json::serialize(json::object{{"digest", {{"sha256", plugin::base64_encode(digest)}}},
                                      {"digestCrc32c", std::to_string(crc32c(digest))}});
}

plugin::result<std::string> parse_signature(std::string_view body, std::string_view version_name) {
  json::value v;
  const auto* o = object_of(body, v);
  if (!o) return plugin::fail(plugin::errc::permanent, "the asymmetricSign answer is not a JSON object");
  const auto* verified = o->if_contains("verifiedDigestCrc32c");
  if (!verified || !verified->is_bool() || !verified->get_bool())
    return plugin::fail(plugin::errc::retryable, "the digest was corrupted in transit (verifiedDigestCrc32c is not true)");
  if (auto name = str(*o, "name"); !name.empty() && name != version_name)
    return plugin::fail(plugin::errc::permanent, "the answer names another key version: " + name);
  std::string sig;
  try {
    sig = plugin::base64_decode(str(*o, "signature"));
  } catch (const std::invalid_argument&) {
    return plugin::fail(plugin::errc::permanent, "the signature is not base64");
  }
  if (sig.empty()) return plugin::fail(plugin::errc::permanent, "the asymmetricSign answer has no signature");
  std::uint32_t crc = 0;
  if (!crc_field(*o, "signatureCrc32c", crc) || crc != crc32c(sig))
    return plugin::fail(plugin::errc::retryable, "the signature's signatureCrc32c does not match: corrupted in transit");
  return sig;
}

plugin::error classify(unsigned status, std::string_view body, const std::string& what) {
  json::value v;
  const auto* o = object_of(body, v);
  const auto* e = o ? o->if_contains("error") : nullptr;
  const json::object* eo = e ? e->if_object() : nullptr;
  std::string state = eo ? str(*eo, "status") : std::string();
  std::string message = eo ? str(*eo, "message") : std::string();
  std::string msg = what + ": HTTP " + std::to_string(status) + (state.empty() ? "" : " " + state) +
                    (message.empty() ? "" : ": " + message);
  if (status == 401 || status == 403)
    return plugin::fail(plugin::errc::unauthenticated,
                        msg + " (the service account needs roles/cloudkms.signerVerifier and roles/cloudkms.viewer)");
  if (status == 400 || status == 404 || status == 412) return plugin::fail(plugin::errc::bad_config, msg + " (check signers.kms.kmsref)");
  if (status == 429 || status >= 500) return plugin::fail(plugin::errc::retryable, msg);
  return plugin::fail(plugin::errc::permanent, msg);
}

plugin::result<access_token> parse_token(std::string_view body, std::chrono::system_clock::time_point now) {
  json::value v;
  const auto* o = object_of(body, v);
  auto token = o ? str(*o, "access_token") : std::string();
  if (token.empty()) return plugin::fail(plugin::errc::unauthenticated, "the token answer has no access_token");
  std::int64_t expires_in = 3600;
  if (const auto* e = o->if_contains("expires_in"); e && (e->is_int64() || e->is_uint64()))
    expires_in = e->to_number<std::int64_t>();
  return access_token{token, now + std::chrono::seconds(expires_in)};
}

plugin::result<service_account> parse_service_account(std::string_view text) {
  json::value v;
  const auto* o = object_of(text, v);
  if (!o || str(*o, "type") != "service_account")
    return plugin::fail(plugin::errc::bad_config, "not a service-account key file (\"type\": \"service_account\")");
  service_account sa{str(*o, "client_email"), str(*o, "private_key"), str(*o, "token_uri")};
  if (sa.token_uri.empty()) sa.token_uri = "https://oauth2.googleapis.com/token";
  if (sa.client_email.empty() || sa.private_key_pem.empty())
    return plugin::fail(plugin::errc::bad_config, "the service-account key file lacks client_email or private_key");
  return sa;
}

plugin::result<std::string> jwt_grant(const service_account& sa, std::chrono::system_clock::time_point now) {
  const auto iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::string header = base64url(R"({"alg":"RS256","typ":"JWT"})");
  const std::string claims = base64url(json::serialize(json::object{
      {"iss", sa.client_email}, {"scope", "https://www.googleapis.com/auth/cloudkms"}, {"aud", sa.token_uri},
      {"iat", iat}, {"exp", iat + 3600}}));
  const std::string input = header + "." + claims;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(sa.private_key_pem.data(), static_cast<int>(sa.private_key_pem.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr),
                                                          EVP_PKEY_free);
  if (!key) return plugin::fail(plugin::errc::bad_config, "the service account's private_key is not a PEM key");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t n = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &n, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    return plugin::fail(plugin::errc::bad_config, "cannot sign with the service account's private_key");
  std::string sig(n, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &n,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    return plugin::fail(plugin::errc::bad_config, "cannot sign with the service account's private_key");
  sig.resize(n);
  return "grant_type=" + aws::url_encode("urn:ietf:params:oauth:grant-type:jwt-bearer") + "&assertion=" + input + "." +
         base64url(sig);
}

}  // namespace signer_kms::gcp
