#pragma once
// signers.kms.kmsref, parsed per provider with the grammar sigstore's KMS clients accept (upstream
// hands the string to sigstore's kms.Get): hashivault://KEY, awskms://[ENDPOINT]/ID|ALIAS|ARN,
// gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K[/cryptoKeyVersions/N], azurekms://VAULT/KEY[/VERSION],
// and ours: pkcs11:… (RFC 7512, see pkcs11_uri.hpp).
// Pure: no I/O, so `chainsd config check` (which builds the plugin) reports a bad reference.

#include <optional>
#include <string>
#include <string_view>

namespace signer_kms {

enum class provider { hashivault, awskms, gcpkms, azurekms, pkcs11 };

const char* to_string(provider p) noexcept;

struct kms_ref {
  provider kind = provider::hashivault;
  std::string key;       // hashivault: key name; awskms: key id, alias or ARN; gcpkms: resource name; azurekms: key; pkcs11: the whole URI
  std::string endpoint;  // awskms: ENDPOINT (may be empty); azurekms: vault host
  std::string region;    // awskms: from the ARN, else empty (the environment decides)
  std::string version;   // gcpkms / azurekms: key version, empty = upstream's default
};

// The reference, or an error message naming signers.kms.kmsref and the expected form.
struct parse_outcome {
  std::optional<kms_ref> ref;
  std::string error;
};
parse_outcome parse_kms_ref(std::string_view text);

}  // namespace signer_kms
