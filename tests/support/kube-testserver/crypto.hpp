#pragma once
// The service-account token issuer (ES256 JWTs with a P-256 key made at start-up, published as
// a JWKS) and an optional self-signed serving certificate.

#include "util.hpp"

#include <memory>
#include <string>
#include <vector>

namespace chainsd::testserver {

class token_issuer {
 public:
  explicit token_issuer(std::string issuer);
  ~token_issuer();
  token_issuer(const token_issuer&) = delete;
  token_issuer& operator=(const token_issuer&) = delete;

  const std::string& issuer() const { return issuer_; }
  const std::string& key_id() const { return kid_; }
  // Signs `claims` as a compact JWS (header {"alg":"ES256","kid":...}).
  std::string sign(const json::object& claims) const;
  json::object jwks() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::string issuer_;
  std::string kid_;
};

// A self-signed certificate (EC P-256, SAN 127.0.0.1, ::1, localhost) valid for a year. PEM.
struct pem_pair {
  std::string cert;
  std::string key;
};
pem_pair make_self_signed_cert();

}  // namespace chainsd::testserver
