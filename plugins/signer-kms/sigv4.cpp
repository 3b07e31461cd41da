#include "sigv4.hpp"

#include <chainsd/plugin/ascii.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <utility>
#include <vector>

namespace signer_kms {

namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  return out;
}

std::string hmac(std::string_view key, std::string_view msg) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), out, &n);
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string lower(std::string_view s) { return chainsd::plugin::to_lower_ascii(s); }

// Trimmed, inner runs of spaces collapsed to one (AWS's canonical header value).
std::string canonical_value(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string canonical_query(std::string_view query) {
  std::vector<std::string> params;
  std::size_t start = 0;
  while (start <= query.size() && !query.empty()) {
    auto amp = query.find('&', start);
    auto part = query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    if (!part.empty()) params.emplace_back(part.find('=') == std::string_view::npos ? std::string(part) + "=" : part);
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& p : params) out += (out.empty() ? "" : "&") + p;
  return out;
}

}  // namespace

std::string hex_sha256(std::string_view data) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d);
  return hex(d, sizeof d);
}

std::string amz_date(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[20];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string sigv4_canonical_request(const header_list& headers, std::string_view method,
                                    std::string_view host, std::string_view path, std::string_view query,
                                    std::string_view body, std::string* signed_headers) {
  std::vector<std::pair<std::string, std::string>> hs;
  hs.emplace_back("host", std::string(host));
  for (const auto& [name, value] : headers) {
    auto n = lower(name);
    if (n == "host") continue;
    auto it = std::find_if(hs.begin(), hs.end(), [&n](const auto& p) { return p.first == n; });
    if (it != hs.end())
      it->second += "," + canonical_value(value);  // repeated headers: values joined with commas
    else
      hs.emplace_back(n, canonical_value(value));
  }
  std::sort(hs.begin(), hs.end());
  std::string canon_headers, names;
  for (const auto& [n, v] : hs) {
    canon_headers += n + ":" + v + "\n";
    names += (names.empty() ? "" : ";") + n;
  }
  if (signed_headers) *signed_headers = names;
  std::string out;
  out.append(method).append("\n");
  out.append(path.empty() ? std::string_view("/") : path).append("\n");
  out.append(canonical_query(query)).append("\n");
  out.append(canon_headers).append("\n");
  out.append(names).append("\n");
  out.append(hex_sha256(body));
  return out;
}

std::string sigv4_signature(std::string_view secret, std::string_view date_time, const sigv4_scope& scope,
                            std::string_view canonical_request) {
  const std::string date(date_time.substr(0, 8));
  const std::string credential_scope = date + "/" + scope.region + "/" + scope.service + "/aws4_request";
  const std::string to_sign =
      "AWS4-HMAC-SHA256\n" + std::string(date_time) + "\n" + credential_scope + "\n" + hex_sha256(canonical_request);
  std::string k = hmac("AWS4" + std::string(secret), date);
  k = hmac(k, scope.region);
  k = hmac(k, scope.service);
  k = hmac(k, "aws4_request");
  auto sig = hmac(k, to_sign);
  return hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
}

void sigv4_sign(header_list& headers, std::string_view method, std::string_view host,
                std::string_view path, std::string_view query, std::string_view body, const aws_credentials& creds,
                const sigv4_scope& scope, std::chrono::system_clock::time_point now) {
  const auto when = amz_date(now);
  headers.emplace_back("X-Amz-Date", when);
  if (!creds.session_token.empty()) headers.emplace_back("X-Amz-Security-Token", creds.session_token);
  std::string names;
  auto canonical = sigv4_canonical_request(headers, method, host, path, query, body, &names);
  auto signature = sigv4_signature(creds.secret_key, when, scope, canonical);
  headers.emplace_back("Authorization", "AWS4-HMAC-SHA256 Credential=" + creds.access_key + "/" + when.substr(0, 8) +
                                            "/" + scope.region + "/" + scope.service +
                                            "/aws4_request, SignedHeaders=" + names + ", Signature=" + signature);
}

}  // namespace signer_kms
