#include "registry.hpp"

#include <chainsd/plugin/ascii.hpp>
#include <chainsd/plugin/encoding.hpp>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cctype>
#include <vector>

namespace storage_oci {
namespace json = boost::json;

namespace {

std::string header(const plugin::http_response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (plugin::iequals(k, name)) return v;
  return {};
}

std::string url_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += {'%', hex[c >> 4], hex[c & 15]};
    }
  }
  return out;
}

std::string with_query(std::string url, std::string_view query) {
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += query;
  return url;
}

// The registry's {"errors":[{"code","message"}]} when present, else the start of the body.
std::string describe_body(std::string_view body) {
  try {
    auto v = json::parse(body);
    std::string out;
    if (v.is_object() && v.get_object().contains("errors") && v.get_object().at("errors").is_array()) {
      for (const auto& e : v.get_object().at("errors").get_array()) {
        if (!e.is_object()) continue;
        auto code = e.get_object().if_contains("code");
        auto msg = e.get_object().if_contains("message");
        if (!out.empty()) out += "; ";
        if (code && code->is_string()) out += std::string(code->get_string());
        if (msg && msg->is_string()) out += ": " + std::string(msg->get_string());
      }
      if (!out.empty()) return out;
    }
  } catch (const std::exception&) {
  }
  std::string s(body.substr(0, 200));
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

}  // namespace

std::map<std::string, std::string> parse_challenge(std::string_view h) {
  std::map<std::string, std::string> out;
  auto sp = h.find(' ');
  std::string scheme = plugin::to_lower_ascii(h.substr(0, sp));
  out[""] = scheme;
  if (sp == std::string_view::npos) return out;
  std::string_view rest = h.substr(sp + 1);
  while (!rest.empty()) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == ',')) rest.remove_prefix(1);
    auto eq = rest.find('=');
    if (eq == std::string_view::npos) break;
    std::string key = plugin::to_lower_ascii(rest.substr(0, eq));
    rest.remove_prefix(eq + 1);
    std::string value;
    if (!rest.empty() && rest.front() == '"') {
      rest.remove_prefix(1);
      while (!rest.empty() && rest.front() != '"') {
        if (rest.front() == '\\' && rest.size() > 1) rest.remove_prefix(1);
        value += rest.front();
        rest.remove_prefix(1);
      }
      if (!rest.empty()) rest.remove_prefix(1);
    } else {
      auto comma = rest.find(',');
      value = std::string(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma);
    }
    out[key] = value;
  }
  return out;
}

registry_session::registry_session(plugin::host& h, std::string registry, std::string repository,
                                   std::string mount_from, std::optional<basic_credentials> creds,
                                   session_options opts, registry_cache& cache)
    : host_(h),
      registry_(std::move(registry)),
      repository_(std::move(repository)),
      mount_from_(std::move(mount_from)),
      creds_(std::move(creds)),
      opts_(opts),
      cache_(cache) {}

plugin::error registry_session::status_error(std::string_view what, const plugin::http_response& r) const {
  plugin::errc code = plugin::errc::permanent;
  if (r.status == 401 || r.status == 403) code = plugin::errc::unauthenticated;
  if (r.status == 429 || r.status >= 500) code = plugin::errc::retryable;
  std::string msg = std::string(what) + " at " + where() + ": HTTP " + std::to_string(r.status);
  if (auto d = describe_body(r.body); !d.empty()) msg += ": " + d;
  if (code == plugin::errc::unauthenticated)
    msg += creds_ ? " (with the credentials found for " + registry_ + ")" : " (no credentials found for " + registry_ + ")";
  return plugin::fail(code, std::move(msg));
}

std::string registry_session::absolute(std::string_view location) const {
  if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0) return std::string(location);
  return scheme_ + "://" + registry_ + (location.empty() || location.front() != '/' ? "/" : "") + std::string(location);
}

