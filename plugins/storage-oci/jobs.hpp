#pragma once
// What one store request puts in registries: one push job per image (the signature's image, or
// each image subject of an attestation), each with the layer to add. Pure (no I/O).

#include "layout.hpp"

#include <chainsd/plugin/storage.hpp>

#include <string>
#include <vector>

namespace storage_oci {

namespace plugin = chainsd::plugin;

struct push_job {
  image_ref subject;        // the signed image (its digest names the tag)
  std::string suffix;       // "sig" / "att"
  layer content;            // cosign layer, or the Sigstore bundle for a referrer
  bool referrer = false;    // sigstore-bundle: an OCI 1.1 referrer instead of a cosign tag
  std::string predicate_type;
  std::string bundle_content;  // referrer: dev.sigstore.bundle.content (dsse-envelope / message-signature)
};

// `bundles`: storage.oci.encoding-format sigstore-bundle: referrers carrying the engine's bundle
// (req.sigstore_bundle_json) instead of cosign tags. The cosign layers carry the log entry
// (req.log_entry) as cosign's bundle annotation. Empty when an attestation names no image
// subject. Errors (permanent) name the run.
plugin::result<std::vector<push_job>> push_jobs(const plugin::store_request& req, bool bundles);

std::string run_name(const plugin::run_ref& run);

}  // namespace storage_oci
