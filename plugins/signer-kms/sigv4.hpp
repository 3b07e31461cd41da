#pragma once
// AWS Signature Version 4 (AWS4-HMAC-SHA256), as AWS documents it: canonical request (method,
// URI, sorted query, lower-case sorted headers with trimmed values, signed header list, SHA-256
// of the payload), string to sign over the credential scope DATE/REGION/SERVICE/aws4_request, and
// the HMAC chain from "AWS4" + secret. Pure (OpenSSL only).

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace signer_kms {

// The same type as header_list (host.hpp), without pulling Asio into pure code.
using header_list = std::vector<std::pair<std::string, std::string>>;

struct aws_credentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // temporary credentials (STS) only
  std::chrono::system_clock::time_point expires = std::chrono::system_clock::time_point::max();
};

struct sigv4_scope {
  std::string region;
  std::string service;  // "kms", "sts"
};

// Adds X-Amz-Date, X-Amz-Security-Token (with a session token) and Authorization to `headers`,
// signing `host` (the URL's authority as sent) and every header already in `headers`.
// `query` is the raw query string (parameters already URI-encoded), `path` the URI path.
void sigv4_sign(header_list& headers, std::string_view method, std::string_view host,
                std::string_view path, std::string_view query, std::string_view body, const aws_credentials& creds,
                const sigv4_scope& scope, std::chrono::system_clock::time_point now);

// The parts, for tests against AWS's published examples.
std::string sigv4_canonical_request(const header_list& headers, std::string_view method,
                                    std::string_view host, std::string_view path, std::string_view query,
                                    std::string_view body, std::string* signed_headers);
std::string sigv4_signature(std::string_view secret, std::string_view amz_date, const sigv4_scope& scope,
                            std::string_view canonical_request);

std::string hex_sha256(std::string_view data);
std::string amz_date(std::chrono::system_clock::time_point t);  // 20150830T123600Z

}  // namespace signer_kms
