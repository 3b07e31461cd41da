#pragma once
// Internal to the provenance module: pieces shared by the slsa formats.

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "provenance/artifacts.hpp"
#include "provenance/run_view.hpp"

namespace chainsd::provenance::detail {

namespace bj = boost::json;
using material_list = std::vector<std::pair<std::string, digest_set>>;

// The JSON values of the document being built live in one arena while a document_arena is alive
// (make_payload holds one): a few allocations per document instead of one per node, and children
// move into their parents instead of being copied (Boost.JSON copies across storages). Without
// an arena doc_sp() is the default heap storage.
bj::storage_ptr doc_sp();
class document_arena {
 public:
  document_arena();
  ~document_arena();
  document_arena(const document_arena&) = delete;
  document_arena& operator=(const document_arena&) = delete;

 private:
  bj::monotonic_resource resource_{64 * 1024};
  bj::storage_ptr sp_{&resource_};  // not shared: values skip their destructors in the arena
  bj::storage_ptr* previous_;
};

// Writes `v` compactly with object keys sorted (protojson's order for a Struct).
void write_sorted(std::string& out, const bj::value& v);
// One resource descriptor in protojson field order (top-level subjects).
void write_descriptor(std::string& out, const resource_descriptor& d);
// A resource descriptor as a Struct value (inside the predicate).
bj::object descriptor_json(const resource_descriptor& d);
bj::object digest_json(const digest_set& d);
bj::value value_json(const param_value& v);
// Go's json.Marshal of a ParamValue: the bytes inside byproduct content.
std::string go_json(const param_value& v);

// A PipelineRun's children grouped by their tekton.dev/pipelineTask label, in input order.
class child_index {
 public:
  child_index(const run_view& pipeline_run, const std::vector<run_view>& children);
  const std::vector<const run_view*>& for_task(const std::string& task) const;
  // Pipeline tasks then finally tasks, each with its completed children (GetExecutedTasks).
  std::vector<const run_view*> executed() const;
  const std::vector<const pipeline_task*>& tasks() const { return tasks_; }
  std::size_t regular_task_count() const { return regular_; }

 private:
  std::unordered_map<std::string, std::vector<const run_view*>> by_task_;
  std::vector<const pipeline_task*> tasks_;
  std::size_t regular_ = 0;
};

// An image reference as an "oci://" URI, without the "docker-pullable://" a kubelet may prefix.
std::string oci_uri(std::string_view image);
// material.FromStepImages / FromSidecarImages (throw input_error on a malformed imageID).
material_list step_image_materials(const run_view& tr);
material_list sidecar_image_materials(const run_view& tr);
// material.FromTaskParamsAndResults: CHAINS-GIT_* (taskSpec defaults < spec params < results)
// and ARTIFACT_INPUTS.
material_list task_params_and_results_materials(const run_view& tr);
// material.FromStepActionsResults: CHAINS-GIT_* and ARTIFACT_INPUTS in step results.
material_list step_actions_results_materials(const run_view& tr);
// material.FromPipelineParamsAndResults.
material_list pipeline_params_and_results_materials(const run_view& pr, const child_index& children, bool deep);

// Subjects as extract.SubjectDigests (slsa/v1, slsa/v2alpha3).
material_list subject_digests(const run_view& run, const child_index* children, bool deep);
// Subjects as extract.SubjectsFromBuildArtifact (slsa/v2alpha4).
material_list subjects_from_build_artifacts(const std::vector<result>& results);

std::vector<result> step_results(const run_view& tr);

std::string make_slsa_v1(const run_view& run, const std::vector<run_view>& children, const std::string& builder_id,
                         bool deep);
std::string make_slsa_v2(bool alpha4, const run_view& run, const std::vector<run_view>& children,
                         const std::string& builder_id, const std::string& build_type, bool deep);

void write_subjects(std::string& out, const material_list& subjects);

}  // namespace chainsd::provenance::detail
