#pragma once
// The cosign tag layout, byte for byte as cosign and go-containerregistry write it: image
// references, `sha256-<hex>.sig|.att` tags, signature/attestation layers with their annotations,
// the OCI config and manifest JSON. Pure functions (no I/O), so tests can check them directly.

#include <chainsd/plugin/storage.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace storage_oci {

inline constexpr std::string_view oci_manifest_type = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view docker_manifest_type = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view oci_image_index_type = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view docker_manifest_list_type = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view oci_config_type = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view simplesigning_type = "application/vnd.dev.cosign.simplesigning.v1+json";
inline constexpr std::string_view dsse_type = "application/vnd.dsse.envelope.v1+json";
inline constexpr std::string_view signature_annotation = "dev.cosignproject.cosign/signature";
inline constexpr std::string_view certificate_annotation = "dev.sigstore.cosign/certificate";
inline constexpr std::string_view chain_annotation = "dev.sigstore.cosign/chain";
inline constexpr std::string_view bundle_annotation = "dev.sigstore.cosign/bundle";

// "registry/repo@sha256:<hex>" split the way go-containerregistry's name package does: the first
// component is a registry only when it has a '.' or ':' or is "localhost"; otherwise Docker Hub
// (index.docker.io) with "library/" for one-component names. A tag before '@' is dropped.
struct image_ref {
  std::string registry;    // host[:port] as used in URLs and docker config lookups
  std::string repository;  // path inside the registry, lower-case
  std::string digest;      // "sha256:<64 hex>"; empty for a bare repository
  std::string str() const { return registry + "/" + repository + (digest.empty() ? "" : "@" + digest); }
};

// Throws std::invalid_argument naming what is wrong. `need_digest` for image references.
image_ref parse_reference(std::string_view s, bool need_digest);

// "sha256:<hex>" → "sha256-<hex>.sig" (suffix "sig" or "att").
std::string cosign_tag(std::string_view digest, std::string_view suffix);

// "sha256:<hex>" of the bytes.
std::string sha256_digest(std::string_view data);

struct layer {
  std::string media_type;
  std::string content;
  std::string digest;
  std::map<std::string, std::string> annotations;  // Go marshals map keys sorted: so do we
};

// A cosign layer (static.NewSignature): the signature annotation always (empty for
// attestations), certificate and chain when a certificate is given, the Rekor bundle when given.
layer make_layer(std::string media_type, std::string content, std::string b64_signature, std::string_view cert_pem,
                 std::string_view chain_pem, std::string_view bundle_json,
                 std::map<std::string, std::string> extra_annotations = {});

// cosign's RekorBundle JSON ({"SignedEntryTimestamp","Payload":{body,integratedTime,logIndex,logID}})
// of a Rekor v1 entry; "" when not logged or logged in Rekor v2 (which has no SET).
std::string rekor_bundle_json(const chainsd::plugin::tlog_entry& entry);

// The layer descriptor as go-containerregistry serialises it.
boost::json::object layer_descriptor(const layer& l);

// go-containerregistry's config for an empty image with these layers appended (mutate.Append):
// diff_ids equal the digests because cosign layers are uncompressed.
std::string config_json(const boost::json::array& layer_descriptors);

// The OCI manifest referencing the config blob and the layers.
std::string manifest_json(std::string_view config_digest, std::size_t config_size,
                          const boost::json::array& layer_descriptors);

// The layer descriptors of an existing manifest (OCI or Docker v2), kept verbatim. Throws
// std::invalid_argument when the document is not a single-image manifest.
boost::json::array manifest_layers(std::string_view manifest);

// An OCI image index or a Docker manifest list (the media types cosign's walk descends into).
bool is_index_type(std::string_view media_type);

// One manifest an index lists that `cosign sign --recursive` signs: an image manifest (OCI or
// Docker v2) or a nested index (`index` true: its own manifests are listed too).
struct index_entry {
  std::string digest;  // as written in the descriptor; callers check it is sha256:<64 hex>
  bool index = false;
};
// The entries of an index document, in order. Descriptors of other media types (artifacts,
// Docker schema 1) are skipped, as the OCI spec asks of unknown types. Throws
// std::invalid_argument when the document is not an index or a descriptor has no digest.
std::vector<index_entry> index_entries(std::string_view index_json);

// "sha256:<64 lower-case hex>".
bool is_sha256_digest(std::string_view digest);

// Image subjects of an in-toto statement: "name@sha256:<hex>" for every subject with a sha256
// digest whose name parses as an image repository (files and other subjects are skipped).
std::vector<std::string> statement_image_subjects(std::string_view statement);
// The statement's predicateType ("" when absent).
std::string statement_predicate_type(std::string_view statement);
// "<docker-reference>@<manifest digest>" from a simplesigning payload; "" when absent.
std::string simplesigning_image(std::string_view payload);

}  // namespace storage_oci
