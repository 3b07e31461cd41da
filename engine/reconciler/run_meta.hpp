#pragma once
// What the reconciler needs to know about a run to decide whether to act, read from the watch
// event's JSON without keeping the object: identity, doneness, chains annotations, filters.

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace chainsd::reconciler {

enum class run_kind { task_run, pipeline_run };

inline constexpr std::string_view annotation_prefix = "chains.tekton.dev/";
inline constexpr std::string_view signed_annotation = "chains.tekton.dev/signed";
inline constexpr std::string_view retries_annotation = "chains.tekton.dev/retries";
inline constexpr std::string_view transparency_annotation = "chains.tekton.dev/transparency";
inline constexpr std::string_view transparency_upload_annotation = "chains.tekton.dev/transparency-upload";
inline constexpr std::string_view error_annotation = "chains.tekton.dev/error";
inline constexpr int default_max_retries = 3;  // upstream's; --max-retries changes it
// Upstream's finalizers (tektoncd/chains adds one to every run it reconciles; the bare form is
// from older releases). chainsd adds none and removes these (reconciler README).
inline constexpr std::string_view upstream_finalizers[] = {"chains.tekton.dev", "chains.tekton.dev/taskrun",
                                                           "chains.tekton.dev/pipelinerun"};
bool is_upstream_finalizer(std::string_view f);
// kube-apiserver's limit on the total size of metadata.annotations (keys plus values):
// apimachinery's TotalAnnotationSizeLimitB.
inline constexpr std::size_t annotations_limit = 256 * 1024;

struct run_meta {
  run_kind kind = run_kind::task_run;
  std::string api_version;  // "tekton.dev/v1"
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string resource_version;
  bool done = false;                  // condition Succeeded is True or False
  bool has_completion_time = false;
  bool deleting = false;              // metadata.deletionTimestamp set
  std::string managed_by;             // spec.managedBy
  std::string pipeline_run;           // TaskRun: label tekton.dev/pipelineRun (its parent)
  std::vector<std::string> child_taskruns;  // PipelineRun: status.childReferences (kind TaskRun)
  std::map<std::string, std::string> chains_annotations;  // every chains.tekton.dev/* annotation
  std::size_t annotations_bytes = 0;   // keys plus values of ALL annotations (what kube limits)
  std::vector<std::string> finalizers;  // metadata.finalizers, all of them

  std::string key() const { return namespace_name + "/" + name; }
  std::string_view kind_name() const { return kind == run_kind::task_run ? "TaskRun" : "PipelineRun"; }
  std::string_view kind_lower() const { return kind == run_kind::task_run ? "taskrun" : "pipelinerun"; }
  // signed is "true" or "failed" (upstream's Reconciled()).
  bool reconciled() const;
  const std::string* annotation(std::string_view k) const;
  bool has_upstream_finalizer() const;
};

class meta_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses the run's JSON. `kind` decides the shape (the watch tells which resource it is).
// Throws meta_error naming the field when the document is not a usable run.
run_meta parse_run_meta(std::string_view json, run_kind kind);

}  // namespace chainsd::reconciler
