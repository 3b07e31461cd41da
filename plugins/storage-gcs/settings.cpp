#include "settings.hpp"

namespace storage_gcs {
namespace plugin = chainsd::plugin;

namespace {

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

plugin::error bad(std::string msg) { return plugin::fail(plugin::errc::bad_config, std::move(msg)); }

// Bucket names as GCS accepts them: 3-63 characters (222 with dots) of [a-z0-9._-], starting
// and ending with a letter or digit.
bool valid_bucket(const std::string& b) {
  if (b.size() < 3 || b.size() > 222) return false;
  for (char c : b)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return alnum(b.front()) && alnum(b.back());
}

}  // namespace

plugin::result<settings> parse_settings(const plugin::config_map& cfg, const google_auth::env_lookup& env) {
  settings s;
  if (auto it = cfg.find(bucket_key); it != cfg.end()) s.bucket = trim(it->second);
  if (s.bucket.empty())
    return bad(std::string(bucket_key) + " is not set: the gcs storage backend needs the bucket to write to");
  if (s.bucket.starts_with("gs://")) s.bucket = s.bucket.substr(5);
  while (!s.bucket.empty() && s.bucket.back() == '/') s.bucket.pop_back();
  if (!valid_bucket(s.bucket))
    return bad(std::string(bucket_key) + ": \"" + s.bucket +
               "\" is not a bucket name (3-63 characters of a-z, 0-9, '.', '_', '-'; no path)");

  s.endpoint = "https://storage.googleapis.com";
  if (auto e = trim(env("STORAGE_EMULATOR_HOST")); !e.empty()) {
    s.endpoint = e.find("://") == std::string::npos ? "http://" + e : e;
    while (s.endpoint.back() == '/') s.endpoint.pop_back();
  }
  auto c = google_auth::load_credentials(env);
  if (!c) return c.error();
  s.creds = std::move(*c);
  return s;
}

}  // namespace storage_gcs