boost::asio::awaitable<plugin::result<plugin::http_response>> registry_session::send_once(
    const std::string& method, const std::string& url, const plugin::header_list& headers, std::string body) {
  plugin::http_request req;
  req.method = method;
  req.url = url;
  req.headers = headers;
  if (!authorization_.empty()) req.headers.emplace_back("Authorization", authorization_);
  req.body = std::move(body);
  req.timeout = opts_.timeout;
  // Starting an upload again only opens another session; a chunk (PATCH) must not be repeated.
  req.replayable = method != "PATCH";
  // The host's transport errors already read "METHOD url: reason".
  auto r = co_await host_.http(std::move(req));
  if (!r) co_return plugin::fail(plugin::errc::retryable, r.error().message);
  co_return r;
}

boost::asio::awaitable<plugin::result<plugin::http_response>> registry_session::send(std::string method,
                                                                                       std::string url,
                                                                                       plugin::header_list headers,
                                                                                       std::string body) {
  if (!from_cache_) {
    auto r = co_await send_once(method, url, headers, std::move(body));
    co_return r;
  }
  // Authenticated from what an earlier session learnt: a 401 means that changed (the registry now
  // asks for credentials, a token was revoked): discover again and retry this request once.
  std::string kept = body;
  auto r = co_await send_once(method, url, headers, std::move(body));
  if (!r || r->status != 401) co_return r;
  if (!token_key_.empty()) cache_.tokens.erase(token_key_);
  cache_.hosts.erase(registry_);
  auto d = co_await discover();  // clears from_cache_: one retry
  if (!d) co_return d.error();
  auto again = co_await send_once(method, url, headers, std::move(kept));
  co_return again;
}

boost::asio::awaitable<plugin::result<void>> registry_session::authenticate() {
  if (auto it = cache_.hosts.find(registry_); it != cache_.hosts.end()) {
    scheme_ = it->second.scheme;
    from_cache_ = true;
    auto r = co_await use_challenge(it->second.challenge);
    co_return r;
  }
  auto r = co_await discover();
  co_return r;
}

boost::asio::awaitable<plugin::result<void>> registry_session::discover() {
  // go-containerregistry's order for insecure and loopback registries: HTTPS, then HTTP; after a
  // 401 the scheme that answered before goes first.
  std::vector<std::string> candidates{"https"};
  if (opts_.allow_http) candidates.push_back("http");
  if (from_cache_ && scheme_ == "http" && opts_.allow_http) candidates = {"http", "https"};
  from_cache_ = false;
  plugin::result<plugin::http_response> ping = plugin::fail(plugin::errc::retryable, "no scheme tried");
  for (const auto& s : candidates) {
    scheme_ = s;
    authorization_.clear();
    token_key_.clear();
    ping = co_await send_once("GET", scheme_ + "://" + registry_ + "/v2/", {}, "");
    if (ping) break;
  }
  if (!ping) co_return plugin::fail(plugin::errc::retryable, "registry " + registry_ + " unreachable: " + ping.error().message);
  if (ping->status != 200 && ping->status != 401) co_return status_error("GET /v2/", *ping);
  std::string challenge = ping->status == 401 ? header(*ping, "WWW-Authenticate") : std::string();
  if (ping->status == 401 && challenge.empty()) co_return status_error("GET /v2/", *ping);
  // Remember only a registry's answer: a TLS port answering plain HTTP with 400 must not stick.
  cache_.hosts[registry_] = registry_cache::host_state{scheme_, challenge};
  auto r = co_await use_challenge(std::move(challenge));
  co_return r;
}

boost::asio::awaitable<plugin::result<void>> registry_session::use_challenge(std::string challenge_header) {
  authorization_.clear();
  token_key_.clear();
  if (challenge_header.empty()) co_return plugin::result<void>{};  // anonymous
  auto challenge = parse_challenge(challenge_header);
  if (challenge[""] == "basic") {
    if (!creds_)
      co_return plugin::fail(plugin::errc::unauthenticated,
                             "registry " + registry_ + " asks for Basic credentials and none were found for it "
                             "(service account imagePullSecrets or storage.oci.docker-config)");
    authorization_ = "Basic " + plugin::base64_encode(creds_->username + ":" + creds_->password);
    co_return plugin::result<void>{};
  }
  if (challenge[""] == "bearer") {
    auto r = co_await fetch_token(challenge_header);
    co_return r;
  }
  co_return plugin::fail(plugin::errc::permanent,
                         "registry " + registry_ + " asks for unsupported authentication \"" + challenge_header + "\"");
}

