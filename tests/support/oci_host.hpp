#pragma once
// The plugin host of the OCI (and other remote storage) tests: tests/support/fake_host.hpp with
// HTTP through a real chainsd::net::http_client and a scripted Kubernetes API (path → status and
// body) for service-account imagePullSecrets. Also loads the built plugin through the real loader.

#include "net/http_client.hpp"
#include "plugin_host/file_access.hpp"
#include "plugin_host/registry.hpp"
#include "fake_host.hpp"
#include "load_plugin.hpp"

#include <chainsd/plugin/host.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace oci_test {

namespace plugin = chainsd::plugin;

// Real HTTP, a scripted Kubernetes API, no secrets.
struct oci_host final : chainsd::test_support::fake_host {
  explicit oci_host(chainsd::net::client_options opts = {}) : fake_host("/nonexistent", std::move(opts)) {
    scripted_kube = true;
  }
};

// The storage-oci plugin (path from STORAGE_OCI_SO, set by meson) through the real loader.
inline const chainsd::plugin_host::registry& oci_plugin() { return test_support::plugin_from_env("STORAGE_OCI_SO"); }

}  // namespace oci_test
