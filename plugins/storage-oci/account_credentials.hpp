#pragma once
// Registry credentials from a run's service account, as upstream's k8schain: the
// `.dockerconfigjson` / `.dockercfg` imagePullSecrets it names, read with host::kube().
// Cached per (namespace, account) for a TTL: a burst of runs costs one lookup (concurrent stores
// wait for the one in progress), and a changed account or secret is read again once the entry
// expires. Failures are not cached.
//
// Ownership: borrows the host (outlives it). One event loop. Errors: retryable when the API
// server is unreachable or answers 5xx; a missing or unreadable account/secret is logged and
// yields no credentials from there.

#include "busy_keys.hpp"
#include "credentials.hpp"

#include <chainsd/plugin/host.hpp>
#include <chainsd/plugin/storage.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <map>
#include <string>

namespace storage_oci {

namespace plugin = chainsd::plugin;

class account_credentials {
 public:
  // `ttl` <= 0: read on every call.
  account_credentials(plugin::host& h, std::chrono::milliseconds ttl) : host_(h), ttl_(ttl) {}

  // The credentials of `run`'s service account (`default` when empty); none without a namespace.
  boost::asio::awaitable<plugin::result<credential_set>> get(plugin::run_ref run);

 private:
  boost::asio::awaitable<plugin::result<credential_set>> read(plugin::run_ref run);

  struct cached {
    std::chrono::steady_clock::time_point expires;
    credential_set creds;
  };
  plugin::host& host_;
  std::chrono::milliseconds ttl_;
  std::map<std::string, cached> cache_;  // by "<namespace>/<account>", until `expires`
  busy_keys loading_;                    // lookups in progress
  static constexpr std::size_t max_cached_accounts = 1024;
};

}  // namespace storage_oci
