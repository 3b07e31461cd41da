#pragma once
// The provenance formats Chains offers, as one plain interface for the controller and the
// `chainsd payload` command:
//   slsa/v1 (alias in-toto)       in-toto Statement v0.1 + SLSA Provenance v0.2
//   slsa/v2alpha3, slsa/v2alpha4  in-toto Statement v1 + SLSA Provenance v1.0
//   simplesigning                 cosign "simple signing" payloads, one per OCI image
// A payload is produced once, as bytes; those exact bytes are signed and stored.
//
// Serialization is deterministic: statement fields in protobuf field order (as protojson writes
// them), every object inside the predicate with keys sorted (upstream's predicate is a
// google.protobuf.Struct, which protojson also writes sorted), compact, no HTML escaping.
// Where upstream's content depends on Go map iteration order we sort (see artifacts.hpp and
// buildConfigSource.ref, which takes the smallest algorithm of the refSource digest).
//
// Errors: input_error (from run_view.hpp) when the run cannot yield provenance, e.g. a step
// imageID that is not "<image>@<alg>:<hex>" — upstream fails the same payload.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "provenance/image_ref.hpp"
#include "provenance/run_view.hpp"

namespace chainsd::provenance {

enum class format { slsa_v1, slsa_v2alpha3, slsa_v2alpha4, simplesigning };

// "in-toto" and "slsa/v1" are the same format. nullopt for unknown names.
std::optional<format> parse_format(std::string_view name);
std::string_view format_name(format f);

// The in-toto statement for a TaskRun or PipelineRun. `children` are the PipelineRun's TaskRuns
// (matched to pipeline tasks by the tekton.dev/pipelineTask label); ignored for TaskRuns.
// Reads builder.id, builddefinition.buildtype and artifacts.pipelinerun.enable-deep-inspection.
std::string make_payload(format f, const run_view& run, const std::vector<run_view>& children,
                         const config::config& cfg);

// An OCI image to sign: normalized repository and sha256 digest.
using image_subject = digest_ref;

// OCI images a TaskRun produced (artifacts.oci signing): IMAGE_URL/IMAGE_DIGEST pairs, IMAGES
// and build-artifact ARTIFACT_OUTPUTS, deduplicated. Empty for PipelineRuns, as upstream.
std::vector<image_subject> extract_images(const run_view& run);

// The simplesigning payload for one image:
// {"critical":{"identity":{"docker-reference":R},"image":{"docker-manifest-digest":D},
//  "type":"cosign container image signature"},"optional":null}
std::string make_simplesigning_payload(const image_subject& image);

}  // namespace chainsd::provenance
