#include "credentials.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace google_auth {
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
               "\" are not supported by chainsd's Google backends (supported: service_account key files, or workload "
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

plugin::result<std::string> read_bounded_file(const std::string& path, std::string_view key) {
  namespace fs = std::filesystem;
  const std::string where = std::string(key) + "=" + path;
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return plugin::fail(plugin::errc::not_found, where + ": the file does not exist");
  if (!fs::is_regular_file(st)) return bad(where + ": not a regular file");
  if (auto size = fs::file_size(path, ec); ec || size > 64 * 1024) return bad(where + ": larger than 64 KiB");
  std::ifstream in(path, std::ios::binary);
  if (!in) return bad(where + ": the file cannot be read");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

plugin::result<credentials> load_credentials(const env_lookup& env, const file_reader& read) {
  credentials c;
  c.metadata_host = trim(env("GCE_METADATA_HOST"));
  if (c.metadata_host.empty()) c.metadata_host = "metadata.google.internal";
  auto file = trim(env(credentials_env.data()));
  if (file.empty()) return c;
  auto text = read(file, credentials_env);
  if (!text) return bad(text.error().message.find(file) == std::string::npos
                            ? std::string(credentials_env) + "=" + file + ": " + text.error().message
                            : text.error().message);
  auto sa = parse_service_account(*text, file);
  if (!sa) return sa.error();
  auto key = rsa_key::load(sa->private_key_pem, std::string(credentials_env) + "=" + file);
  if (!key) return key.error();
  c.service_account_file = true;
  c.sa = std::move(*sa);
  c.key = std::move(*key);
  return c;
}

std::string error_text(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    const auto& o = v.get_object();
    if (auto* e = o.if_contains("error"); e && e->is_object())
      if (auto* m = e->get_object().if_contains("message"); m && m->is_string()) return std::string(m->get_string());
    if (auto* d = o.if_contains("error_description"); d && d->is_string())
      return string_field(o, "error") + ": " + std::string(d->get_string());
  }
  std::string s = body.substr(0, 200);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace google_auth
