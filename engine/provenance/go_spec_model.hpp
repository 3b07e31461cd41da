#pragma once
// Internal: the model of the tekton.dev/v1 Go structs that runSpec is rebuilt from (go_spec.cpp):
// for each struct its JSON fields in Go's order, and for each field how encoding/json writes it
// back. Data only; go_spec_model.cpp holds the tables.

#include <string_view>
#include <vector>

namespace chainsd::provenance::gospec {

// The Go type model. Field kinds say how Go writes the field back.
enum class kind {
  string,            // string, omitempty
  string_always,     // string without omitempty
  boolean,           // bool, omitempty
  integer,           // int, omitempty
  duration,          // *metav1.Duration
  strings,           // []string, omitempty
  params,            // v1.Params (name + value), omitempty
  value_ptr,         // *ParamValue
  value_always,      // ParamValue without omitempty
  generic_ptr,       // pointer to a type we copy as given
  generic_list,      // slice we copy as given, omitempty
  generic_map,       // map we copy as given, omitempty
  generic_struct,    // non-pointer struct we copy as given: {} when absent
  raw_extension,     // runtime.RawExtension: null when absent
  object,            // pointer to a modelled struct
  object_always,     // non-pointer modelled struct: {} when absent
  list,              // slice of a modelled struct, omitempty
};

struct type;
struct field {
  std::string_view key;
  kind k;
  const type* t = nullptr;
};
struct type {
  std::vector<field> fields;
};

namespace model {
extern const type task_ref, ref, param_spec, task_result, step_result, workspace_declaration, workspace_usage,
    when_expression, step, step_template, sidecar, task_spec, embedded_task, pipeline_task_metadata, matrix,
    include_params, workspace_pipeline_task_binding, pipeline_task, pipeline_result,
    pipeline_workspace_declaration, pipeline_spec, pipeline_ref, workspace_binding, step_spec, timeout_fields,
    pipeline_task_run_template, pipeline_task_run_spec, task_run_debug, task_run_spec, pipeline_run_spec;
}  // namespace model

}  // namespace chainsd::provenance::gospec
