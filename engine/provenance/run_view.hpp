#pragma once
// A Tekton TaskRun or PipelineRun (tekton.dev/v1) reduced to what the formats read, built once
// from the run's JSON bytes (simdjson). Everything is copied out of the parser, so a run_view owns
// its data and outlives the bytes it came from.
//
// Input problems that would make the provenance wrong (missing `status`, a field of the wrong
// JSON type, a result value that is neither a string, an array of strings nor an object of
// strings, a bad timestamp) raise input_error naming the source, the field path and the problem.

#include <boost/json/value.hpp>

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace chainsd::provenance {

class input_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Tekton's ParamValue / ResultValue.
struct param_value {
  enum class kind { string, array, object };
  kind type = kind::string;
  std::string str;
  std::vector<std::string> array;
  std::map<std::string, std::string> object;

  const std::string* field(const std::string& key) const;  // object member or null
};

struct param {
  std::string name;
  param_value value;
};

struct result {
  std::string name;
  std::string type;  // as written ("string", "array", "object" or empty)
  param_value value;
};

struct ref_source {
  std::string uri;
  std::map<std::string, std::string> digest;
  std::string entry_point;
};

struct param_spec {
  std::string name;
  std::optional<param_value> default_value;
};

struct step_spec {
  std::string name;
  std::vector<std::string> command;
  std::optional<std::vector<std::string>> args;  // absent and empty differ in the v0.2 output
  std::string script;
};

struct task_spec {
  std::vector<param_spec> params;
  std::vector<step_spec> steps;
};

struct step_state {
  std::string name;
  std::string image_id;
  std::vector<result> results;
  std::optional<ref_source> provenance;  // status.steps[].provenance.refSource (remote StepActions)
};

struct when_expression {
  std::vector<std::string> strings;  // input, values and cel: every place a result ref can hide
};

struct pipeline_task {
  std::string name;
  std::optional<boost::json::object> task_ref;  // as Go re-serializes v1.TaskRef
  std::vector<std::string> run_after;
  // Every string under params/matrix/when/displayName etc.: scanned for $(tasks.X.results.Y).
  std::vector<std::string> reference_strings;
};

struct pipeline_spec {
  std::vector<param_spec> params;
  std::vector<pipeline_task> tasks;
  std::vector<pipeline_task> finally;
};

enum class run_kind { task_run, pipeline_run };

struct run_view {
  std::string source;  // file name or "-" for diagnostics
  run_kind kind = run_kind::task_run;
  std::string api_version = "tekton.dev/v1";
  std::string name;
  std::string namespace_name;
  std::string uid;
  std::optional<std::map<std::string, std::string>> labels;  // absent and {} differ for slsa-tekton
  std::optional<std::map<std::string, std::string>> annotations;

  // spec
  std::vector<param> params;
  std::string ref_resolver;     // spec.taskRef.resolver / spec.pipelineRef.resolver
  bool has_ref = false;
  std::string service_account;  // TaskRun spec.serviceAccountName, PipelineRun taskRunTemplate's
  boost::json::object run_spec;  // .spec as Go's v1 structs re-serialize it

  // status
  std::optional<std::string> start_time;  // RFC 3339, UTC
  std::optional<std::string> completion_time;
  std::string condition_status;  // status of the first condition: "True", "False", "Unknown"
  std::vector<result> results;
  std::vector<step_state> steps;
  std::vector<std::string> sidecar_image_ids;
  std::optional<task_spec> status_task_spec;
  std::optional<pipeline_spec> status_pipeline_spec;
  std::optional<ref_source> provenance_ref;
  std::optional<boost::json::object> feature_flags;  // as Go re-serializes config.FeatureFlags

  // The document minified, for the slsa-tekton build type's pipelineTask descriptors.
  std::string raw_json;

  std::string gvk() const;  // "tekton.dev/v1/TaskRun"
  bool is_remote() const { return has_ref && !ref_resolver.empty() && ref_resolver != "Cluster"; }
  const std::string* label(const std::string& key) const;
};

// Parses a run from JSON bytes. `kind_hint` decides between TaskRun and PipelineRun when the
// document has no `kind` (fixtures often omit it); without a hint the spec/status shape decides.
// raw_json is filled only with `keep_raw_json` (only a PipelineRun's children need it).
run_view parse_run(std::string_view json, std::string_view source, std::optional<run_kind> kind_hint = std::nullopt,
                   bool keep_raw_json = true);

// Converts a YAML document (as `kubectl get -o yaml` prints) to JSON text. Throws input_error.
std::string yaml_to_json(std::string_view yaml, std::string_view source);

// Reads a run document from JSON or YAML text (detected by the first non-blank character).
run_view parse_run_document(std::string_view text, std::string_view source,
                            std::optional<run_kind> kind_hint = std::nullopt);

}  // namespace chainsd::provenance
