#pragma once
// Type hinting: which results of a run name artifacts, exactly as Chains reads them
// (pkg/artifacts/signable.go, structured.go):
//  - `*IMAGE_URL` + `*IMAGE_DIGEST` pairs (same prefix), the `IMAGES` list (comma or newline
//    separated "repo@sha256:..."), and `*ARTIFACT_OUTPUTS` objects with isBuildArtifact "true"
//    are OCI images, normalized with go-containerregistry's rules;
//  - `*ARTIFACT_URI` + `*ARTIFACT_DIGEST` pairs and `*ARTIFACT_OUTPUTS` objects are subjects;
//  - `*ARTIFACT_INPUTS` objects are materials;
//  - `CHAINS-GIT_URL` / `CHAINS-GIT_COMMIT` (params, then results) are the git material.
// Upstream pairs URL/DIGEST results through a Go map, so with several pairs in one result list its
// order is random; ours is sorted by the pair's prefix.
//
// Deduplication (artifact.AppendSubjects/AppendMaterials): an artifact equal to an earlier one
// (same name and at least one equal algorithm:hex) is merged into it. Upstream compares against
// every earlier entry (quadratic); we index by name, so 10,000 results stay linear.

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "provenance/image_ref.hpp"
#include "provenance/run_view.hpp"

namespace chainsd::provenance {

using digest_set = std::map<std::string, std::string>;  // algorithm -> hex, sorted

// An in-toto ResourceDescriptor (subjects, materials, resolved dependencies, byproducts).
struct resource_descriptor {
  std::string name;
  std::string uri;
  digest_set digest;
  std::optional<std::string> content;  // raw bytes (base64-encoded on output)
  std::string media_type;
};

// An ordered list of artifacts that merges duplicates as Chains does, in linear time.
class artifact_list {
 public:
  void add(std::string name, digest_set digest);
  void add_all(const std::vector<std::pair<std::string, digest_set>>& items);
  void add_all(std::vector<std::pair<std::string, digest_set>>&& items);  // moves each item in
  const std::vector<std::pair<std::string, digest_set>>& items() const& { return items_; }
  std::vector<std::pair<std::string, digest_set>> items() && { return std::move(items_); }
  bool empty() const { return items_.empty(); }

 private:
  void index(std::size_t i);
  std::optional<std::size_t> find_equal(const std::string& name, const digest_set& digest) const;

  std::vector<std::pair<std::string, digest_set>> items_;
  // Short lists (a run's few images and materials) are searched linearly; the index below is
  // built once a list grows past this, so long lists stay linear-time overall.
  static constexpr std::size_t index_threshold = 8;
  bool indexed_ = false;
  // (name, algorithm, hex) -> items that had that digest, in increasing order. Entries can go
  // stale when a merge overwrites a hex, so candidates are re-checked.
  std::unordered_map<std::size_t, std::vector<std::size_t>> by_digest_;
  // Items holding an empty hex: upstream treats them as equal to any same-named artifact lacking
  // that algorithm, which no digest index can find.
  std::unordered_map<std::string, std::vector<std::size_t>> with_empty_hex_;
};

struct structured_artifact {
  std::string uri;
  std::string digest;
};

// OCI images named by the results (ExtractOCIImagesFromResults), deduplicated by full name.
std::vector<digest_ref> extract_oci_images(const std::vector<result>& results);

// `*ARTIFACT_URI` / `*ARTIFACT_DIGEST` pairs with a valid digest (ExtractSignableTargetFromResults).
std::vector<structured_artifact> extract_signable_targets(const std::vector<result>& results);

// Objects in results whose name ends with `marker` ("ARTIFACT_INPUTS" or "ARTIFACT_OUTPUTS")
// with a uri and a valid digest (ExtractStructuredTargetFromResults).
std::vector<structured_artifact> extract_structured(const std::vector<result>& results, std::string_view marker);

// `*ARTIFACT_OUTPUTS` objects with isBuildArtifact "true" and valid uri/digest.
std::vector<structured_artifact> extract_build_artifacts(const std::vector<result>& results);

// artifacts.IsBuildArtifact: {is, error}; a `*ARTIFACT_OUTPUTS` result that is not an object, or
// that claims isBuildArtifact but is malformed, is an error.
struct build_artifact_check {
  bool is_build_artifact = false;
  bool error = false;
};
build_artifact_check check_build_artifact(const result& r);

// Materials from `*ARTIFACT_INPUTS` (RetrieveMaterialsFromStructuredResults).
std::vector<std::pair<std::string, digest_set>> materials_from_structured(const std::vector<result>& results);

// "git+<url>.git" (attest.SPDXGit without revision).
std::string spdx_git(std::string url);

// Digest "alg:hex" split on ':' without validation, as the subject code does (nullopt unless 2 parts).
std::optional<std::pair<std::string, std::string>> split_digest(const std::string& digest);

}  // namespace chainsd::provenance
