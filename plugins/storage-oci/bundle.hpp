#pragma once
// Sigstore bundle v0.3 (protojson, as cosign and sigstore-go marshal it) for
// `storage.oci.encoding-format: sigstore-bundle`, and the OCI 1.1 referrer manifest that carries
// it. Pure functions (OpenSSL for PEM → DER only).

#include <boost/json/object.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace storage_oci {

inline constexpr std::string_view bundle_type = "application/vnd.dev.sigstore.bundle.v0.3+json";
inline constexpr std::string_view empty_config_type = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view oci_index_type = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view cosign_sign_predicate = "https://sigstore.dev/cosign/sign/v1";

// The bundle for an image signature: like upstream, a DSSE-shaped envelope whose payloadType is
// the simplesigning media type and whose signature is the raw signature over the payload.
// Verification material: the certificate when given, else a hint (base64 SHA-256 of the PKIX
// public key). The Rekor entry (as the Rekor API returns it) becomes tlogEntries when given.
// Throws std::invalid_argument on unusable PEM.
std::string signature_bundle(std::string_view payload, std::string_view raw_signature, std::string_view cert_pem,
                             std::string_view public_key_pem, std::string_view rekor_entry_json);

// The bundle for an attestation: the DSSE envelope JSON the engine made, re-expressed in protojson.
std::string attestation_bundle(std::string_view envelope_json, std::string_view cert_pem,
                               std::string_view public_key_pem, std::string_view rekor_entry_json);

// cosign's WriteReferrer manifest: empty config, one bundle layer, the subject descriptor, the
// annotations (content, predicate type, creation time) and artifactType.
std::string referrer_manifest(const boost::json::object& subject, std::string_view layer_digest,
                              std::size_t layer_size, std::string_view predicate_type, std::string_view created);

// The transparency-log entry in bundle form ("" when the input has no usable entry).
boost::json::object tlog_entry(std::string_view rekor_entry_json);

}  // namespace storage_oci
