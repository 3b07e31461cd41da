#include "provenance/detail.hpp"

// Materials as upstream's pkg/chains/formats/slsa/extract and .../internal/material compute
// them: images of steps and sidecars, CHAINS-GIT_* sources, ARTIFACT_INPUTS; and the subjects.
namespace chainsd::provenance::detail {

std::string oci_uri(std::string_view image) {
  constexpr std::string_view pullable = "docker-pullable://", scheme = "oci://";
  if (image.starts_with(pullable)) image.remove_prefix(pullable.size());
  std::string uri;
  uri.reserve(scheme.size() + image.size());
  uri += scheme;
  uri += image;
  return uri;
}

namespace {
material_list image_materials(const run_view& tr, bool sidecars) {
  artifact_list list;
  std::size_t i = 0;
  // The path names the field in an error only: built then, not for every image.
  auto path = [&] { return (sidecars ? "status.sidecars[" : "status.steps[") + std::to_string(i) + "].imageID"; };
  auto add = [&](const std::string& image_id) {
    // Views into the imageID; the name and the digest are the only strings made.
    std::string_view id = image_id;
    auto at = id.find('@');
    if (at == std::string_view::npos || id.find('@', at + 1) != std::string_view::npos)
      throw input_error(tr.source + ": " + path() + ": expected imageID \"" + image_id + "\" to be separable by @");
    auto digest = id.substr(at + 1);
    auto colon = digest.find(':');
    if (colon == std::string_view::npos || digest.find(':', colon + 1) != std::string_view::npos)
      throw input_error(tr.source + ": " + path() + ": expected imageID \"" + image_id +
                        "\" to be separable by @ and :");
    digest_set d;
    d.emplace(digest.substr(0, colon), digest.substr(colon + 1));
    list.add(oci_uri(id.substr(0, at)), std::move(d));
  };
  if (sidecars) {
    for (; i < tr.sidecar_image_ids.size(); ++i) add(tr.sidecar_image_ids[i]);
  } else {
    for (; i < tr.steps.size(); ++i) add(tr.steps[i].image_id);
  }
  return std::move(list).items();
}

// CHAINS-GIT_COMMIT and CHAINS-GIT_URL as they are overridden: each later source wins.
struct git_source {
  std::string commit, url;

  void take(const std::string& name, const param_value& v) {
    if (name == "CHAINS-GIT_COMMIT") commit = string_val(v);
    else if (name == "CHAINS-GIT_URL") url = string_val(v);
  }
  void take_defaults(const std::vector<param_spec>& specs) {
    for (const auto& p : specs)
      if (p.default_value) take(p.name, *p.default_value);
  }
  void take_params(const std::vector<param>& params) {
    for (const auto& p : params) take(p.name, p.value);
  }
  void take_results(const std::vector<result>& results) {
    for (const auto& r : results) take(r.name, r.value);
  }

 private:
  static std::string string_val(const param_value& v) {
    return v.type == param_value::kind::string ? v.str : std::string();
  }
};
}  // namespace

material_list step_image_materials(const run_view& tr) { return image_materials(tr, false); }
material_list sidecar_image_materials(const run_view& tr) { return image_materials(tr, true); }

std::vector<result> step_results(const run_view& tr) {
  std::vector<result> out;
  for (const auto& s : tr.steps) out.insert(out.end(), s.results.begin(), s.results.end());
  return out;
}

material_list task_params_and_results_materials(const run_view& tr) {
  git_source git;  // taskSpec defaults < spec params < results
  if (tr.status_task_spec) git.take_defaults(tr.status_task_spec->params);
  git.take_params(tr.params);
  git.take_results(tr.results);
  // Upstream decorates the URL before testing it, so a commit without a URL yields "git+.git".
  const std::string url = spdx_git(git.url);
  artifact_list list;
  if (!git.commit.empty()) list.add(url, digest_set{{"sha1", git.commit}});
  list.add_all(materials_from_structured(tr.results));
  return std::move(list).items();
}

material_list step_actions_results_materials(const run_view& tr) {
  artifact_list list;
  for (const auto& s : tr.steps) {
    git_source git;
    git.take_results(s.results);
    const std::string url = spdx_git(git.url);
    if (!git.commit.empty()) list.add(url, digest_set{{"sha1", git.commit}});
  }
  list.add_all(materials_from_structured(step_results(tr)));
  return std::move(list).items();
}

material_list pipeline_params_and_results_materials(const run_view& pr, const child_index& children, bool deep) {
  artifact_list list;
  list.add_all(materials_from_structured(pr.results));
  git_source git;  // pipelineSpec defaults < spec params < results
  if (pr.status_pipeline_spec) {
    if (deep)
      for (const auto* tr : children.executed()) list.add_all(task_params_and_results_materials(*tr));
    git.take_defaults(pr.status_pipeline_spec->params);
  }
  git.take_params(pr.params);
  git.take_results(pr.results);
  if (!git.commit.empty() && !git.url.empty()) list.add(spdx_git(git.url), digest_set{{"sha1", git.commit}});
  return std::move(list).items();
}

namespace {
void subjects_from_object(const std::vector<result>& results, artifact_list& list) {
  for (const auto& img : extract_oci_images(results)) list.add(img.repository, digest_set{{"sha256", img.hex()}});
  for (const auto& t : extract_signable_targets(results))
    if (auto d = split_digest(t.digest)) list.add(t.uri, digest_set{{d->first, d->second}});
  for (const auto& s : extract_structured(results, "ARTIFACT_OUTPUTS"))
    if (auto d = split_digest(s.digest)) list.add(s.uri, digest_set{{d->first, d->second}});
}
}  // namespace

material_list subject_digests(const run_view& run, const child_index* children, bool deep) {
  artifact_list pr_list;
  subjects_from_object(run.results, pr_list);
  if (run.kind == run_kind::task_run || !deep || !children) return std::move(pr_list).items();
  artifact_list list;
  if (run.status_pipeline_spec)
    for (const auto* tr : children->executed()) {
      artifact_list tr_list;
      subjects_from_object(tr->results, tr_list);
      list.add_all(std::move(tr_list).items());
    }
  list.add_all(std::move(pr_list).items());
  return std::move(list).items();
}

material_list subjects_from_build_artifacts(const std::vector<result>& results) {
  artifact_list list;
  for (const auto& b : extract_build_artifacts(results))
    if (auto d = split_digest(b.digest)) list.add(b.uri, digest_set{{d->first, d->second}});
  for (const auto& img : extract_oci_images(results)) list.add(img.repository, digest_set{{"sha256", img.hex()}});
  return std::move(list).items();
}

}  // namespace chainsd::provenance::detail
