// slsa/v1 (alias in-toto): in-toto Statement v0.1 with a SLSA Provenance v0.2 predicate
// (upstream pkg/chains/formats/slsa/v1). The predicate is what Go's encoding/json writes for the
// in-toto-golang v0.2 structs, read back into a protobuf Struct; so struct fields without
// omitempty appear even when empty (configSource {}, parameters {}, completeness, reproducible,
// step "arguments"/"annotations" as null).

#include <boost/json.hpp>

#include <optional>

#include "provenance/detail.hpp"
#include "provenance/encoding.hpp"

namespace chainsd::provenance::detail {
namespace {

constexpr std::string_view zero_time = "0001-01-01T00:00:00Z";  // Go's zero time.Time

bj::object config_source(const run_view& run) {
  bj::object o(doc_sp());
  if (run.provenance_ref) {
    if (!run.provenance_ref->uri.empty()) o["uri"] = run.provenance_ref->uri;
    if (!run.provenance_ref->digest.empty()) o["digest"] = digest_json(run.provenance_ref->digest);
    if (!run.provenance_ref->entry_point.empty()) o["entryPoint"] = run.provenance_ref->entry_point;
  }
  return o;
}

// attest.Invocation
bj::object invocation(const run_view& run, const std::vector<param>& params, const std::vector<param_spec>& specs) {
  bj::object inv(doc_sp());
  inv["configSource"] = config_source(run);
  bj::object ps(doc_sp());
  for (const auto& s : specs)
    if (s.default_value) ps[s.name] = value_json(*s.default_value);
  for (const auto& p : params) ps[p.name] = value_json(p.value);
  inv["parameters"] = std::move(ps);
  bj::object env(doc_sp());
  if (run.annotations) {
    bj::object a(doc_sp());
    for (const auto& [k, v] : *run.annotations) {
      if (k == "kubectl.kubernetes.io/last-applied-configuration" || k.rfind("chains.tekton.dev/", 0) == 0) continue;
      a[k] = v;
    }
    if (!a.empty()) env["annotations"] = std::move(a);
  }
  if (run.labels && !run.labels->empty()) {
    bj::object l(doc_sp());
    for (const auto& [k, v] : *run.labels) l[k] = v;
    env["labels"] = std::move(l);
  }
  if (!env.empty()) inv["environment"] = std::move(env);
  return inv;
}

// attest.Step's entryPoint: the script, else the command joined by spaces.
std::string step_entry_point(const step_spec& spec) {
  if (!spec.script.empty()) return spec.script;
  std::string entry;
  for (std::size_t i = 0; i < spec.command.size(); ++i) {
    if (i) entry += ' ';
    entry += spec.command[i];
  }
  return entry;
}

// attest.Step
bj::object step(const step_spec& spec, const step_state& state) {
  bj::object o(doc_sp());
  o["entryPoint"] = step_entry_point(spec);
  if (spec.args) {
    bj::array a(doc_sp());
    for (const auto& s : *spec.args) a.emplace_back(s);
    o["arguments"] = std::move(a);
  } else {
    o["arguments"] = nullptr;  // a nil []string in an interface{}: written as null
  }
  o["environment"] = bj::object({{"image", oci_uri(state.image_id)}, {"container", state.name}}, doc_sp());
  o["annotations"] = nullptr;
  return o;
}

// The same attest.Step written directly, keys in protojson's (sorted) order: a TaskRun's steps are
// most of its predicate, and building them as a tree first costs more than writing them.
void write_step(std::string& out, const step_spec& spec, const step_state& state) {
  out += R"({"annotations":null,"arguments":)";
  if (spec.args) {
    out += '[';
    for (std::size_t i = 0; i < spec.args->size(); ++i) {
      if (i) out += ',';
      append_json_string(out, (*spec.args)[i]);
    }
    out += ']';
  } else {
    out += "null";
  }
  out += R"(,"entryPoint":)";
  append_json_string(out, step_entry_point(spec));
  out += R"(,"environment":{"container":)";
  append_json_string(out, state.name);
  out += R"(,"image":)";
  append_json_string(out, oci_uri(state.image_id));
  out += "}}";
}

void write_task_run_build_config(std::string& out, const run_view& tr) {
  static const step_spec empty_step;
  out += R"({"steps":[)";
  bool first = true;
  for (const auto& s : tr.steps) {
    const step_spec* spec = &empty_step;
    if (tr.status_task_spec)
      for (const auto& ts : tr.status_task_spec->steps)
        if (ts.name == s.name) {
          spec = &ts;
          break;
        }
    if (!first) out += ',';
    first = false;
    write_step(out, *spec, s);
  }
  out += "]}";
}

void write_materials(std::string& out, const material_list& mats) {
  out += '[';
  bool first = true;
  for (const auto& [uri, digest] : mats) {
    if (!first) out += ',';
    first = false;
    out += '{';
    if (!digest.empty()) {
      out += R"("digest":{)";
      bool f = true;
      for (const auto& [alg, hex] : digest) {  // std::map: byte order, as protojson sorts
        if (!f) out += ',';
        f = false;
        append_json_string(out, alg);
        out += ':';
        append_json_string(out, hex);
      }
      out += '}';
    }
    if (!uri.empty()) {
      if (!digest.empty()) out += ',';
      out += R"("uri":)";
      append_json_string(out, uri);
    }
    out += '}';
  }
  out += ']';
}

bj::object metadata(const run_view& run) {
  bj::object m(doc_sp());
  if (run.start_time) m["buildStartedOn"] = *run.start_time;
  if (run.completion_time) m["buildFinishedOn"] = *run.completion_time;
  m["completeness"] = bj::object({{"parameters", false}, {"environment", false}, {"materials", false}}, doc_sp());
  auto r = run.label("chains.tekton.dev/reproducible");
  m["reproducible"] = r && *r == "true";
  return m;
}

// v1.PipelineTaskResultRefs: the pipeline tasks whose results a task references.
std::vector<std::string> result_ref_tasks(const pipeline_task& t) {
  std::vector<std::string> out;
  for (const auto& s : t.reference_strings) {
    std::size_t pos = 0;
    while ((pos = s.find("$(tasks.", pos)) != std::string::npos) {
      auto start = pos + 8;
      auto dot = s.find('.', start);
      pos = start;
      if (dot == std::string::npos || dot == start) continue;
      auto name = s.substr(start, dot - start);
      if (name.find_first_of(")$( ") != std::string::npos) continue;
      auto rest = std::string_view(s).substr(dot + 1);
      if (rest.substr(0, 7) == "results" && rest.size() > 7 && (rest[7] == '.' || rest[7] == '[') &&
          s.find(')', dot) != std::string::npos)
        out.push_back(std::move(name));
    }
  }
  return out;
}

std::string condition_text(const std::string& status) {
  if (status == "False") return "Failed";
  if (status == "True") return "Succeeded";
  if (status == "Unknown") return "Running";
  return {};
}

bj::value pipeline_run_build_config(const run_view& pr, const child_index& children) {
  if (!pr.status_pipeline_spec) return bj::object({{"tasks", nullptr}}, doc_sp());
  bj::array tasks(doc_sp());
  std::string last;
  const auto& all = children.tasks();
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& t = *all[i];
    const auto& runs = children.for_task(t.name);
    if (runs.empty()) continue;
    for (const auto* tr : runs) {
      if (!tr->completion_time) continue;
      // Upstream skips children whose recorded steps do not line up with their spec.
      if (!tr->status_task_spec) continue;
      const auto& specs = tr->status_task_spec->steps;
      if (specs.size() != tr->steps.size()) continue;
      bool valid = true;
      bj::array steps(doc_sp());
      for (std::size_t k = 0; k < specs.size(); ++k) {
        if (tr->steps[k].name.rfind("unnamed-", 0) == 0 && !specs[k].name.empty()) {
          valid = false;
          break;
        }
        steps.push_back(step(specs[k], tr->steps[k]));
      }
      if (!valid) continue;

      std::vector<std::string> after = t.run_after;
      for (auto& ref : result_ref_tasks(t))
        if (std::find(after.begin(), after.end(), ref) == after.end()) after.push_back(std::move(ref));
      if (after.empty() && i >= children.regular_task_count() && !last.empty()) after.push_back(last);

      bj::object ta(doc_sp());
      if (!t.name.empty()) ta["name"] = t.name;
      if (!after.empty()) {
        bj::array a(doc_sp());
        for (const auto& s : after) a.emplace_back(s);
        ta["after"] = std::move(a);
      }
      ta["ref"] = t.task_ref ? bj::object(*t.task_ref, doc_sp()) : bj::object(doc_sp());
      ta["startedOn"] = tr->start_time ? *tr->start_time : std::string(zero_time);
      ta["finishedOn"] = *tr->completion_time;
      if (!pr.service_account.empty()) ta["serviceAccountName"] = pr.service_account;
      if (auto st = condition_text(tr->condition_status); !st.empty()) ta["status"] = st;
      if (!steps.empty()) ta["steps"] = std::move(steps);
      ta["invocation"] = invocation(*tr, tr->params, tr->status_task_spec->params);
      if (!tr->results.empty()) {
        bj::array rs(doc_sp());
        for (const auto& r : tr->results) {
          bj::object ro(doc_sp());
          ro["name"] = r.name;
          ro["value"] = value_json(r.value);
          if (!r.type.empty()) ro["type"] = r.type;
          rs.push_back(std::move(ro));
        }
        ta["results"] = std::move(rs);
      }
      tasks.push_back(std::move(ta));
    }
    if (i < children.regular_task_count()) last = t.name;
  }
  bj::object config(doc_sp());
  config["tasks"] = std::move(tasks);
  return config;
}

}  // namespace

