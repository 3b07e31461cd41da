#pragma once
// The Vault transit signer (hashivault://KEY). The first sign() reads the key's latest version
// (one GET, however many runs wait for it; a failed read is tried again by the next sign()), every
// signature is made with that version and verified against its public key before it is returned.
// The token comes from vault_token.hpp (JWT login, a token file re-read on change, or a fixed one).

#include "vault_token.hpp"

#include <chainsd/plugin/host.hpp>
#include <chainsd/plugin/signer.hpp>

#include <memory>
#include <string>

namespace signer_kms {

struct vault_options {
  std::string address;  // http(s)://host:port, no trailing slash
  std::string mount;    // transit engine path, default "transit"
  std::string key;
  std::string vault_namespace;  // X-Vault-Namespace (VAULT_NAMESPACE), empty = none
  std::shared_ptr<vault_token> token;
};

std::unique_ptr<chainsd::plugin::signer> make_vault_signer(chainsd::plugin::host& h, vault_options opt);

}  // namespace signer_kms
