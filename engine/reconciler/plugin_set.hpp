#pragma once
// The plugin instances one chains-config snapshot asks for. A config change builds a new set;
// runs in flight keep the set they started with (shared_ptr) until they finish.

#include "config/config.hpp"
#include "plugin_host/registry.hpp"
#include "tlog/logger.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace chainsd::reconciler {

struct plugin_set {
  std::shared_ptr<const config::config> cfg;
  // Instances by chains-config name. A signer or storage whose factory failed is absent and its
  // error kept (with its class, which decides what happens to those runs), so runs that need it
  // fail with that reason (as upstream logs and continues). Instances are guarded (plugin_host).
  std::map<std::string, std::unique_ptr<plugin::signer>> signers;
  std::map<std::string, std::unique_ptr<plugin::storage>> storages;
  std::map<std::string, plugin::error> signer_errors;
  std::map<std::string, plugin::error> storage_errors;
  // The transparency log and/or timestamp authority the config asks for (engine/tlog/logger.hpp:
  // Rekor v1 or v2, RFC 3161); null when it asks for neither, or when it could not be set up
  // (tlog_error says why, naming the key, and runs that should upload fail with it).
  std::shared_ptr<tlog::transparency_log> tlog;
  std::string tlog_error;
  // artifacts.oci.sign-platform-manifests: the storage of artifacts.oci.storage that reads image
  // indexes (borrowed from `storages`). Null when the key is off, or when no such storage is
  // there: then index_error says why, naming the key, and runs that sign images fail with it.
  plugin::storage* index_reader = nullptr;
  std::string index_error;
};

// Checks that every signer and storage name the config uses is installed. Returns the error text
// naming the key, the value and the installed plugins; empty when all are there.
std::string check_installed(const config::config& cfg, const plugin_host::registry& reg);

// Instantiates what `cfg` needs. Factory failures are recorded per plugin, not thrown.
// `outbound` (borrowed, must outlive the set) carries transparency-log uploads; without it no
// tlog client is built.
std::shared_ptr<plugin_set> build_plugin_set(std::shared_ptr<const config::config> cfg,
                                             const plugin_host::registry& reg, plugin::host& host,
                                             net::http_client* outbound = nullptr);

// Sets index_reader / index_error from the set's config and storage instances (build_plugin_set
// calls it; `chainsd config check` reports index_error as an error).
void pick_index_reader(plugin_set& set);

// Ends a replaced set: waits (up to `max_wait`) until no run in flight holds it, then awaits
// every storage's close() so buffered deliveries are flushed before the instances go away.
boost::asio::awaitable<void> retire(std::shared_ptr<plugin_set> old, std::chrono::milliseconds max_wait);

// The storage plugin name for a chains-config storage value: "pubsub" and "kafka" both mean the
// pub/sub backend, whose provider (storage.pubsub.provider) names the plugin.
std::string storage_plugin_name(const std::string& value, const config::config& cfg);

}  // namespace chainsd::reconciler
