#pragma once
// What upstream Tekton Chains' grafeas backend (tektoncd/chains pkg/chains/storage/grafeas)
// writes to Container Analysis, as the REST API's JSON (the proto3 JSON mapping of grafeas.v1):
//
// - simplesigning (an image): note "<noteid>-simplesigning", kind ATTESTATION (shortDescription
//   "OCI Artifact Attestation Note", hint = storage.grafeas.notehint), and ONE occurrence with
//   resourceUri = the image ("repo@sha256:..."): attestation {serializedPayload, signatures
//   [{signature, publicKeyId}]} and envelope {payload, payloadType cosign simplesigning, signatures
//   [{sig, keyid}]}.
// - in-toto (a run): note "<noteid>-<taskrun|pipelinerun>-intoto", kind BUILD (shortDescription
//   "Build Provenance Note for TaskRun", builderVersion "tekton.dev/v1/TaskRun"), and one BUILD
//   occurrence PER SUBJECT ("name@alg:digest"), each with the statement converted to
//   build.intotoStatement (SLSA v0.2 predicates) and the envelope {payload, payloadType in-toto,
//   signatures [{sig = the whole DSSE envelope, keyid}]}.
// keyid/publicKeyId is signers.kms.kmsref, as upstream. Pure (no I/O).

#include <chainsd/plugin/errors.hpp>
#include <chainsd/plugin/storage.hpp>

#include <string>
#include <vector>

namespace storage_grafeas {

struct note {
  std::string id;    // the noteId query parameter
  std::string body;  // Note JSON
};

struct plan {
  note n;
  std::string note_name;                 // projects/<p>/notes/<id>
  std::vector<std::string> occurrences;  // Occurrence JSON, one per resource URI
  std::vector<std::string> resource_uris;
};

struct options {
  std::string project;
  std::string note_id;    // storage.grafeas.noteid, or empty: "tekton-<namespace>" of the run
  std::string note_hint;  // storage.grafeas.notehint
  std::string key_id;     // signers.kms.kmsref
};

bool is_simplesigning(const std::string& format);
bool is_intoto(const std::string& format);

// permanent error for another payload format or a statement that is not JSON.
chainsd::plugin::result<plan> make_plan(const options& o, const chainsd::plugin::store_request& req);

// "name@alg:digest" for every subject digest of an in-toto statement, in document order.
std::vector<std::string> subject_uris(const std::string& statement_json);

// build.intotoStatement for SLSA v0.2 statements (slsaProvenanceZeroTwo, as upstream's
// grafeas converter), or build.inTotoSlsaProvenanceV1 for SLSA v1.0 ones; returns the BUILD
// occurrence's "build" object as JSON.
chainsd::plugin::result<std::string> build_details(const std::string& statement_json);

}  // namespace storage_grafeas
