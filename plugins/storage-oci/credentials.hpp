#pragma once
// Registry credentials from docker config JSON: `~/.docker/config.json` style
// ({"auths": {"<registry>": {"auth": base64(user:pass)} | {"username","password"}}}) as found in
// `.dockerconfigjson` Secrets and mounted files, and the legacy `.dockercfg` form (the map without
// "auths"). Pure parsing, no I/O.

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace storage_oci {

struct basic_credentials {
  std::string username;
  std::string password;
};

class credential_set {
 public:
  // Adds the entries of one docker config document; entries already present win (the first
  // source added has priority, as k8schain's keychain order). Throws std::invalid_argument.
  void add_docker_config(std::string_view json_text);
  // The entry for a registry host[:port]; Docker Hub's aliases match each other.
  std::optional<basic_credentials> find(std::string_view registry) const;
  bool empty() const { return entries_.empty(); }
  void merge(const credential_set& lower_priority);

 private:
  std::map<std::string, basic_credentials, std::less<>> entries_;  // by normalised host
};

// "https://index.docker.io/v1/" → "index.docker.io"; "Registry:5000/path" → "registry:5000".
std::string normalise_registry_key(std::string_view key);

}  // namespace storage_oci
