#include "reconciler/plugin_set.hpp"

#include "runtime/log.hpp"
#include "tlog/setup.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fstream>
#include <sstream>

namespace chainsd::reconciler {
namespace {

struct use {
  std::string key;
  const config::artifact_config* art;
};

std::vector<use> uses(const config::config& cfg) {
  return {{"artifacts.taskrun", &cfg.taskrun}, {"artifacts.pipelinerun", &cfg.pipelinerun}, {"artifacts.oci", &cfg.oci}};
}

plugin::config_map to_plugin_config(const config::config& cfg) {
  plugin::config_map m;
  for (const auto& [k, v] : cfg.source) m.emplace(k, v);
  return m;
}

}  // namespace

std::string storage_plugin_name(const std::string& value, const config::config& cfg) {
  if (value == "pubsub" || value == "kafka")
    return cfg.storage.pubsub_provider.empty() || cfg.storage.pubsub_provider == "kafka" ? "kafka"
                                                                                          : cfg.storage.pubsub_provider;
  return value;
}

std::string check_installed(const config::config& cfg, const plugin_host::registry& reg) {
  std::string errors;
  auto add = [&errors](std::string e) { errors += (errors.empty() ? "" : "; ") + e; };
  for (const auto& u : uses(cfg)) {
    if (!u.art->enabled()) continue;
    if (!reg.find("signer", u.art->signer))
      add(u.key + ".signer: \"" + u.art->signer + "\" names no installed signer plugin (installed: " +
          plugin_host::join_names(reg.names("signer")) + ")");
    for (const auto& s : u.art->storage) {
      if (s.empty()) continue;
      auto name = storage_plugin_name(s, cfg);
      if (!reg.find("storage", name))
        add(u.key + ".storage: \"" + s + "\" names no installed storage plugin" +
            (name != s ? " (\"" + name + "\")" : std::string()) +
            " (installed: " + plugin_host::join_names(reg.names("storage")) + ")");
    }
  }
  return errors;
}

void pick_index_reader(plugin_set& set) {
  set.index_reader = nullptr;
  set.index_error.clear();
  const auto& oci = set.cfg->oci;
  if (!oci.sign_platform_manifests || !oci.enabled()) return;
  std::string names;
  for (const auto& value : oci.storage) {
    if (value.empty()) continue;
    names += (names.empty() ? "" : ", ") + value;
    auto it = set.storages.find(storage_plugin_name(value, *set.cfg));
    if (it != set.storages.end() && it->second->reads_image_indexes()) {
      set.index_reader = it->second.get();
      return;
    }
  }
  // A storage whose factory failed may be the one that reads indexes: say so.
  std::string failed;
  for (const auto& [name, err] : set.storage_errors) failed += "; storage " + name + " is unavailable: " + err.message;
  set.index_error = "artifacts.oci.sign-platform-manifests is true but no storage in artifacts.oci.storage (" + names +
                    ") can read image indexes (oci can)" + failed;
}

std::shared_ptr<plugin_set> build_plugin_set(std::shared_ptr<const config::config> cfg,
                                             const plugin_host::registry& reg, plugin::host& host,
                                             net::http_client* outbound) {
  auto set = std::make_shared<plugin_set>();
  set->cfg = cfg;
  if (outbound) {
    // Rekor v1/v2 and timestamps as the transparency.* keys (or a signing config) ask; null when
    // they ask for neither. Reads the key files they name, once per config snapshot.
    try {
      set->tlog = tlog::make_logger(*cfg, *outbound);
    } catch (const std::exception& e) {
      log::error("transparency log cannot be used; runs that should upload will fail", {{"error", e.what()}});
      set->tlog_error = e.what();
    }
  }
  auto pcfg = to_plugin_config(*cfg);
  for (const auto& u : uses(*cfg)) {
    if (!u.art->enabled()) continue;
    const auto& sname = u.art->signer;
    if (!set->signers.count(sname) && !set->signer_errors.count(sname)) {
      auto s = reg.make_signer(sname, host, pcfg);
      if (s) {
        set->signers.emplace(sname, std::move(*s));
      } else {
        log::error("signer cannot be used; runs that need it will fail",
                   {{"signer", sname}, {"key", u.key + ".signer"}, {"error", s.error().message}});
        set->signer_errors.emplace(sname, s.error());
      }
    }
    for (const auto& value : u.art->storage) {
      if (value.empty()) continue;
      auto name = storage_plugin_name(value, *cfg);
      if (set->storages.count(name) || set->storage_errors.count(name)) continue;
      auto st = reg.make_storage(name, host, pcfg);
      if (st) {
        set->storages.emplace(name, std::move(*st));
      } else {
        log::error("storage cannot be used; runs that need it will fail",
                   {{"storage", name}, {"key", u.key + ".storage"}, {"error", st.error().message}});
        set->storage_errors.emplace(name, st.error());
      }
    }
  }
  pick_index_reader(*set);
  if (!set->index_error.empty())
    log::error("platform manifests cannot be signed; runs that sign images will fail",
               {{"key", "artifacts.oci.sign-platform-manifests"}, {"error", set->index_error}});
  return set;
}

boost::asio::awaitable<void> retire(std::shared_ptr<plugin_set> old, std::chrono::milliseconds max_wait) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  auto deadline = std::chrono::steady_clock::now() + max_wait;
  while (old.use_count() > 1 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(100));
    co_await timer.async_wait(boost::asio::use_awaitable);
  }
  for (auto& [name, storage] : old->storages) {
    co_await storage->close();
    log::info("replaced storage closed", {{"storage", name}, {"config_version", std::to_string(old->cfg->version)}});
  }
}

}  // namespace chainsd::reconciler
