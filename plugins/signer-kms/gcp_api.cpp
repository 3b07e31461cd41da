#include "gcp_api.hpp"

#include "json_fields.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <charconv>
#include <memory>

namespace signer_kms::gcp {

namespace json = boost::json;

namespace {

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

}  // namespace signer_kms::gcp
