#include "config/transparency.hpp"

namespace chainsd::config {
namespace {

bool http_url(const std::string& u) { return u.rfind("https://", 0) == 0 || u.rfind("http://", 0) == 0; }

// An http(s) URL with a host: scheme, then an authority whose host is not empty and whose port,
// when given, is digits; no whitespace anywhere (what a URL parser would choke on at first use).
bool http_url_with_host(const std::string& u) {
  if (!http_url(u) || u.find_first_of(" \t\r\n") != std::string::npos) return false;
  auto start = u.find("://") + 3;
  auto authority = u.substr(start, u.find_first_of("/?#", start) - start);
  if (auto at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
  std::string port;
  if (!authority.empty() && authority[0] == '[') {  // [IPv6]:port
    auto close = authority.find(']');
    if (close == std::string::npos || close == 1) return false;
    port = authority.substr(close + 1);
    if (!port.empty() && port[0] != ':') return false;
    if (!port.empty()) port.erase(0, 1);
  } else {
    auto colon = authority.find(':');
    if (colon == 0 || authority.empty()) return false;
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  return port.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

void validate_transparency(const data_map& data, config& cfg, parse_result& result) {
  auto& t = cfg.transparency;
  auto set = [&data](const char* key) { return data.count(key) > 0; };
  auto error = [&result](std::string msg) { result.errors.push_back(std::move(msg)); };

  if (set("transparency.url") && !http_url_with_host(t.url))
    error("transparency.url: invalid value \"" + t.url + "\", wanted an http(s) URL with a host");
  else if (t.enabled && t.url.rfind("http://", 0) == 0 && t.public_key.empty() && t.trusted_root.empty() &&
           t.signing_config.empty())
    // Trust on first use over plain HTTP: whoever answers first on the path chooses the key.
    result.warnings.push_back("transparency.url is plain http and transparency.publickey is not set: the log's key "
                              "is fetched from " + t.url + " and trusted as received; set transparency.publickey "
                              "(the log's PEM key) or use an https URL");

  if (!t.timestamp_url.empty() && !http_url(t.timestamp_url))
    error("transparency.timestamp.url: invalid value \"" + t.timestamp_url + "\", wanted an http(s) URL");

  if (!t.signing_config.empty()) {
    // The signing config chooses the log, its API version and the timestamp authority: the keys
    // that would choose them too must not silently lose (or win).
    for (const char* key : {"transparency.url", "transparency.version", "transparency.timestamp.url"})
      if (set(key))
        error(std::string(key) + " and transparency.signing-config both choose the service; remove one of them");
    if (t.trusted_root.empty())
      error("transparency.signing-config needs transparency.trusted-root: the signing config names services, the "
            "trusted root holds the keys and certificates their answers are verified with");
    return;
  }

  if (!t.timestamp_url.empty() && t.timestamp_certchain.empty() && t.trusted_root.empty())
    error("transparency.timestamp.url is set but neither transparency.timestamp.certchain nor "
          "transparency.trusted-root gives the certificate chain its timestamps are verified with");
  if (t.timestamp_url.empty() && !t.timestamp_certchain.empty())
    result.warnings.push_back("transparency.timestamp.certchain is set but transparency.timestamp.url is not; "
                              "no timestamps are requested");

  if (t.enabled && t.version == "v2") {
    if (!set("transparency.url"))
      error("transparency.version is v2 but transparency.url is not set: its default, https://rekor.sigstore.dev, "
            "is a Rekor v1 log (name a Rekor v2 log, e.g. https://log2025-1.rekor.sigstore.dev)");
    if (t.timestamp_url.empty())
      error("transparency.version is v2 but transparency.timestamp.url is not set: Rekor v2 gives no signed entry "
            "timestamp, so every entry needs an RFC 3161 timestamp");
    if (t.public_key.empty() && t.trusted_root.empty())
      error("transparency.version is v2 but neither transparency.publickey nor transparency.trusted-root gives the "
            "log's public key (a Rekor v2 log does not serve it)");
  }
}

}  // namespace chainsd::config
