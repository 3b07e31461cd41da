#pragma once
// chains-config keys of the oci backend (storage.oci.*) → settings, validated once per config
// snapshot: every mistake comes back as bad_config naming the key. Reads the mounted docker
// config (a small file, through the host) when one is named or $DOCKER_CONFIG points at one.

#include "credentials.hpp"
#include "layout.hpp"

#include <chainsd/plugin/host.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace storage_oci {

namespace plugin = chainsd::plugin;

struct settings {
  std::optional<image_ref> repository;  // storage.oci.repository: cosign tags go there (dsse only)
  bool insecure = false;                // storage.oci.repository.insecure: plain HTTP after HTTPS fails
  bool bundles = false;                 // storage.oci.encoding-format: sigstore-bundle
  credential_set file_creds;            // storage.oci.docker-config, else $DOCKER_CONFIG/config.json
  std::size_t chunk_size = 4u << 20;    // storage.oci.upload-chunk-size
  // storage.oci.credentials-cache-ms: how long service-account credentials are reused (0 = read
  // on every store).
  std::chrono::milliseconds credentials_ttl{30'000};

  // Plain HTTP may be tried (after HTTPS fails) for this registry: insecure, or a loopback host
  // (localhost, 127.*, [::1]) as go-containerregistry allows.
  bool allow_http(std::string_view registry) const;
};

plugin::result<settings> parse_settings(plugin::host& h, const plugin::config_map& cfg);

}  // namespace storage_oci
