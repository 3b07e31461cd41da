#pragma once
// A storage plugin stores one signed artifact. Backends that write to the run itself (tekton)
// return annotations instead of patching: the engine merges every backend's annotations with its
// own state into ONE patch of the run.

#include "chainsd/plugin/config.hpp"
#include "chainsd/plugin/errors.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace chainsd::plugin {

enum class artifact_kind { taskrun, pipelinerun, oci };

struct run_ref {
  std::string api_version;  // "tekton.dev/v1"
  std::string kind;         // "TaskRun" / "PipelineRun"
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string service_account;  // spec.taskRunTemplate.serviceAccountName / spec.serviceAccountName
};

// The transparency-log entry of a signature, parsed once by the engine, which verified it before
// any store() (v1: SET, inclusion proof and checkpoint, and that the body records this signature;
// v2: inclusion proof against a signed checkpoint). Backends use these fields instead of parsing
// store_request::rekor_entry_json. version 0: not logged, every other field empty.
struct tlog_entry {
  int version = 0;                   // 1: Rekor v1, 2: Rekor v2 (rekor-tiles), 0: not logged
  std::int64_t log_index = -1;       // the index chains.tekton.dev/transparency names
  std::string log_id;                // lower-case hex: v1 Rekor's logID (SHA-256 of its key), v2 logId.keyId
  std::string body_b64;              // the canonicalized entry body, base64
  std::int64_t integrated_time = 0;  // v1: seconds since the epoch; v2: 0 (the log has none)
  std::string set_b64;               // v1: signedEntryTimestamp, base64; v2: empty
  std::string uuid;                  // v1: the entry's UUID; v2: empty
};

// Fields may be added at the end of these structs in later versions (a plugin built against an
// older plugin-api still compiles: aggregate members are never removed or reordered).
struct store_request {
  artifact_kind kind = artifact_kind::taskrun;
  run_ref run;
  std::string short_key;     // "taskrun-<uid>", "pipelinerun-<uid>" or the 12-hex image digest prefix
  std::string full_key;      // upstream's FullKey, e.g. "taskrun-<uid>" or "<image>@sha256:<hex>"
  std::string payload_format;  // "in-toto", "slsa/v1", "slsa/v2alpha4", "simplesigning"
  std::string payload;       // the exact bytes that were signed (statement or simplesigning JSON)
  std::string signature;     // DSSE envelope JSON for in-toto formats, raw signature otherwise
  std::string cert_pem;
  std::string chain_pem;
  std::string public_key_pem;
  std::string image;         // for oci: "registry/repo@sha256:<hex>"; else empty
  std::vector<std::string> subject_images;  // in-toto: images (repo@digest) named as subjects
  // The transparency-log entry when one was made, else empty: v1 {"<uuid>": {...}} as Rekor returned
  // it, v2 the TransparencyLogEntry (protobuf JSON). log_entry has its fields, parsed.
  std::string rekor_entry_json;
  // The same signature as a Sigstore bundle v0.3 (protobuf JSON), built by the engine for every
  // signature, logged or not: verificationMaterial (the certificate's DER when keyless, else a
  // publicKey hint: the DSSE keyid for in-toto, "" for simplesigning), `tlogEntries` (the entry with
  // its inclusion proof when logged, else an empty list), RFC 3161 timestamps when taken; then
  // `dsseEnvelope` (in-toto formats: the envelope as signed) or `messageSignature` (simplesigning:
  // SHA-256 of the payload and the raw signature). Empty only if the engine could not build it.
  // (Until log_entry was added it was empty when nothing was logged or timestamped.)
  std::string sigstore_bundle_json;
  tlog_entry log_entry;  // parsed rekor_entry_json; version 0 when not logged
};

struct store_result {
  std::map<std::string, std::string> annotations;  // to add to the run in the engine's one patch
};

class storage {
 public:
  virtual ~storage() = default;
  virtual boost::asio::awaitable<result<store_result>> store(store_request req) = 0;
  // Called before the instance is dropped after a config change; flush pending deliveries.
  virtual boost::asio::awaitable<void> close() { co_return; }

  // Optional capability, for chains-config `artifacts.oci.sign-platform-manifests`: reading image
  // indexes from their registry. A backend that can returns true here (asked once per instance,
  // no I/O) and implements index_manifests(); the engine then uses it, when the backend is one of
  // `artifacts.oci.storage`, to find the manifests to sign besides an index.
  virtual bool reads_image_indexes() const { return false; }

  // When `image` ("registry/repo@sha256:<hex>") is an OCI image index or a Docker manifest list:
  // the digests ("sha256:<hex>") of the manifests it lists, nested indexes and their manifests
  // included, depth first (what `cosign sign --recursive` signs besides the index itself); they
  // live in the image's repository. Empty when `image` is a single-image manifest. Read with the
  // registry credentials `run` has access to (its service account). Errors are classified as for
  // store() and name the image.
  virtual boost::asio::awaitable<result<std::vector<std::string>>> index_manifests(run_ref run, std::string image) {
    (void)run;
    co_return fail(errc::permanent, "this storage backend cannot read image indexes (" + image + ")");
  }

  // Whether store() reads store_request::sigstore_bundle_json when the signature was neither
  // logged nor timestamped (asked once per instance, no I/O). The engine builds that bundle (a
  // parse and serialisation of the envelope per artifact) only when a backend of the artifact
  // says yes; a logged signature's bundle is always given. Default yes: a backend that does not
  // say may read it.
  virtual bool uses_unlogged_bundle() const { return true; }
};

}  // namespace chainsd::plugin
