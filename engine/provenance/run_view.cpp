#include "provenance/run_view.hpp"

#include <simdjson.h>

#include "provenance/feature_flags.hpp"
#include "provenance/go_spec.hpp"
#include "provenance/json_path.hpp"
#include "provenance/run_reader.hpp"

namespace chainsd::provenance {
namespace {

namespace dom = simdjson::dom;

void collect_strings(dom::element el, std::vector<std::string>& out) {
  switch (el.type()) {
    case dom::element_type::STRING: out.emplace_back(std::string_view(el)); break;
    case dom::element_type::ARRAY:
      for (auto e : dom::array(el)) collect_strings(e, out);
      break;
    case dom::element_type::OBJECT:
      for (auto [k, v] : dom::object(el)) collect_strings(v, out);
      break;
    default: break;
  }
}

std::vector<pipeline_task> pipeline_tasks(const reader& r, dom::object spec, std::string_view key,
                                          const json_path& path) {
  return r.each_object<pipeline_task>(spec, key, path, [&r](dom::object obj, const json_path& p) {
    pipeline_task t;
    t.name = r.string_member(obj, "name", json_path(p, "name"));
    if (auto ref = r.object_member(obj, "taskRef", json_path(p, "taskRef")))
      t.task_ref = gospec::task_ref(*ref, json_path(p, "taskRef"), r.failer());
    if (auto ra = r.array_member(obj, "runAfter", json_path(p, "runAfter"))) t.run_after = r.string_array(*ra, json_path(p, "runAfter"));
    // PipelineTaskResultRefs looks at params, matrix params and when expressions.
    for (auto k : {"params", "matrix", "when"})
      if (auto m = r.member(obj, k)) collect_strings(*m, t.reference_strings);
    return t;
  });
}

run_kind detect_kind(const reader& r, dom::object doc, std::optional<run_kind> hint) {
  auto kind = r.string_member(doc, "kind", "kind");
  if (kind == "TaskRun") return run_kind::task_run;
  if (kind == "PipelineRun") return run_kind::pipeline_run;
  if (!kind.empty()) r.fail("kind", "\"" + kind + "\" is neither TaskRun nor PipelineRun");
  if (hint) return *hint;
  for (auto section : {"spec", "status"}) {
    if (auto s = r.object_member(doc, section, section)) {
      for (auto k : {"pipelineRef", "pipelineSpec", "childReferences"})
        if (r.member(*s, k)) return run_kind::pipeline_run;
    }
  }
  return run_kind::task_run;
}

}  // namespace

const std::string* param_value::field(const std::string& key) const {
  if (type != kind::object) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &it->second;
}

std::string run_view::gvk() const {
  return api_version + "/" + (kind == run_kind::task_run ? "TaskRun" : "PipelineRun");
}

const std::string* run_view::label(const std::string& key) const {
  if (!labels) return nullptr;
  auto it = labels->find(key);
  return it == labels->end() ? nullptr : &it->second;
}

run_view parse_run(std::string_view json, std::string_view source, std::optional<run_kind> kind_hint,
                   bool keep_raw_json) {
  reader r{source};
  // One parser per thread, reused: a fresh one allocates its buffers for every document. Nothing
  // parsed here outlives the call (the view copies what it keeps).
  thread_local dom::parser parser;
  struct shrink_after_use {  // a rare huge run must not pin its buffers for the process lifetime
    ~shrink_after_use() {
      if (parser.capacity() > (std::size_t{1} << 20)) parser = dom::parser{};
    }
  } shrink;
  simdjson::padded_string padded(json);
  dom::element root;
  if (auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS)
    throw input_error(std::string(source) + ": not valid JSON: " + simdjson::error_message(err));
  auto doc = r.as_object(root, "(document)");

  run_view v;
  v.source = std::string(source);
  if (keep_raw_json) v.raw_json = simdjson::minify(root);
  auto api = r.string_member(doc, "apiVersion", "apiVersion");
  if (!api.empty() && api != "tekton.dev/v1")
    r.fail("apiVersion", "\"" + api + "\" is not supported; fetch the run as tekton.dev/v1");
  v.kind = detect_kind(r, doc, kind_hint);

  if (auto md = r.object_member(doc, "metadata", "metadata")) {
    v.name = r.string_member(*md, "name", "metadata.name");
    v.namespace_name = r.string_member(*md, "namespace", "metadata.namespace");
    v.uid = r.string_member(*md, "uid", "metadata.uid");
    if (auto l = r.object_member(*md, "labels", "metadata.labels")) v.labels = r.string_map(*l, "metadata.labels");
    if (auto a = r.object_member(*md, "annotations", "metadata.annotations"))
      v.annotations = r.string_map(*a, "metadata.annotations");
  }

  auto spec = r.object_member(doc, "spec", "spec");
  // A run without spec reads like one with an empty spec (Go's zero value).
  simdjson::padded_string empty_doc(std::string_view("{}"));
  dom::parser empty_parser;
  if (!spec) {
    dom::element empty_obj;
    if (empty_parser.parse(empty_doc).get(empty_obj) != simdjson::SUCCESS) r.fail("spec", "internal parser error");
    spec = dom::object(empty_obj);
  }
  v.params = r.params(*spec, "params", "spec.params");
  if (v.kind == run_kind::task_run) {
    v.service_account = r.string_member(*spec, "serviceAccountName", "spec.serviceAccountName");
    if (auto ref = r.object_member(*spec, "taskRef", "spec.taskRef")) {
      v.has_ref = true;
      v.ref_resolver = r.string_member(*ref, "resolver", "spec.taskRef.resolver");
    }
    v.run_spec = gospec::task_run_spec(*spec, r.failer());
  } else {
    if (auto t = r.object_member(*spec, "taskRunTemplate", "spec.taskRunTemplate"))
      v.service_account = r.string_member(*t, "serviceAccountName", "spec.taskRunTemplate.serviceAccountName");
    if (auto ref = r.object_member(*spec, "pipelineRef", "spec.pipelineRef")) {
      v.has_ref = true;
      v.ref_resolver = r.string_member(*ref, "resolver", "spec.pipelineRef.resolver");
    }
    v.run_spec = gospec::pipeline_run_spec(*spec, r.failer());
  }

  auto status = r.object_member(doc, "status", "status");
  if (!status) r.fail("status", "missing: the run has not been reconciled by Tekton yet");
  v.start_time = r.time(*status, "startTime", "status.startTime");
  v.completion_time = r.time(*status, "completionTime", "status.completionTime");
  if (auto conds = r.array_member(*status, "conditions", "status.conditions"); conds && conds->size() > 0) {
    auto first = r.as_object(conds->at(0).value_unsafe(), "status.conditions[0]");
    v.condition_status = r.string_member(first, "status", "status.conditions[0].status");
  }
  v.results = r.results(*status, "results", "status.results");
  v.steps = r.each_object<step_state>(*status, "steps", "status.steps", [&r](dom::object obj, const json_path& p) {
    step_state s;
    s.name = r.string_member(obj, "name", json_path(p, "name"));
    s.image_id = r.string_member(obj, "imageID", json_path(p, "imageID"));
    s.results = r.results(obj, "results", json_path(p, "results"));
    if (auto prov = r.object_member(obj, "provenance", json_path(p, "provenance"))) s.provenance = r.ref(*prov, json_path(json_path(p, "provenance"), "refSource"));
    return s;
  });
  v.sidecar_image_ids = r.each_object<std::string>(*status, "sidecars", "status.sidecars", [&r](dom::object obj, const json_path& p) {
    return r.string_member(obj, "imageID", json_path(p, "imageID"));
  });
  if (auto ts = r.object_member(*status, "taskSpec", "status.taskSpec")) {
    task_spec t;
    t.params = r.param_specs(*ts, "status.taskSpec.params");
    t.steps = r.each_object<step_spec>(*ts, "steps", "status.taskSpec.steps", [&r](dom::object obj, const json_path& p) {
      step_spec s;
      s.name = r.string_member(obj, "name", json_path(p, "name"));
      if (auto c = r.array_member(obj, "command", json_path(p, "command"))) s.command = r.string_array(*c, json_path(p, "command"));
      if (auto a = r.array_member(obj, "args", json_path(p, "args"))) s.args = r.string_array(*a, json_path(p, "args"));
      s.script = r.string_member(obj, "script", json_path(p, "script"));
      return s;
    });
    v.status_task_spec = std::move(t);
  }
  if (auto ps = r.object_member(*status, "pipelineSpec", "status.pipelineSpec")) {
    pipeline_spec p;
    p.params = r.param_specs(*ps, "status.pipelineSpec.params");
    p.tasks = pipeline_tasks(r, *ps, "tasks", "status.pipelineSpec.tasks");
    p.finally = pipeline_tasks(r, *ps, "finally", "status.pipelineSpec.finally");
    v.status_pipeline_spec = std::move(p);
  }
  if (auto prov = r.object_member(*status, "provenance", "status.provenance")) {
    v.provenance_ref = r.ref(*prov, "status.provenance.refSource");
    if (auto ff = r.object_member(*prov, "featureFlags", "status.provenance.featureFlags"))
      v.feature_flags = feature_flags_json(r, *ff, "status.provenance.featureFlags");
  }
  return v;
}

}  // namespace chainsd::provenance
