#include "vault_api.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <charconv>

namespace signer_kms::vault {

namespace json = boost::json;

namespace {

const json::object* data_of(const json::value& v) {
  const auto* o = v.if_object();
  if (!o) return nullptr;
  const auto* d = o->if_contains("data");
  return d ? d->if_object() : nullptr;
}

std::uint64_t as_version(const json::value& v) {
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64() && v.get_int64() > 0) return static_cast<std::uint64_t>(v.get_int64());
  if (const auto* s = v.if_string()) {  // Vault writes numbers; tolerate "2" too
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), n);
    if (ec == std::errc() && p == s->data() + s->size()) return n;
  }
  return 0;
}

}  // namespace

plugin::result<key_version> parse_key(std::string_view body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  const json::object* d = ec ? nullptr : data_of(v);
  if (!d) return plugin::fail(plugin::errc::permanent, "the key read answer has no data object");
  const auto* keys = d->if_contains("keys");
  const auto* latest = d->if_contains("latest_version");
  if (!keys || !keys->is_object() || !latest)
    return plugin::fail(plugin::errc::permanent, "the key read answer has no keys / latest_version (is it a transit key?)");
  key_version out;
  out.version = as_version(*latest);
  const auto* entry = keys->get_object().if_contains(std::to_string(out.version));
  const json::object* eo = entry ? entry->if_object() : nullptr;
  const json::value* pub = eo ? eo->if_contains("public_key") : nullptr;
  if (out.version == 0 || !pub || !pub->is_string() || pub->get_string().empty())
    return plugin::fail(plugin::errc::bad_config,
                        "the key has no public key for its latest version " + std::to_string(out.version) +
                            " (a transit key that signs: ecdsa-p256, ecdsa-p384, rsa-*)");
  out.public_pem = std::string(pub->get_string());
  return out;
}

std::string sign_request(std::string_view digest, std::uint64_t version) {
  json::object o;
  o["input"] = plugin::base64_encode(digest);
  o["prehashed"] = true;
  o["key_version"] = version;
  o["signature_algorithm"] = "pkcs1v15";  // sigstore's choice; Vault ignores it for ECDSA keys
  return json::serialize(o);
}

plugin::result<std::string> parse_signature(std::string_view body, std::uint64_t version) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  const json::object* d = ec ? nullptr : data_of(v);
  const json::value* sig = d ? d->if_contains("signature") : nullptr;
  if (!sig || !sig->is_string()) return plugin::fail(plugin::errc::permanent, "the sign answer has no data.signature");
  std::string_view s = sig->get_string();
  const std::string prefix = "vault:v" + std::to_string(version) + ":";
  if (s.substr(0, prefix.size()) != prefix)
    return plugin::fail(plugin::errc::permanent, "the signature \"" + std::string(s.substr(0, 16)) +
                                                     "…\" does not start with " + prefix);
  try {
    auto der = plugin::base64_decode(s.substr(prefix.size()));
    if (der.empty()) throw std::invalid_argument("empty");
    return der;
  } catch (const std::invalid_argument&) {
    return plugin::fail(plugin::errc::permanent, "the signature after " + prefix + " is not base64");
  }
}

std::string reasons(std::string_view body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  std::string out;
  if (ec || !v.is_object()) return out;
  const auto* errs = v.get_object().if_contains("errors");
  if (!errs || !errs->is_array()) return out;
  for (const auto& e : errs->get_array()) {
    if (!e.is_string()) continue;
    if (!out.empty()) out += "; ";
    out += std::string(e.get_string());
  }
  return out;
}

plugin::error classify(unsigned status, std::string_view body, const std::string& what) {
  auto why = reasons(body);
  std::string msg = what + ": HTTP " + std::to_string(status) + (why.empty() ? "" : ": " + why);
  if (status == 403)
    return plugin::fail(plugin::errc::unauthenticated,
                        msg + " (the token in signers.kms.auth.token-path / signers.kms.auth.token lacks access or is revoked)");
  if (status == 400 || status == 404)
    return plugin::fail(plugin::errc::bad_config, msg + " (check signers.kms.kmsref and the transit mount)");
  if (status == 429 || status >= 500) return plugin::fail(plugin::errc::retryable, msg);
  return plugin::fail(plugin::errc::permanent, msg);
}

}  // namespace signer_kms::vault
