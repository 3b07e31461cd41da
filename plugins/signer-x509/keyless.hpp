#pragma once
// Keyless signing (signers.x509.fulcio.enabled): an ephemeral ECDSA P-256 key certified by Fulcio
// for the controller's OIDC identity. One key and certificate serve every signature until shortly
// before the certificate expires; the next ones are fetched in the background ahead of that.

#include <chainsd/plugin/host.hpp>
#include <chainsd/plugin/signer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace signer_x509 {

struct keyless_options {
  std::string fulcio_url = "https://fulcio.sigstore.dev";
  std::string issuer;               // signers.x509.fulcio.issuer (only compared, see README)
  std::string provider;             // "" = upstream's order
  std::string token_file = "/var/run/sigstore/cosign/oidc-token";
  bool token_file_configured = false;
  std::string api = "auto";         // "auto" (v2, v1 on 404), "v1", "v2"
  std::string sa_namespace;         // for TokenRequest
  std::string sa_name;
  std::string metadata_host = "metadata.google.internal";
  std::function<std::chrono::system_clock::time_point()> clock = [] { return std::chrono::system_clock::now(); };
};

// Reads the config keys and environment (see README.md). bad_config names the key to fix.
chainsd::plugin::result<keyless_options> keyless_options_from(chainsd::plugin::host& h,
                                                               const chainsd::plugin::config_map& cfg);

// Does no I/O: the first token and certificate are fetched by the first sign().
std::unique_ptr<chainsd::plugin::signer> make_keyless_signer(chainsd::plugin::host& h, keyless_options opt);

}  // namespace signer_x509