std::string make_slsa_v1(const run_view& run, const std::vector<run_view>& children, const std::string& builder_id,
                         bool deep) {
  material_list subjects;
  material_list mats;
  bj::object inv(doc_sp());
  std::optional<bj::value> pipeline_build_config;
  if (run.kind == run_kind::task_run) {
    subjects = subject_digests(run, nullptr, deep);
    artifact_list list;
    list.add_all(step_image_materials(run));
    list.add_all(sidecar_image_materials(run));
    list.add_all(task_params_and_results_materials(run));
    mats = std::move(list).items();
    inv = invocation(run, run.params, run.status_task_spec ? run.status_task_spec->params : std::vector<param_spec>{});
  } else {
    child_index idx(run, children);
    subjects = subject_digests(run, &idx, deep);
    artifact_list list;
    if (run.provenance_ref) list.add(run.provenance_ref->uri, run.provenance_ref->digest);
    if (run.status_pipeline_spec)
      for (const auto* t : idx.tasks())
        for (const auto* tr : idx.for_task(t->name)) {
          if (!tr->completion_time) continue;
          list.add_all(step_image_materials(*tr));
          list.add_all(sidecar_image_materials(*tr));
          if (tr->provenance_ref) list.add(tr->provenance_ref->uri, tr->provenance_ref->digest);
        }
    list.add_all(pipeline_params_and_results_materials(run, idx, deep));
    mats = std::move(list).items();
    inv = invocation(run, run.params, run.status_pipeline_spec ? run.status_pipeline_spec->params
                                                               : std::vector<param_spec>{});
    pipeline_build_config = pipeline_run_build_config(run, idx);
  }

  std::string out = R"({"_type":"https://in-toto.io/Statement/v0.1")";
  if (!subjects.empty()) {
    out += R"(,"subject":)";
    write_subjects(out, subjects);
  }
  out += R"(,"predicateType":"https://slsa.dev/provenance/v0.2","predicate":)";
  // The predicate's keys in sorted order (uppercase sorts first): buildConfig, buildType,
  // builder, invocation, materials, metadata.
  out += R"({"buildConfig":)";
  if (pipeline_build_config) write_sorted(out, *pipeline_build_config);
  else write_task_run_build_config(out, run);
  out += R"(,"buildType":)";
  append_json_string(out, run.gvk());
  out += R"(,"builder":{"id":)";
  append_json_string(out, builder_id);
  out += R"(},"invocation":)";
  write_sorted(out, inv);
  if (!mats.empty()) {
    out += R"(,"materials":)";
    write_materials(out, mats);
  }
  out += R"(,"metadata":)";
  write_sorted(out, metadata(run));
  out += "}}";
  return out;
}

}  // namespace chainsd::provenance::detail
