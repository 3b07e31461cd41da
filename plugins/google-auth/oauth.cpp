#include "oauth.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <stdexcept>

namespace google_auth {
namespace plugin = chainsd::plugin;
namespace json = boost::json;

struct rsa_key::impl {
  EVP_PKEY* key = nullptr;
  ~impl() { EVP_PKEY_free(key); }
};

namespace {
std::string openssl_error() {
  char buf[256] = {0};
  ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
  ERR_clear_error();
  return buf;
}
}  // namespace

plugin::result<rsa_key> rsa_key::load(const std::string& pem, const std::string& where) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (!bio) return plugin::fail(plugin::errc::permanent, "out of memory");
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!k) return plugin::fail(plugin::errc::bad_config, where + ": \"private_key\" is not a PEM private key (" + openssl_error() + ")");
  rsa_key r;
  r.p_ = std::make_shared<impl>();
  r.p_->key = k;
  if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA)
    return plugin::fail(plugin::errc::bad_config, where + ": \"private_key\" is not an RSA key (RS256 needs one)");
  return r;
}

std::string rsa_key::sign_rs256(const std::string& data) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::string sig;
  std::size_t len = 0;
  bool ok = ctx && EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, p_->key) == 1 &&
            EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  if (ok) {
    sig.resize(len);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                        reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) throw std::runtime_error("RS256 signing failed: " + openssl_error());
  return sig;
}

std::string base64url(std::string_view bytes) {
  auto s = plugin::base64_encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return s;
}

std::string jwt_assertion(const rsa_key& key, const std::string& key_id, const std::string& email,
                          const std::string& audience, std::string_view scope, std::int64_t now_unix) {
  json::object header{{"alg", "RS256"}, {"typ", "JWT"}};
  if (!key_id.empty()) header["kid"] = key_id;
  json::object claims{{"iss", email}, {"scope", scope}, {"aud", audience}, {"iat", now_unix}, {"exp", now_unix + 3600}};
  std::string signing_input = base64url(json::serialize(header)) + "." + base64url(json::serialize(claims));
  return signing_input + "." + base64url(key.sign_rs256(signing_input));
}

std::string url_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string jwt_grant_body(const std::string& assertion) {
  return "grant_type=" + url_encode("urn:ietf:params:oauth:grant-type:jwt-bearer") + "&assertion=" + url_encode(assertion);
}

plugin::result<access_token> parse_token_response(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return plugin::fail(plugin::errc::permanent, "the token response is not a JSON object");
  const auto& o = v.get_object();
  access_token t;
  if (auto* a = o.if_contains("access_token"); a && a->is_string()) t.token = std::string(a->get_string());
  if (t.token.empty()) return plugin::fail(plugin::errc::permanent, "the token response has no access_token");
  if (auto* e = o.if_contains("expires_in")) {
    if (e->is_int64()) t.expires_in = std::chrono::seconds(e->get_int64());
    else if (e->is_uint64()) t.expires_in = std::chrono::seconds(static_cast<std::int64_t>(e->get_uint64()));
    else if (e->is_double()) t.expires_in = std::chrono::seconds(static_cast<std::int64_t>(e->get_double()));
  }
  if (t.expires_in.count() <= 0) t.expires_in = std::chrono::seconds(3600);  // Google's lifetime
  return t;
}

}  // namespace google_auth
