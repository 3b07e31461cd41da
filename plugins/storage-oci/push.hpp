#pragma once
// One layer to add for one image, and what every push of a plugin instance shares. Two ways to
// push it: under cosign's tag (tag_push.cpp, dsse) or as an OCI 1.1 referrer (referrer_push.cpp,
// sigstore-bundle). Both hold a per-tag lock within the process while they read-modify-write.
//
// Ownership: `pushes` belongs to the plugin instance, which outlives every push (close() waits
// for them); a push borrows it by pointer. One event loop. Errors are classified (registry.hpp)
// and name the image, the run and `registry/repository:tag`.

#include "busy_keys.hpp"
#include "credentials.hpp"
#include "jobs.hpp"
#include "layout.hpp"
#include "registry.hpp"
#include "settings.hpp"

#include <chainsd/plugin/host.hpp>

#include <boost/asio/awaitable.hpp>

#include <string>
#include <string_view>

namespace storage_oci {

namespace plugin = chainsd::plugin;

struct pushes {
  pushes(plugin::host& h, settings s) : host(h), cfg(std::move(s)) {}
  plugin::host& host;
  const settings cfg;
  registry_cache cache;          // schemes, challenges, tokens and known blobs of the registries
  busy_keys busy_tags;           // "<repo>:<tag>" being written
  bool warned_override = false;  // storage.oci.repository ignored with sigstore-bundle: said once
};

// Every manifest media type, for reading what a tag or digest names.
inline constexpr std::string_view any_manifest =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";

// Adds the layer to the manifest under the cosign tag (in storage.oci.repository when set),
// keeping existing layers; a layer with the same digest already there means done.
boost::asio::awaitable<plugin::result<void>> push_tag(pushes* p, push_job job, credential_set creds, std::string run);

// The bundle as a referrer of the image, beside it; the referrers tag schema index when the
// registry has no referrers API. A referrer with the same bundle layer means done.
boost::asio::awaitable<plugin::result<void>> push_referrer(pushes* p, push_job job, credential_set creds,
                                                           std::string run);

}  // namespace storage_oci
