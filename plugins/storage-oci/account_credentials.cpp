#include "account_credentials.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/json/parse.hpp>

#include <vector>

namespace storage_oci {
namespace json = boost::json;

boost::asio::awaitable<plugin::result<credential_set>> account_credentials::get(plugin::run_ref run) {
  if (run.namespace_name.empty()) co_return credential_set{};
  if (ttl_.count() <= 0) {
    auto r = co_await read(std::move(run));
    co_return r;
  }
  const std::string key =
      run.namespace_name + "/" + (run.service_account.empty() ? std::string("default") : run.service_account);
  for (;;) {
    if (auto it = cache_.find(key); it != cache_.end()) {
      if (std::chrono::steady_clock::now() < it->second.expires) co_return it->second.creds;
      cache_.erase(it);
    }
    const bool waited = co_await loading_.wait_if_busy(key);
    if (!waited) break;  // woken: the cache is checked again
  }
  loading_.mark(key, host_.executor());
  busy_keys::release guard{&loading_, key};
  auto r = co_await read(std::move(run));
  if (r) {
    const auto now = std::chrono::steady_clock::now();
    if (cache_.size() >= max_cached_accounts) {
      std::erase_if(cache_, [now](const auto& e) { return e.second.expires <= now; });
      if (cache_.size() >= max_cached_accounts) cache_.clear();
    }
    cache_[key] = cached{now + ttl_, *r};
  }
  co_return r;
}

// A missing account or secret, or no permission to read it, means "no credentials from there"
// (logged); an unreachable API server is retryable.
boost::asio::awaitable<plugin::result<credential_set>> account_credentials::read(plugin::run_ref run) {
  credential_set out;
  if (run.namespace_name.empty()) co_return out;
  const std::string sa = run.service_account.empty() ? "default" : run.service_account;
  const std::string ns_path = "/api/v1/namespaces/" + run.namespace_name;
  auto r = co_await host_.kube("GET", ns_path + "/serviceaccounts/" + sa, "", "");
  if (!r) {
    if (r.error().code == plugin::errc::retryable)
      co_return plugin::fail(plugin::errc::retryable, "oci storage: reading service account " + run.namespace_name +
                                                          "/" + sa + ": " + r.error().message);
    co_return out;  // no Kubernetes API in this mode
  }
  if (r->status >= 500)
    co_return plugin::fail(plugin::errc::retryable, "oci storage: reading service account " + run.namespace_name +
                                                        "/" + sa + ": HTTP " + std::to_string(r->status));
  if (r->status != 200) {
    host_.log(plugin::log_level::warn, "service account not readable; pushing without its imagePullSecrets",
              {{"run", run.namespace_name + "/" + run.name}, {"service_account", sa},
               {"status", std::to_string(r->status)},
               {"hint", r->status == 403 ? "bind ClusterRole tekton-chains-controller-registry-credentials in namespace " +
                                               run.namespace_name + " (config/README.md, RBAC)"
                                         : std::string("")}});
    co_return out;
  }
  std::vector<std::string> secrets;
  try {
    auto v = json::parse(r->body);
    if (auto* ips = v.as_object().if_contains("imagePullSecrets"); ips && ips->is_array())
      for (const auto& s : ips->get_array())
        if (auto* n = s.is_object() ? s.get_object().if_contains("name") : nullptr; n && n->is_string())
          secrets.emplace_back(n->get_string());
  } catch (const std::exception&) {
  }
  for (const auto& name : secrets) {
    auto sr = co_await host_.kube("GET", ns_path + "/secrets/" + name, "", "");
    if (!sr) {
      if (sr.error().code == plugin::errc::retryable)
        co_return plugin::fail(plugin::errc::retryable, "oci storage: reading secret " + run.namespace_name + "/" +
                                                            name + ": " + sr.error().message);
      continue;
    }
    if (sr->status >= 500)
      co_return plugin::fail(plugin::errc::retryable, "oci storage: reading secret " + run.namespace_name + "/" +
                                                          name + ": HTTP " + std::to_string(sr->status));
    if (sr->status != 200) {
      host_.log(plugin::log_level::warn, "imagePullSecret not readable; skipped",
                {{"run", run.namespace_name + "/" + run.name}, {"secret", name},
                 {"status", std::to_string(sr->status)}});
      continue;
    }
    try {
      auto v = json::parse(sr->body);
      auto* data = v.as_object().if_contains("data");
      if (!data || !data->is_object()) continue;
      for (const char* key : {".dockerconfigjson", ".dockercfg"})
        if (auto* d = data->get_object().if_contains(key); d && d->is_string())
          out.add_docker_config(plugin::base64_decode(d->get_string()));
    } catch (const std::exception& e) {
      host_.log(plugin::log_level::warn, "imagePullSecret is not a docker config; skipped",
                {{"run", run.namespace_name + "/" + run.name}, {"secret", name}, {"error", e.what()}});
    }
  }
  co_return out;
}

}  // namespace storage_oci
