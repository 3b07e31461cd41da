#pragma once
// The one guard around every call into a plugin. A plugin is untrusted code at a boundary: an
// exception escaping sign(), store(), index_manifests(), close(), public_key_pem() or
// reads_image_indexes() becomes a `permanent` error naming the plugin and its version (logged
// once per call), so the run that hit it fails with a reason instead of looping, and the
// controller goes on. The registry hands out guarded instances only.
//
// Ownership: the guard owns the plugin's instance and destroys it first (the library stays
// loaded). Cancellation: passed through unchanged; operation_aborted is rethrown, not classified.

#include "plugin_host/loader.hpp"

#include <chainsd/plugin/signer.hpp>
#include <chainsd/plugin/storage.hpp>

#include <memory>
#include <string>

namespace chainsd::plugin_host {

// "storage plugin oci 0.3.1" — how errors and logs name a plugin.
std::string describe(const plugin_info& p);

std::unique_ptr<plugin::signer> guard(std::unique_ptr<plugin::signer> inner, const plugin_info& p);
std::unique_ptr<plugin::storage> guard(std::unique_ptr<plugin::storage> inner, const plugin_info& p);

// The error an escaped exception becomes (and logs): `call` is "store", "sign", ...
plugin::error escaped(const std::string& plugin, const char* call, std::exception_ptr e);

}  // namespace chainsd::plugin_host
