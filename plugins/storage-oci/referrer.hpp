#pragma once
// The OCI 1.1 referrer that carries a Sigstore bundle (`storage.oci.encoding-format:
// sigstore-bundle`), as cosign's WriteAttestationNewBundleFormat writes it, and its descriptor in
// the referrers tag schema index. The bundle itself is the engine's (store_request::
// sigstore_bundle_json). Pure functions.

#include <boost/json/object.hpp>

#include <string>
#include <string_view>

namespace storage_oci {

inline constexpr std::string_view bundle_type = "application/vnd.dev.sigstore.bundle.v0.3+json";
inline constexpr std::string_view empty_config_type = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view oci_index_type = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view cosign_sign_predicate = "https://sigstore.dev/cosign/sign/v1";
// dev.sigstore.bundle.content: what the bundle holds.
inline constexpr std::string_view dsse_content = "dsse-envelope";          // attestations
inline constexpr std::string_view message_content = "message-signature";   // image signatures

// What a referrer says about its bundle (its manifest's and its index descriptor's annotations).
struct referrer_info {
  std::string predicate_type;  // dev.sigstore.bundle.predicateType
  std::string content;         // dev.sigstore.bundle.content
  std::string created;         // org.opencontainers.image.created (RFC 3339)
};

// The referrer manifest: empty config, one bundle layer, the subject descriptor, the annotations
// and artifactType.
std::string referrer_manifest(const boost::json::object& subject, std::string_view layer_digest,
                              std::size_t layer_size, const referrer_info& info);

// The referrer's descriptor as the referrers tag schema index lists it.
boost::json::object referrer_descriptor(std::string_view manifest_digest, std::size_t manifest_size,
                                        const referrer_info& info);

}  // namespace storage_oci
