#pragma once
// The manifests under an image index, for artifacts.oci.sign-platform-manifests: the index is
// read from the image's repository (pull scope), each manifest's bytes are checked against the
// digest asked for (a registry must not choose what gets signed), and nested indexes are read in
// turn (depth first, as cosign's walk). Only indexes are fetched: image manifests listed are not
// downloaded. Bounded: more than 1000 manifests or nesting deeper than 8 is permanent.
//
// Borrows `p` (the plugin instance's, which outlives the call). Errors are classified as a push's
// and name the image, the run and `registry/repository`; metric
// chainsd_plugin_oci_index_reads_total{result=index|manifest|<error class>}.

#include "push.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>
#include <vector>

namespace storage_oci {

// The digests ("sha256:<hex>") listed under `ref`; empty when it is a single-image manifest.
boost::asio::awaitable<plugin::result<std::vector<std::string>>> index_manifests(pushes* p, image_ref ref,
                                                                                 credential_set creds,
                                                                                 std::string run);

}  // namespace storage_oci
