#include "envelope.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <openssl/evp.h>

namespace storage_archivista {
namespace plugin = chainsd::plugin;
namespace json = boost::json;

std::string go_json_string(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      default: break;
    }
    if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(s[i + 2]) == 0xA8 || static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
      out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";  // as Go does
      i += 2;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

namespace {

std::string str(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// A []byte field: Go decodes base64 and encodes it again (standard, padded).
plugin::result<std::string> bytes_field(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  if (!v || v->is_null()) return std::string();
  if (!v->is_string()) return plugin::fail(plugin::errc::permanent, "\"" + std::string(k) + "\" is not a base64 string");
  try {
    return plugin::base64_encode(plugin::base64_decode(v->get_string()));
  } catch (const std::exception&) {
    return plugin::fail(plugin::errc::permanent, "\"" + std::string(k) + "\" is not base64");
  }
}

}  // namespace

plugin::result<std::string> upload_body(std::string_view signature) {
  const auto not_dsse = [] {
    return plugin::fail(plugin::errc::permanent, "the signature is not a DSSE envelope (archivista stores in-toto "
                                                 "attestations only; simplesigning artifacts cannot go there)");
  };
  boost::system::error_code ec;
  auto v = json::parse(signature, ec);
  if (ec || !v.is_object()) return not_dsse();
  const auto& env = v.get_object();
  auto* sigs = env.if_contains("signatures");
  if (!env.contains("payload") || !env.contains("payloadType") || (sigs && !sigs->is_array() && !sigs->is_null()))
    return not_dsse();
  auto payload = bytes_field(env, "payload");
  if (!payload) return payload.error();
  std::string out = "{\"payload\":" + go_json_string(*payload) + ",\"payloadType\":" + go_json_string(str(env, "payloadType")) +
                    ",\"signatures\":";
  if (!sigs || sigs->is_null()) {
    out += "null";
  } else {
    out += "[";
    bool first = true;
    for (const auto& s : sigs->get_array()) {
      if (!s.is_object()) return not_dsse();
      const auto& so = s.get_object();
      auto sig = bytes_field(so, "sig");
      auto cert = bytes_field(so, "certificate");
      if (!sig) return sig.error();
      if (!cert) return cert.error();
      out += std::string(first ? "" : ",") + "{\"keyid\":" + go_json_string(str(so, "keyid")) + ",\"sig\":" + go_json_string(*sig);
      if (!cert->empty()) out += ",\"certificate\":" + go_json_string(*cert);
      if (auto* im = so.if_contains("intermediates"); im && im->is_array() && !im->get_array().empty()) {
        out += ",\"intermediates\":[";
        for (std::size_t i = 0; i < im->get_array().size(); ++i) {
          const auto& e = im->get_array()[i];
          if (!e.is_string()) return not_dsse();
          std::string b;
          try {
            b = plugin::base64_encode(plugin::base64_decode(e.get_string()));
          } catch (const std::exception&) {
            return not_dsse();
          }
          out += (i ? "," : "") + go_json_string(b);
        }
        out += "]";
      }
      out += "}";
      first = false;
    }
    out += "]";
  }
  return out + "}\n";
}

std::string gitoid_sha256(std::string_view bytes) {
  const std::string header = "blob " + std::to_string(bytes.size()) + std::string(1, '\0');
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, header.data(), header.size()) == 1 &&
            EVP_DigestUpdate(ctx, bytes.data(), bytes.size()) == 1 && EVP_DigestFinal_ex(ctx, md, &len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return {};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

}  // namespace storage_archivista
