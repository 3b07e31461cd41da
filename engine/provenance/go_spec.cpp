#include "provenance/go_spec.hpp"

#include <boost/json.hpp>

#include <cctype>
#include <stdexcept>
#include <vector>

#include "provenance/encoding.hpp"

namespace chainsd::provenance::gospec {
namespace dom = simdjson::dom;
namespace bj = boost::json;

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
}  // namespace model

namespace {

const char* type_name(dom::element_type t) {
  switch (t) {
    case dom::element_type::ARRAY: return "an array";
    case dom::element_type::OBJECT: return "an object";
    case dom::element_type::STRING: return "a string";
    case dom::element_type::BOOL: return "a boolean";
    case dom::element_type::NULL_VALUE: return "null";
    default: return "a number";
  }
}

bj::value copy(dom::element el) {
  switch (el.type()) {
    case dom::element_type::ARRAY: {
      bj::array a;
      for (auto e : dom::array(el)) a.push_back(copy(e));
      return a;
    }
    case dom::element_type::OBJECT: {
      bj::object o;
      for (auto [k, v] : dom::object(el))
        if (v.type() != dom::element_type::NULL_VALUE) o[k] = copy(v);
      return o;
    }
    case dom::element_type::INT64: return bj::value(int64_t(el));
    case dom::element_type::UINT64: return bj::value(uint64_t(el));
    case dom::element_type::DOUBLE: return bj::value(double(el));
    case dom::element_type::STRING: return bj::value(std::string_view(el));
    case dom::element_type::BOOL: return bj::value(bool(el));
    case dom::element_type::NULL_VALUE: return nullptr;
  }
  return nullptr;
}

struct encoder {
  const fail_fn& report;

  // `report` throws; the fallback keeps this function honest about never returning.
  [[noreturn]] void fail(const json_path& at, const std::string& problem) const {
    auto path = at.str();
    report(path, problem);
    throw std::runtime_error(path + ": " + problem);
  }

  void expect(dom::element el, dom::element_type t, const json_path& path, const char* what) const {
    if (el.type() != t) fail(path, std::string("must be ") + what + ", got " + type_name(el.type()));
  }

  bj::value param_value(dom::element el, const json_path& path) const {
    switch (el.type()) {
      case dom::element_type::STRING: return bj::value(std::string_view(el));
      case dom::element_type::ARRAY: {
        bj::array a;
        std::size_t i = 0;
        for (auto e : dom::array(el)) {
          expect(e, dom::element_type::STRING, json_path(path, i++), "a string");
          a.emplace_back(std::string_view(e));
        }
        return a;
      }
      case dom::element_type::OBJECT: {
        bj::object o;
        for (auto [k, v] : dom::object(el)) {
          if (v.type() == dom::element_type::NULL_VALUE) continue;
          expect(v, dom::element_type::STRING, json_path(path, k), "a string");
          o[k] = std::string_view(v);
        }
        return o;
      }
      default:
        fail(path, std::string("must be a string, an array of strings or an object of strings, got ") +
                       type_name(el.type()));
    }
    return nullptr;
  }

  bj::array params(dom::array arr, const json_path& path) const {
    bj::array out;
    std::size_t i = 0;
    for (auto el : arr) {
      const json_path p(path, i++);
      expect(el, dom::element_type::OBJECT, p, "an object");
      bj::object o;
      dom::element name, value;
      o["name"] = "";
      if (dom::object(el).at_key("name").get(name) == simdjson::SUCCESS && name.type() != dom::element_type::NULL_VALUE) {
        expect(name, dom::element_type::STRING, json_path(p, "name"), "a string");
        o["name"] = std::string_view(name);
      }
      o["value"] = "";
      if (dom::object(el).at_key("value").get(value) == simdjson::SUCCESS && value.type() != dom::element_type::NULL_VALUE)
        o["value"] = param_value(value, json_path(p, "value"));
      out.push_back(std::move(o));
    }
    return out;
  }

  // Go matches an exact tag first, then case-insensitively.
  static std::optional<dom::element> lookup(dom::object obj, std::string_view key) {
    dom::element el;
    if (obj.at_key(key).get(el) == simdjson::SUCCESS) return el;
    for (auto [k, v] : obj) {
      if (k.size() != key.size()) continue;
      bool eq = true;
      for (std::size_t i = 0; i < k.size() && eq; ++i)
        eq = std::tolower(static_cast<unsigned char>(k[i])) == std::tolower(static_cast<unsigned char>(key[i]));
      if (eq) return v;
    }
    return std::nullopt;
  }

