#pragma once
// The Google Cloud KMS signer (gcpkms://projects/…/cryptoKeys/K[/cryptoKeyVersions/N]). The first
// sign() resolves the version (the kmsref's, else the highest ENABLED one, as sigstore) and reads
// its public key; every signature is an asymmetricSign over the SHA-256 digest with the CRC32C
// integrity fields checked both ways, and verified against the public key before it is returned.
// Access tokens: plugins/google-auth's token_source (as storage-gcs): a service-account key file
// (GOOGLE_APPLICATION_CREDENTIALS, JWT bearer grant, scope cloudkms) or the metadata server
// (workload identity; GCE_METADATA_HOST overrides its host), refreshed ahead of expiry, one
// exchange in flight. A token the API refuses (401) is dropped: the retry gets a new one.

#include "credentials.hpp"
#include "gcp_api.hpp"

#include <chainsd/plugin/host.hpp>
#include <chainsd/plugin/signer.hpp>

#include <memory>
#include <optional>
#include <string>

namespace signer_kms {

struct gcp_options {
  std::string endpoint;  // https://cloudkms.googleapis.com, or CHAINSD_GCPKMS_ENDPOINT
  std::string key;       // projects/P/locations/L/keyRings/R/cryptoKeys/K
  std::string version;   // "" = the highest enabled
  google_auth::credentials credentials;  // key file, else the metadata server
};

std::unique_ptr<chainsd::plugin::signer> make_gcp_signer(chainsd::plugin::host& h, gcp_options opt);

}  // namespace signer_kms
