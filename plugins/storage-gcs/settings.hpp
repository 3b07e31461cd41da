#pragma once
// chains-config and the process environment → what the gcs backend needs: the bucket, the JSON
// API endpoint and its credentials (google-auth). Every mistake comes back as bad_config naming
// the key or variable to fix.

#include <chainsd/plugin/host.hpp>

#include "credentials.hpp"

#include <string>

namespace storage_gcs {

inline constexpr std::string_view bucket_key = "storage.gcs.bucket";
// Upstream's client (cloud.google.com/go/storage NewClient) asks for full control.
inline constexpr std::string_view storage_scope = "https://www.googleapis.com/auth/devstorage.full_control";

struct settings {
  std::string bucket;
  std::string endpoint;  // "https://storage.googleapis.com" or STORAGE_EMULATOR_HOST's
  google_auth::credentials creds;
};

// Reads storage.gcs.bucket, the credentials (GOOGLE_APPLICATION_CREDENTIALS, read now, or the
// metadata server) and STORAGE_EMULATOR_HOST ("host:port" or a URL) for another endpoint.
chainsd::plugin::result<settings> parse_settings(const chainsd::plugin::config_map& cfg,
                                                 const google_auth::env_lookup& env);

}  // namespace storage_gcs