  bj::object encode(const type& t, dom::object obj, const json_path& path) const {
    bj::object out;
    for (const auto& f : t.fields) {
      const json_path p(path, f.key);
      auto found = lookup(obj, f.key);
      bool present = found && found->type() != dom::element_type::NULL_VALUE;
      if (!present) {
        switch (f.k) {
          case kind::string_always: out[f.key] = ""; break;
          case kind::value_always: out[f.key] = ""; break;
          case kind::generic_struct:
          case kind::object_always: out[f.key] = bj::object{}; break;
          case kind::raw_extension: out[f.key] = nullptr; break;
          default: break;
        }
        continue;
      }
      dom::element el = *found;
      switch (f.k) {
        case kind::string:
        case kind::string_always:
          expect(el, dom::element_type::STRING, p, "a string");
          if (f.k == kind::string_always || !std::string_view(el).empty()) out[f.key] = std::string_view(el);
          break;
        case kind::boolean:
          expect(el, dom::element_type::BOOL, p, "a boolean");
          if (bool(el)) out[f.key] = true;
          break;
        case kind::integer:
          if (el.type() != dom::element_type::INT64 && el.type() != dom::element_type::UINT64)
            fail(p, std::string("must be an integer, got ") + type_name(el.type()));
          if (el.type() == dom::element_type::INT64 ? int64_t(el) != 0 : uint64_t(el) != 0) out[f.key] = copy(el);
          break;
        case kind::duration: {
          expect(el, dom::element_type::STRING, p, "a duration string");
          auto d = normalize_go_duration(std::string_view(el));
          if (!d) fail(p, "\"" + std::string(std::string_view(el)) + "\" is not a duration");
          out[f.key] = *d;
          break;
        }
        case kind::strings: {
          expect(el, dom::element_type::ARRAY, p, "an array");
          bj::array a;
          std::size_t i = 0;
          for (auto e : dom::array(el)) {
            expect(e, dom::element_type::STRING, json_path(p, i++), "a string");
            a.emplace_back(std::string_view(e));
          }
          if (!a.empty()) out[f.key] = std::move(a);
          break;
        }
        case kind::params: {
          expect(el, dom::element_type::ARRAY, p, "an array");
          auto a = params(dom::array(el), p);
          if (!a.empty()) out[f.key] = std::move(a);
          break;
        }
        case kind::value_ptr:
        case kind::value_always: out[f.key] = param_value(el, p); break;
        case kind::generic_ptr:
        case kind::generic_struct:
        case kind::raw_extension: out[f.key] = copy(el); break;
        case kind::generic_list:
          expect(el, dom::element_type::ARRAY, p, "an array");
          if (dom::array(el).size() > 0) out[f.key] = copy(el);
          break;
        case kind::generic_map:
          expect(el, dom::element_type::OBJECT, p, "an object");
          if (dom::object(el).size() > 0) out[f.key] = copy(el);
          break;
        case kind::object:
        case kind::object_always:
          expect(el, dom::element_type::OBJECT, p, "an object");
          out[f.key] = encode(*f.t, dom::object(el), p);
          break;
        case kind::list: {
          expect(el, dom::element_type::ARRAY, p, "an array");
          bj::array a;
          std::size_t i = 0;
          for (auto e : dom::array(el)) {
            const json_path ep(p, i++);
            expect(e, dom::element_type::OBJECT, ep, "an object");
            a.push_back(encode(*f.t, dom::object(e), ep));
          }
          if (!a.empty()) out[f.key] = std::move(a);
          break;
        }
      }
    }
    return out;
  }
};

}  // namespace

bj::object task_run_spec(dom::object spec, const fail_fn& fail) {
  return encoder{fail}.encode(model::task_run_spec, spec, "spec");
}

bj::object pipeline_run_spec(dom::object spec, const fail_fn& fail) {
  return encoder{fail}.encode(model::pipeline_run_spec, spec, "spec");
}

bj::object task_ref(dom::object ref, const json_path& path, const fail_fn& fail) {
  return encoder{fail}.encode(model::task_ref, ref, path);
}

}  // namespace chainsd::provenance::gospec
