#pragma once
// OAuth 2.0 pieces of Google's token exchanges, pure (no I/O): the JWT bearer assertion a
// service account signs (RFC 7523, RS256 with the key file's RSA key) and the token responses
// of the token endpoint and of the metadata server.

#include <chainsd/plugin/errors.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace google_auth {

class rsa_key {
 public:
  // PEM (PKCS#8 or PKCS#1) RSA private key; bad_config naming `where` otherwise.
  static chainsd::plugin::result<rsa_key> load(const std::string& pem, const std::string& where);
  // RSASSA-PKCS1-v1_5 with SHA-256.
  std::string sign_rs256(const std::string& data) const;

 private:
  struct impl;
  std::shared_ptr<impl> p_;
};

std::string base64url(std::string_view bytes);

// header.claims.signature for grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer.
std::string jwt_assertion(const rsa_key& key, const std::string& key_id, const std::string& email,
                          const std::string& audience, std::string_view scope, std::int64_t now_unix);

// The form body POSTed to the token URI.
std::string jwt_grant_body(const std::string& assertion);

struct access_token {
  std::string token;
  std::chrono::seconds expires_in{0};
};

// {"access_token": ..., "expires_in": N, "token_type": "Bearer"}; permanent error otherwise.
chainsd::plugin::result<access_token> parse_token_response(const std::string& body);

// application/x-www-form-urlencoded / URL query component encoding (RFC 3986 unreserved kept).
std::string url_encode(std::string_view s);

}  // namespace google_auth
