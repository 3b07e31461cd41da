// slsa/v2alpha3 and slsa/v2alpha4: in-toto Statement v1 with a SLSA Provenance v1.0 predicate
// (upstream pkg/chains/formats/slsa/{v2alpha3,v2alpha4} and internal/*). The two differ in
// subjects (v2alpha4 reads build artifacts and step results), byproducts (v2alpha4 drops
// image/build-artifact results, names them with the run name, adds step results) and resolved
// dependencies (v2alpha4 adds step-action results and remote StepActions).

#include <boost/json.hpp>

#include <unordered_set>

#include "config/config.hpp"
#include "provenance/detail.hpp"

namespace chainsd::provenance::detail {
namespace {

struct dependency_list {
  std::vector<resource_descriptor> items;

  void add_materials(const material_list& mats, const std::string& name) {
    for (const auto& [uri, digest] : mats) items.push_back({name, uri, digest, std::nullopt, {}});
  }

  // RemoveDuplicateResolvedDependencies: same uri, digest and content is a duplicate unless it is
  // the task/pipeline itself or a StepAction.
  void remove_duplicates() {
    std::unordered_set<std::string> seen;
    std::vector<resource_descriptor> out;
    out.reserve(items.size());
    for (auto& d : items) {
      std::string key = d.uri;
      key += '\0';
      for (const auto& [alg, hex] : d.digest) {
        key += alg;
        key += '\x01';
        key += hex;
        key += '\x02';
      }
      key += '\0';
      if (d.content) key += *d.content;
      bool keep_anyway = d.name == "task" || d.name == "pipeline" || d.name.rfind("stepAction/", 0) == 0;
      if (!seen.insert(key).second && !keep_anyway) continue;
      out.push_back(std::move(d));
    }
    items = std::move(out);
  }
};

void remote_step_actions(const run_view& tr, dependency_list& deps) {
  for (const auto& s : tr.steps)
    if (s.provenance) deps.items.push_back({"stepAction/" + s.name, s.provenance->uri, s.provenance->digest,
                                            std::nullopt, {}});
}

std::vector<resource_descriptor> task_run_dependencies(const run_view& tr, bool with_step_actions) {
  dependency_list deps;
  if (tr.provenance_ref) deps.items.push_back({"task", tr.provenance_ref->uri, tr.provenance_ref->digest, std::nullopt, {}});
  material_list images = step_image_materials(tr);
  auto sidecars = sidecar_image_materials(tr);
  images.insert(images.end(), sidecars.begin(), sidecars.end());
  deps.add_materials(images, "");
  if (with_step_actions) {
    deps.add_materials(step_actions_results_materials(tr), "inputs/result");
    remote_step_actions(tr, deps);
  }
  auto mats = task_params_and_results_materials(tr);
  deps.add_materials(mats, "inputs/result");
  deps.add_materials(mats, "pipelineResource");
  deps.remove_duplicates();
  return std::move(deps.items);
}

std::vector<resource_descriptor> pipeline_run_dependencies(const run_view& pr, const child_index& idx, bool deep,
                                                           bool with_step_actions, bool tekton_build_type) {
  dependency_list deps;
  if (pr.provenance_ref)
    deps.items.push_back({"pipeline", pr.provenance_ref->uri, pr.provenance_ref->digest, std::nullopt, {}});
  for (const auto* t : idx.tasks())
    for (const auto* tr : idx.for_task(t->name)) {
      if (!tr->completion_time) continue;
      if (tekton_build_type) {
        // Upstream stores json.Marshal of the whole TaskRun here; we store the TaskRun document
        // as we received it (minified), which carries the same information.
        resource_descriptor d{"pipelineTask", {}, {}, tr->raw_json, {}};
        if (tr->provenance_ref) {
          d.uri = tr->provenance_ref->uri;
          d.digest = tr->provenance_ref->digest;
        }
        deps.items.push_back(std::move(d));
      } else if (tr->provenance_ref) {
        deps.items.push_back({"pipelineTask", tr->provenance_ref->uri, tr->provenance_ref->digest, std::nullopt, {}});
      }
      material_list images = step_image_materials(*tr);
      auto sidecars = sidecar_image_materials(*tr);
      images.insert(images.end(), sidecars.begin(), sidecars.end());
      if (with_step_actions) remote_step_actions(*tr, deps);
      deps.add_materials(images, "");
    }
  if (deep && with_step_actions)
    for (const auto* tr : idx.executed()) deps.add_materials(step_actions_results_materials(*tr), "inputs/result");
  deps.add_materials(pipeline_params_and_results_materials(pr, idx, deep), "inputs/result");
  deps.remove_duplicates();
  return std::move(deps.items);
}

bj::object external_parameters(const run_view& run) {
  bj::object o(doc_sp());
  if (run.is_remote() && run.provenance_ref) {
    // Upstream takes "the first" digest of a Go map (random); we take the smallest algorithm.
    std::string ref;
    if (!run.provenance_ref->digest.empty()) {
      const auto& [alg, hex] = *run.provenance_ref->digest.begin();
      ref = alg + ":" + hex;
    }
    o["buildConfigSource"] = bj::object(
        {{"ref", ref}, {"repository", run.provenance_ref->uri}, {"path", run.provenance_ref->entry_point}}, doc_sp());
  }
  o["runSpec"] = run.run_spec;
  return o;
}

bj::object internal_parameters(const run_view& run, bool tekton_build_type) {
  bj::object o(doc_sp());
  if (run.feature_flags) o["tekton-pipelines-feature-flags"] = *run.feature_flags;
  if (tekton_build_type) {
    auto map_json = [](const std::optional<std::map<std::string, std::string>>& m) -> bj::value {
      if (!m) return nullptr;
      bj::object x(doc_sp());
      for (const auto& [k, v] : *m) x[k] = v;
      return x;
    };
    o["labels"] = map_json(run.labels);
    o["annotations"] = map_json(run.annotations);
  }
  return o;
}

resource_descriptor byproduct(std::string name, const param_value& v) {
  return {std::move(name), {}, {}, go_json(v), "application/json"};
}

bool is_oci_image_result(const std::string& name) {
  auto ends = [&](std::string_view s) { return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0; };
  return ends("IMAGE_URL") || ends("IMAGE_DIGEST") || name == "IMAGES";
}

// results.GetResultsWithoutBuildArtifacts
void results_without_build_artifacts(const std::string& prefix, const std::vector<result>& results,
                                     std::vector<resource_descriptor>& out) {
  for (const auto& r : results) {
    auto check = check_build_artifact(r);
    if (check.error || check.is_build_artifact || is_oci_image_result(r.name)) continue;
    out.push_back(byproduct(prefix + r.name, r.value));
  }
}

void alpha4_task_byproducts(const run_view& tr, std::vector<resource_descriptor>& out) {
  results_without_build_artifacts("taskRunResults/" + tr.name + "/", tr.results, out);
  results_without_build_artifacts("stepResults/" + tr.name + "/", step_results(tr), out);
}

material_list alpha4_task_subjects(const run_view& tr) {
  artifact_list list;
  for (const auto& s : tr.steps) list.add_all(subjects_from_build_artifacts(s.results));
  list.add_all(subjects_from_build_artifacts(tr.results));
  return std::move(list).items();
}

}  // namespace

std::string make_slsa_v2(bool alpha4, const run_view& run, const std::vector<run_view>& children,
                         const std::string& builder_id, const std::string& build_type_in, bool deep) {
  const std::string build_type = build_type_in.empty() ? std::string(config::build_type_slsa) : build_type_in;
  bool tekton_build_type = build_type == config::build_type_slsa_tekton;
  if (!tekton_build_type && build_type != config::build_type_slsa)
    throw input_error("unsupported buildType " + build_type);

  material_list subjects;
  std::vector<resource_descriptor> deps;
  std::vector<resource_descriptor> byproducts;
  if (run.kind == run_kind::task_run) {
    deps = task_run_dependencies(run, alpha4);
    if (alpha4) {
      alpha4_task_byproducts(run, byproducts);
      subjects = alpha4_task_subjects(run);
    } else {
      for (const auto& r : run.results) byproducts.push_back(byproduct("taskRunResults/" + r.name, r.value));
      subjects = subject_digests(run, nullptr, deep);
    }
  } else {
    child_index idx(run, children);
    deps = pipeline_run_dependencies(run, idx, deep, alpha4, tekton_build_type);
    if (alpha4) {
      results_without_build_artifacts("pipelineRunResults/" + run.name + "/", run.results, byproducts);
      artifact_list list;
      list.add_all(subjects_from_build_artifacts(run.results));
      if (deep)
        for (const auto* tr : idx.executed()) {
          alpha4_task_byproducts(*tr, byproducts);
          list.add_all(alpha4_task_subjects(*tr));
        }
      subjects = std::move(list).items();
    } else {
      for (const auto& r : run.results) byproducts.push_back(byproduct("pipelineRunResults/" + r.name, r.value));
      subjects = subject_digests(run, &idx, deep);
    }
  }

  bj::object build_definition(doc_sp());
  build_definition["buildType"] = build_type;
  build_definition["externalParameters"] = external_parameters(run);
  build_definition["internalParameters"] = internal_parameters(run, tekton_build_type);
  if (!deps.empty()) {
    bj::array a(doc_sp());
    for (const auto& d : deps) a.push_back(descriptor_json(d));
    build_definition["resolvedDependencies"] = std::move(a);
  }
  bj::object run_details(doc_sp());
  bj::object builder(doc_sp());
  if (!builder_id.empty()) builder["id"] = builder_id;
  run_details["builder"] = std::move(builder);
  bj::object metadata(doc_sp());
  if (!run.uid.empty()) metadata["invocationId"] = run.uid;
  if (run.start_time) metadata["startedOn"] = *run.start_time;
  if (run.completion_time) metadata["finishedOn"] = *run.completion_time;
  run_details["metadata"] = std::move(metadata);
  if (!byproducts.empty()) {
    bj::array a(doc_sp());
    for (const auto& d : byproducts) a.push_back(descriptor_json(d));
    run_details["byproducts"] = std::move(a);
  }
  bj::object pred(doc_sp());
  pred["buildDefinition"] = std::move(build_definition);
  pred["runDetails"] = std::move(run_details);

  std::string out = R"({"_type":"https://in-toto.io/Statement/v1")";
  if (!subjects.empty()) {
    out += R"(,"subject":)";
    write_subjects(out, subjects);
  }
  out += R"(,"predicateType":"https://slsa.dev/provenance/v1","predicate":)";
  write_sorted(out, pred);
  out += '}';
  return out;
}

}  // namespace chainsd::provenance::detail
