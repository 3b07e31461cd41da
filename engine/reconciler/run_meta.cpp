#include "reconciler/run_meta.hpp"

#include <simdjson.h>

namespace chainsd::reconciler {

bool run_meta::reconciled() const {
  auto* v = annotation(signed_annotation);
  return v && (*v == "true" || *v == "failed");
}

const std::string* run_meta::annotation(std::string_view k) const {
  auto it = chains_annotations.find(std::string(k));
  return it == chains_annotations.end() ? nullptr : &it->second;
}

bool is_upstream_finalizer(std::string_view f) {
  for (auto u : upstream_finalizers)
    if (f == u) return true;
  return false;
}

bool run_meta::has_upstream_finalizer() const {
  for (const auto& f : finalizers)
    if (is_upstream_finalizer(f)) return true;
  return false;
}

namespace {

std::string str_or_empty(simdjson::dom::element e, std::string_view key) {
  std::string_view v;
  if (e[key].get(v) == simdjson::SUCCESS) return std::string(v);
  return {};
}

}  // namespace

run_meta parse_run_meta(std::string_view json, run_kind kind) {
  // One parser per thread, reused: its buffers grow to the largest run seen and stay.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(json.data(), json.size()).get(doc))
    throw meta_error(std::string("run JSON is invalid: ") + simdjson::error_message(err));
  if (!doc.is_object()) throw meta_error("run JSON is not an object");

  run_meta m;
  m.kind = kind;
  m.api_version = str_or_empty(doc, "apiVersion");
  if (m.api_version.empty()) m.api_version = "tekton.dev/v1";
  simdjson::dom::element md;
  if (doc["metadata"].get(md) != simdjson::SUCCESS || !md.is_object()) throw meta_error("run has no metadata");
  m.namespace_name = str_or_empty(md, "namespace");
  m.name = str_or_empty(md, "name");
  m.uid = str_or_empty(md, "uid");
  m.resource_version = str_or_empty(md, "resourceVersion");
  if (m.name.empty() || m.uid.empty()) throw meta_error("run metadata lacks name or uid");
  simdjson::dom::element dt;
  m.deleting = md["deletionTimestamp"].get(dt) == simdjson::SUCCESS && !dt.is_null();

  simdjson::dom::object ann;
  if (md["annotations"].get(ann) == simdjson::SUCCESS) {
    for (auto field : ann) {
      std::string_view v;
      if (field.value.get(v) != simdjson::SUCCESS) continue;
      m.annotations_bytes += field.key.size() + v.size();
      if (field.key.substr(0, annotation_prefix.size()) != annotation_prefix) continue;
      m.chains_annotations.emplace(std::string(field.key), std::string(v));
    }
  }
  simdjson::dom::array fin;
  if (md["finalizers"].get(fin) == simdjson::SUCCESS) {
    for (auto f : fin) {
      std::string_view v;
      if (f.get(v) == simdjson::SUCCESS) m.finalizers.emplace_back(v);
    }
  }
  simdjson::dom::object labels;
  if (md["labels"].get(labels) == simdjson::SUCCESS) {
    std::string_view v;
    if (labels["tekton.dev/pipelineRun"].get(v) == simdjson::SUCCESS) m.pipeline_run = std::string(v);
  }

  simdjson::dom::element spec;
  if (doc["spec"].get(spec) == simdjson::SUCCESS && spec.is_object()) m.managed_by = str_or_empty(spec, "managedBy");

  simdjson::dom::element status;
  if (doc["status"].get(status) == simdjson::SUCCESS && status.is_object()) {
    simdjson::dom::element ct;
    m.has_completion_time = status["completionTime"].get(ct) == simdjson::SUCCESS && !ct.is_null();
    simdjson::dom::array conds;
    if (status["conditions"].get(conds) == simdjson::SUCCESS) {
      for (auto c : conds) {
        std::string_view type, st;
        if (c["type"].get(type) != simdjson::SUCCESS || type != "Succeeded") continue;
        if (c["status"].get(st) == simdjson::SUCCESS) m.done = (st == "True" || st == "False");
      }
    }
    simdjson::dom::array children;
    if (kind == run_kind::pipeline_run && status["childReferences"].get(children) == simdjson::SUCCESS) {
      for (auto c : children) {
        std::string_view k, n;
        if (c["name"].get(n) != simdjson::SUCCESS) continue;
        if (c["kind"].get(k) == simdjson::SUCCESS && k != "TaskRun") continue;
        m.child_taskruns.emplace_back(n);
      }
    }
  }
  return m;
}

}  // namespace chainsd::reconciler
