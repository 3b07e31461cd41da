#pragma once
// The wire formats of keyless signing, without I/O: OIDC identity token claims (read, not
// verified: Fulcio verifies them), Fulcio's legacy v1 and current v2 signingCert requests and
// responses. Tests link this directly.

#include "certs.hpp"

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace signer_x509 {

class token_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct token_claims {
  std::string issuer;
  std::string subject;
  std::string email;
  bool email_verified = false;
  std::string k8s_namespace;        // "kubernetes.io".namespace
  std::string k8s_service_account;  // "kubernetes.io".serviceaccount.name
  std::optional<std::chrono::system_clock::time_point> issued_at;
  std::optional<std::chrono::system_clock::time_point> expires_at;
};

// Decodes the payload of a compact JWS (header.payload.signature). Surrounding whitespace is
// ignored (token files end with a newline). Throws token_error.
token_claims parse_token(std::string_view jwt);

// The string Fulcio's proof of possession signs: the email when the token has one (as sigstore's
// oauthflow.SubjectFromToken), else `sub`. Throws token_error for an unverified email.
std::string proof_subject(const token_claims& c);

// The SAN and issuer Fulcio puts into a certificate for this token (Kubernetes service accounts:
// https://kubernetes.io/namespaces/<ns>/serviceaccounts/<name>; email tokens: the email).
expected_identity identity_for(const token_claims& c);

// v1 (legacy, what upstream Chains uses): POST /api/v1/signingCert, token in Authorization.
// publicKey.content is base64 of the PEM (Go []byte), signedEmailAddress a DER signature.
std::string v1_request_json(std::string_view public_key_pem, std::string_view proof);
// v2: POST /api/v2/signingCert with the token in the body and a PEM CSR (protobuf JSON: bytes as base64).
std::string v2_request_json(std::string_view token, std::string_view csr_pem);

// The certificates of a response, leaf first. v1: a PEM chain body; v2: JSON with
// signedCertificateEmbeddedSct or signedCertificateDetachedSct .chain.certificates. Throws cert_error.
std::vector<std::string> parse_v1_response(std::string_view body);
std::vector<std::string> parse_v2_response(std::string_view body);

// Kubernetes TokenRequest for audience "sigstore": the request body and the token of the answer.
std::string token_request_json(long expiration_seconds);
std::string parse_token_request_response(std::string_view body);

// A short excerpt of a response body for error messages (tokens never appear in responses).
std::string excerpt(std::string_view body);

}  // namespace signer_x509
