#include "provenance/go_spec_model.hpp"

namespace chainsd::provenance::gospec::model {

const type task_ref{{{"name", kind::string},
                     {"kind", kind::string},
                     {"apiVersion", kind::string},
                     {"resolver", kind::string},
                     {"params", kind::params}}};
const type pipeline_ref{{{"name", kind::string},
                         {"apiVersion", kind::string},
                         {"resolver", kind::string},
                         {"params", kind::params}}};
const type ref{{{"name", kind::string}, {"resolver", kind::string}, {"params", kind::params}}};
const type param_spec{{{"name", kind::string_always},
                       {"type", kind::string},
                       {"description", kind::string},
                       {"properties", kind::generic_map},
                       {"default", kind::value_ptr},
                       {"enum", kind::strings}}};
const type task_result{{{"name", kind::string_always},
                        {"type", kind::string},
                        {"properties", kind::generic_map},
                        {"description", kind::string},
                        {"value", kind::value_ptr}}};
const type step_result{{{"name", kind::string_always},
                        {"type", kind::string},
                        {"properties", kind::generic_map},
                        {"description", kind::string}}};
const type workspace_declaration{{{"name", kind::string_always},
                                  {"description", kind::string},
                                  {"mountPath", kind::string},
                                  {"readOnly", kind::boolean},
                                  {"optional", kind::boolean}}};
const type workspace_usage{{{"name", kind::string_always}, {"mountPath", kind::string_always}}};
const type when_expression{{{"input", kind::string},
                            {"operator", kind::string},
                            {"values", kind::strings},
                            {"cel", kind::string}}};
const type step{{{"name", kind::string_always},
                 {"displayName", kind::string},
                 {"image", kind::string},
                 {"command", kind::strings},
                 {"args", kind::strings},
                 {"workingDir", kind::string},
                 {"envFrom", kind::generic_list},
                 {"env", kind::generic_list},
                 {"computeResources", kind::generic_struct},
                 {"volumeMounts", kind::generic_list},
                 {"volumeDevices", kind::generic_list},
                 {"imagePullPolicy", kind::string},
                 {"securityContext", kind::generic_ptr},
                 {"script", kind::string},
                 {"timeout", kind::duration},
                 {"workspaces", kind::list, &workspace_usage},
                 {"onError", kind::string},
                 {"stdoutConfig", kind::generic_ptr},
                 {"stderrConfig", kind::generic_ptr},
                 {"ref", kind::object, &ref},
                 {"params", kind::params},
                 {"results", kind::list, &step_result},
                 {"when", kind::list, &when_expression}}};
const type step_template{{{"image", kind::string},
                          {"command", kind::strings},
                          {"args", kind::strings},
                          {"workingDir", kind::string},
                          {"envFrom", kind::generic_list},
                          {"env", kind::generic_list},
                          {"computeResources", kind::generic_struct},
                          {"volumeMounts", kind::generic_list},
                          {"volumeDevices", kind::generic_list},
                          {"imagePullPolicy", kind::string},
                          {"securityContext", kind::generic_ptr}}};
const type sidecar{{{"name", kind::string_always},
                    {"image", kind::string},
                    {"command", kind::strings},
                    {"args", kind::strings},
                    {"workingDir", kind::string},
                    {"ports", kind::generic_list},
                    {"envFrom", kind::generic_list},
                    {"env", kind::generic_list},
                    {"computeResources", kind::generic_struct},
                    {"volumeMounts", kind::generic_list},
                    {"volumeDevices", kind::generic_list},
                    {"livenessProbe", kind::generic_ptr},
                    {"readinessProbe", kind::generic_ptr},
                    {"startupProbe", kind::generic_ptr},
                    {"lifecycle", kind::generic_ptr},
                    {"terminationMessagePath", kind::string},
                    {"terminationMessagePolicy", kind::string},
                    {"imagePullPolicy", kind::string},
                    {"securityContext", kind::generic_ptr},
                    {"stdin", kind::boolean},
                    {"stdinOnce", kind::boolean},
                    {"tty", kind::boolean},
                    {"script", kind::string},
                    {"workspaces", kind::list, &workspace_usage},
                    {"restartPolicy", kind::generic_ptr}}};
#define CHAINSD_TASK_SPEC_FIELDS                                              \
  {"params", kind::list, &param_spec}, {"displayName", kind::string},         \
      {"description", kind::string}, {"steps", kind::list, &step},            \
      {"volumes", kind::generic_list}, {"stepTemplate", kind::object, &step_template}, \
      {"sidecars", kind::list, &sidecar}, {"workspaces", kind::list, &workspace_declaration}, \
      {"results", kind::list, &task_result}
const type task_spec{{CHAINSD_TASK_SPEC_FIELDS}};
const type pipeline_task_metadata{{{"labels", kind::generic_map}, {"annotations", kind::generic_map}}};
// EmbeddedTask inlines TypeMeta and TaskSpec; `spec` (RawExtension) and `metadata` (a struct)
// are never omitted.
const type embedded_task{{{"apiVersion", kind::string},
                          {"kind", kind::string},
                          {"spec", kind::raw_extension},
                          {"metadata", kind::object_always, &pipeline_task_metadata},
                          CHAINSD_TASK_SPEC_FIELDS}};
#undef CHAINSD_TASK_SPEC_FIELDS
const type include_params{{{"name", kind::string}, {"params", kind::params}}};
const type matrix{{{"params", kind::params}, {"include", kind::list, &include_params}}};
const type workspace_pipeline_task_binding{{{"name", kind::string_always},
                                            {"workspace", kind::string},
                                            {"subPath", kind::string}}};
const type pipeline_task{{{"name", kind::string},
                          {"displayName", kind::string},
                          {"description", kind::string},
                          {"taskRef", kind::object, &task_ref},
                          {"taskSpec", kind::object, &embedded_task},
                          {"when", kind::list, &when_expression},
                          {"retries", kind::integer},
                          {"runAfter", kind::strings},
                          {"params", kind::params},
                          {"matrix", kind::object, &matrix},
                          {"workspaces", kind::list, &workspace_pipeline_task_binding},
                          {"timeout", kind::duration},
                          {"pipelineRef", kind::object, &pipeline_ref},
                          {"pipelineSpec", kind::object, &pipeline_spec},
                          {"onError", kind::string}}};
const type pipeline_result{{{"name", kind::string_always},
                            {"type", kind::string},
                            {"description", kind::string_always},
                            {"value", kind::value_always}}};
const type pipeline_workspace_declaration{{{"name", kind::string_always},
                                           {"description", kind::string},
                                           {"optional", kind::boolean}}};
const type pipeline_spec{{{"displayName", kind::string},
                          {"description", kind::string},
                          {"tasks", kind::list, &pipeline_task},
                          {"params", kind::list, &param_spec},
                          {"workspaces", kind::list, &pipeline_workspace_declaration},
                          {"results", kind::list, &pipeline_result},
                          {"finally", kind::list, &pipeline_task}}};
const type workspace_binding{{{"name", kind::string_always},
                              {"subPath", kind::string},
                              {"volumeClaimTemplate", kind::generic_ptr},
                              {"persistentVolumeClaim", kind::generic_ptr},
                              {"emptyDir", kind::generic_ptr},
                              {"configMap", kind::generic_ptr},
                              {"secret", kind::generic_ptr},
                              {"projected", kind::generic_ptr},
                              {"csi", kind::generic_ptr}}};
const type step_spec{{{"name", kind::string_always}, {"computeResources", kind::generic_struct}}};
const type timeout_fields{{{"pipeline", kind::duration}, {"tasks", kind::duration}, {"finally", kind::duration}}};
const type pipeline_task_run_template{{{"podTemplate", kind::generic_ptr}, {"serviceAccountName", kind::string}}};
const type pipeline_task_run_spec{{{"pipelineTaskName", kind::string},
                                   {"serviceAccountName", kind::string},
                                   {"podTemplate", kind::generic_ptr},
                                   {"stepSpecs", kind::list, &step_spec},
                                   {"sidecarSpecs", kind::list, &step_spec},
                                   {"metadata", kind::object, &pipeline_task_metadata},
                                   {"computeResources", kind::generic_ptr},
                                   {"timeout", kind::duration}}};
const type task_run_debug{{{"breakpoints", kind::generic_ptr}}};
const type task_run_spec{{{"debug", kind::object, &task_run_debug},
                          {"params", kind::params},
                          {"serviceAccountName", kind::string_always},
                          {"taskRef", kind::object, &task_ref},
                          {"taskSpec", kind::object, &task_spec},
                          {"status", kind::string},
                          {"statusMessage", kind::string},
                          {"retries", kind::integer},
                          {"timeout", kind::duration},
                          {"podTemplate", kind::generic_ptr},
                          {"workspaces", kind::list, &workspace_binding},
                          {"stepSpecs", kind::list, &step_spec},
                          {"sidecarSpecs", kind::list, &step_spec},
                          {"computeResources", kind::generic_ptr},
                          {"managedBy", kind::generic_ptr}}};
const type pipeline_run_spec{{{"pipelineRef", kind::object, &pipeline_ref},
                              {"pipelineSpec", kind::object, &pipeline_spec},
                              {"params", kind::params},
                              {"status", kind::string},
                              {"timeouts", kind::object, &timeout_fields},
                              {"taskRunTemplate", kind::object_always, &pipeline_task_run_template},
                              {"workspaces", kind::list, &workspace_binding},
                              {"taskRunSpecs", kind::list, &pipeline_task_run_spec},
                              {"managedBy", kind::generic_ptr}}};

}  // namespace chainsd::provenance::gospec::model
