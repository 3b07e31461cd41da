#include "settings.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace storage_gcs {
namespace plugin = chainsd::plugin;
namespace json = boost::json;

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

std::string string_field(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

std::string process_env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

plugin::result<service_account> parse_service_account(const std::string& text, const std::string& file) {
  const std::string where = std::string(credentials_env) + "=" + file;
  json::value v;
  boost::system::error_code ec;
  v = json::parse(text, ec);
  if (ec || !v.is_object()) return bad(where + ": not a JSON object (a service-account key file was expected)");
  const auto& o = v.get_object();
  auto type = string_field(o, "type");
  if (type != "service_account")
    return bad(where + ": credentials of type \"" + type +
               "\" are not supported by chainsd's gcs backend (supported: service_account key files, or workload "
               "identity through the metadata server when " + std::string(credentials_env) + " is unset)");
  service_account sa;
  sa.file = file;
  sa.client_email = string_field(o, "client_email");
  sa.private_key_pem = string_field(o, "private_key");
  sa.private_key_id = string_field(o, "private_key_id");
  sa.token_uri = string_field(o, "token_uri");
  if (sa.token_uri.empty()) sa.token_uri = "https://oauth2.googleapis.com/token";
  if (sa.client_email.empty()) return bad(where + ": \"client_email\" is missing");
  if (sa.private_key_pem.empty()) return bad(where + ": \"private_key\" is missing");
  if (!sa.token_uri.starts_with("https://") && !sa.token_uri.starts_with("http://"))
    return bad(where + ": \"token_uri\" is not an http(s) URL: " + sa.token_uri);
  return sa;
}

plugin::result<settings> parse_settings(const plugin::config_map& cfg, const env_lookup& env) {
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
  s.metadata_host = trim(env("GCE_METADATA_HOST"));
  if (s.metadata_host.empty()) s.metadata_host = "metadata.google.internal";

  if (auto file = trim(env(credentials_env.data())); !file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return bad(std::string(credentials_env) + "=" + file + ": the file cannot be read");
    std::ostringstream ss;
    ss << in.rdbuf();
    auto sa = parse_service_account(ss.str(), file);
    if (!sa) return sa.error();
    s.service_account_file = true;
    s.sa = std::move(*sa);
  }
  return s;
}

}  // namespace storage_gcs
