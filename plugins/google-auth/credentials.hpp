#pragma once
// Google Application Default Credentials as the Google storage backends (gcs, grafeas) use them:
// a service-account key file named by GOOGLE_APPLICATION_CREDENTIALS (read once, when a plugin
// instance is built), else the metadata server (workload identity; GCE_METADATA_HOST as Google's
// libraries honour it). Pure apart from reading that file.

#include "oauth.hpp"

#include <chainsd/plugin/errors.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace google_auth {

inline constexpr std::string_view credentials_env = "GOOGLE_APPLICATION_CREDENTIALS";

// A service-account key file ("type": "service_account"), as `gcloud iam service-accounts keys
// create` writes it.
struct service_account {
  std::string file;             // where it was read from (for messages)
  std::string client_email;
  std::string private_key_pem;  // PKCS#8 RSA key
  std::string private_key_id;
  std::string token_uri;        // default https://oauth2.googleapis.com/token
};

struct credentials {
  bool service_account_file = false;
  service_account sa;           // when service_account_file
  std::optional<rsa_key> key;   // its key, loaded
  std::string metadata_host;    // GCE_METADATA_HOST or metadata.google.internal
};

using env_lookup = std::function<std::string(const char*)>;
// Reads the file at `path` that `key` names (messages name both): a regular file of at most
// 64 KiB; not_found when absent, bad_config otherwise. read_bounded_file does that itself; a host
// with read_file() (plugin-api on main) can stand in: [&h](auto p, auto k) { return h.read_file(p, 65536, k); }.
using file_reader = std::function<chainsd::plugin::result<std::string>(const std::string& path, std::string_view key)>;
chainsd::plugin::result<std::string> read_bounded_file(const std::string& path, std::string_view key);

// The process environment (empty when unset).
std::string process_env(const char* name);

// bad_config naming GOOGLE_APPLICATION_CREDENTIALS=<path> when the file cannot be used.
chainsd::plugin::result<credentials> load_credentials(const env_lookup& env, const file_reader& read = read_bounded_file);

// Parses a service-account key file's JSON (`file` only names it in messages).
chainsd::plugin::result<service_account> parse_service_account(const std::string& json, const std::string& file);

// Google's JSON error message ({"error": {"message": ...}}, or an OAuth "error_description"), or
// the body's first 200 bytes on one line.
std::string error_text(const std::string& body);

}  // namespace google_auth
