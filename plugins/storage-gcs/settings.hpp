#pragma once
// chains-config and the process environment → what the gcs backend needs: the bucket, the JSON
// API endpoint and where its access tokens come from. Pure (no I/O but reading the credentials
// file once), so every mistake comes back as bad_config naming the key or variable to fix.

#include <chainsd/plugin/host.hpp>

#include <functional>
#include <string>

namespace storage_gcs {

inline constexpr std::string_view bucket_key = "storage.gcs.bucket";
inline constexpr std::string_view credentials_env = "GOOGLE_APPLICATION_CREDENTIALS";

// A service-account key file ("type": "service_account"), as `gcloud iam service-accounts keys
// create` writes it.
struct service_account {
  std::string file;            // where it was read from (for messages)
  std::string client_email;
  std::string private_key_pem;  // PKCS#8 RSA key
  std::string private_key_id;
  std::string token_uri;        // default https://oauth2.googleapis.com/token
};

struct settings {
  std::string bucket;
  std::string endpoint;        // "https://storage.googleapis.com" or STORAGE_EMULATOR_HOST's
  bool service_account_file = false;
  service_account sa;          // when service_account_file
  std::string metadata_host;   // GCE_METADATA_HOST or metadata.google.internal (workload identity)
};

using env_lookup = std::function<std::string(const char*)>;

// The process environment (empty when unset).
std::string process_env(const char* name);

// Reads storage.gcs.bucket; GOOGLE_APPLICATION_CREDENTIALS (a service-account key file, read now)
// or else the metadata server (GCE_METADATA_HOST as Google's libraries honour it);
// STORAGE_EMULATOR_HOST ("host:port" or a URL) for another endpoint.
chainsd::plugin::result<settings> parse_settings(const chainsd::plugin::config_map& cfg, const env_lookup& env);

// Parses a service-account key file's JSON (`file` only names it in messages).
chainsd::plugin::result<service_account> parse_service_account(const std::string& json, const std::string& file);

}  // namespace storage_gcs
