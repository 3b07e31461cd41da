#pragma once
// The Azure Key Vault signer (azurekms://VAULT-HOST/KEY[/VERSION], vault URL https://VAULT-HOST as
// sigstore). The first sign() reads the key (the kmsref's version, else the latest) and pins that
// version; every signature is an ES256 sign over the SHA-256 digest, converted from r||s to DER and
// verified against the key before it is returned. Entra ID tokens, in DefaultAzureCredential's
// order: AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET (client credentials), then
// AZURE_FEDERATED_TOKEN_FILE (workload identity, the file re-read at each fetch), then the
// managed-identity endpoint (IMDS, or AZURE_POD_IDENTITY_AUTHORITY_HOST); reused until a minute
// before they expire, one fetch in flight, dropped on a 401.

#include <chainsd/plugin/host.hpp>
#include <chainsd/plugin/signer.hpp>

#include <memory>
#include <string>

namespace signer_kms {

struct azure_options {
  std::string vault_url;  // https://VAULT-HOST, no trailing slash
  std::string key;
  std::string version;    // "" = the latest, read once
  std::string authority;  // AZURE_AUTHORITY_HOST, default https://login.microsoftonline.com
  std::string tenant, client_id, client_secret, federated_token_file;
  std::string imds;       // managed identity base URL, default http://169.254.169.254
};

std::unique_ptr<chainsd::plugin::signer> make_azure_signer(chainsd::plugin::host& h, azure_options opt);

}  // namespace signer_kms