boost::asio::awaitable<plugin::result<void>> registry_session::fetch_token(std::string challenge_header) {
  auto challenge = parse_challenge(challenge_header);
  const std::string realm = challenge["realm"];
  if (realm.empty())
    co_return plugin::fail(plugin::errc::permanent, "registry " + registry_ + ": Bearer challenge without realm");
  std::string query;
  if (!challenge["service"].empty()) query = "service=" + url_encode(challenge["service"]) + "&";
  query += "scope=" + url_encode("repository:" + repository_ + (opts_.pull_only ? ":pull" : ":pull,push"));
  if (!mount_from_.empty()) query += "&scope=" + url_encode("repository:" + mount_from_ + ":pull");
  const std::string basic =
      creds_ ? "Basic " + plugin::base64_encode(creds_->username + ":" + creds_->password) : std::string();
  // A token is reused for the same realm, scopes and credentials until shortly before it expires.
  const std::string key = with_query(realm, query) + "\n" + basic;
  const auto now = std::chrono::steady_clock::now();
  if (auto it = cache_.tokens.find(key); it != cache_.tokens.end()) {
    if (now < it->second.expires) {
      authorization_ = "Bearer " + it->second.value;
      token_key_ = key;
      co_return plugin::result<void>{};
    }
    cache_.tokens.erase(it);
  }
  plugin::http_request req;
  req.url = with_query(realm, query);
  req.timeout = opts_.timeout;
  if (!basic.empty()) req.headers.emplace_back("Authorization", basic);
  auto r = co_await host_.http(std::move(req));
  if (!r) co_return plugin::fail(plugin::errc::retryable, "token server " + realm + " for " + registry_ + ": " + r.error().message);
  if (r->status != 200) {
    auto e = status_error("token request to " + realm, *r);
    co_return e;
  }
  std::string token;
  long long expires_in = 60;  // the Docker token spec's default lifetime
  try {
    auto v = json::parse(r->body);
    for (const char* k : {"token", "access_token"})
      if (auto* t = v.as_object().if_contains(k); t && t->is_string() && token.empty()) token = std::string(t->get_string());
    if (auto* e = v.as_object().if_contains("expires_in"); e && e->is_number()) expires_in = e->to_number<long long>();
  } catch (const std::exception&) {
  }
  if (token.empty())
    co_return plugin::fail(plugin::errc::retryable, "token server " + realm + " for " + registry_ + " returned no token");
  authorization_ = "Bearer " + token;
  // Kept until 10 s before it expires (half its lifetime when that is under 20 s).
  const long long usable = expires_in > 20 ? expires_in - 10 : expires_in / 2;
  if (usable > 0) {
    if (cache_.tokens.size() >= registry_cache::max_tokens) {
      std::erase_if(cache_.tokens, [now](const auto& e) { return e.second.expires <= now; });
      if (cache_.tokens.size() >= registry_cache::max_tokens) cache_.tokens.clear();
    }
    cache_.tokens[key] = registry_cache::token{token, now + std::chrono::seconds(usable)};
    token_key_ = key;
  }
  co_return plugin::result<void>{};
}

boost::asio::awaitable<plugin::result<std::optional<registry_session::manifest_doc>>> registry_session::get_manifest(
    std::string reference, std::string accept) {
  plugin::header_list h{{"Accept", std::move(accept)}};
  auto r = co_await send("GET", base() + "/manifests/" + reference, std::move(h), "");
  if (!r) co_return r.error();
  if (r->status == 404) co_return std::optional<manifest_doc>();
  if (r->status != 200) co_return status_error("GET manifest " + reference, *r);
  manifest_doc doc{std::move(r->body), header(*r, "Content-Type")};
  try {
    auto v = json::parse(doc.body);
    if (auto* mt = v.is_object() ? v.get_object().if_contains("mediaType") : nullptr; mt && mt->is_string())
      doc.media_type = std::string(mt->get_string());
  } catch (const std::exception&) {
  }
  co_return std::optional<manifest_doc>(std::move(doc));
}

boost::asio::awaitable<plugin::result<std::optional<std::string>>> registry_session::referrers(std::string digest) {
  plugin::header_list h{{"Accept", "application/vnd.oci.image.index.v1+json"}};
  auto r = co_await send("GET", base() + "/referrers/" + digest, std::move(h), "");
  if (!r) co_return r.error();
  // No API (404, or 400/405 from registries that route it elsewhere): use the tag fallback.
  if (r->status == 404 || r->status == 400 || r->status == 405) co_return std::optional<std::string>();
  if (r->status != 200) co_return status_error("GET referrers of " + digest, *r);
  co_return std::optional<std::string>(std::move(r->body));
}

boost::asio::awaitable<plugin::result<void>> registry_session::ensure_blob(std::string digest, std::string content) {
  const std::string key = where() + "@" + digest;
  if (cache_.known_blobs.count(key)) {
    skipped_known_ = true;
    co_return plugin::result<void>{};
  }
  const bool small = content.size() <= blind_upload_max && (opts_.chunk_size == 0 || content.size() <= opts_.chunk_size);
  if (!small || !mount_from_.empty()) {
    auto head = co_await send("HEAD", base() + "/blobs/" + digest, {}, "");
    if (!head) co_return head.error();
    if (head->status == 200) {
      cache_.remember_blob(key);
      co_return plugin::result<void>{};
    }
    if (head->status != 404) co_return status_error("HEAD blob " + digest, *head);
  }
  auto r = co_await upload(std::move(digest), std::move(content));
  if (r) cache_.remember_blob(key);
  co_return r;
}

boost::asio::awaitable<plugin::result<void>> registry_session::upload(std::string digest, std::string content) {
  std::string start_url = base() + "/blobs/uploads/";
  if (!mount_from_.empty()) start_url += "?mount=" + url_encode(digest) + "&from=" + url_encode(mount_from_);
  auto start = co_await send("POST", start_url, {}, "");
  if (!start) co_return start.error();
  if (start->status == 201) co_return plugin::result<void>{};  // mounted from the image's repository
  if (start->status != 202) co_return status_error("POST blob upload", *start);
  std::string location = header(*start, "Location");
  if (location.empty()) co_return plugin::fail(plugin::errc::permanent, "POST blob upload at " + where() + ": no Location");
  location = absolute(location);
  ++uploads_;
  if (opts_.chunk_size > 0 && content.size() > opts_.chunk_size) {
    for (std::size_t off = 0; off < content.size(); off += opts_.chunk_size) {
      std::size_t n = std::min(opts_.chunk_size, content.size() - off);
      plugin::header_list h{{"Content-Type", "application/octet-stream"},
                            {"Content-Range", std::to_string(off) + "-" + std::to_string(off + n - 1)}};
      auto chunk = co_await send("PATCH", location, std::move(h), content.substr(off, n));
      if (!chunk) co_return chunk.error();
      if (chunk->status != 202) co_return status_error("PATCH blob " + digest, *chunk);
      if (auto next = header(*chunk, "Location"); !next.empty()) location = absolute(next);
    }
    content.clear();
  }
  plugin::header_list h{{"Content-Type", "application/octet-stream"}};
  auto put = co_await send("PUT", with_query(location, "digest=" + url_encode(digest)), std::move(h), std::move(content));
  if (!put) co_return put.error();
  if (put->status != 201) co_return status_error("PUT blob " + digest, *put);
  co_return plugin::result<void>{};
}

boost::asio::awaitable<plugin::result<std::string>> registry_session::put_manifest(std::string reference,
                                                                                   std::string media_type,
                                                                                   std::string body) {
  plugin::header_list h{{"Content-Type", std::move(media_type)}};
  auto r = co_await send("PUT", base() + "/manifests/" + reference, std::move(h), std::move(body));
  if (!r) co_return r.error();
  if (r->status != 201 && r->status != 200) co_return status_error("PUT manifest " + reference, *r);
  co_return header(*r, "OCI-Subject");
}

}  // namespace storage_oci
