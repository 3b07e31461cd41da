#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <span>

#include "provenance/detail.hpp"
#include "provenance/encoding.hpp"

namespace chainsd::provenance::detail {
namespace {

void write_number(std::string& out, double d) {
  // protojson writes a Struct number as the shortest float64 text; integral values have no exponent
  // below 1e21.
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e21) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed, 0);
    out.append(buf, r.ptr);
    return;
  }
  if (!std::isfinite(d)) {  // not representable in JSON; protojson refuses, we write null
    out += "null";
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, r.ptr);
}

}  // namespace

void write_sorted(std::string& out, const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::null: out += "null"; return;
    case bj::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
    case bj::kind::int64: write_number(out, static_cast<double>(v.get_int64())); return;
    case bj::kind::uint64: write_number(out, static_cast<double>(v.get_uint64())); return;
    case bj::kind::double_: write_number(out, v.get_double()); return;
    case bj::kind::string: append_json_string(out, v.get_string()); return;
    case bj::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        write_sorted(out, e);
      }
      out += ']';
      return;
    }
    case bj::kind::object: {
      const auto& o = v.get_object();
      // Most objects are small: sort pointers on the stack, the heap only for big ones.
      std::array<const bj::key_value_pair*, 16> small;
      std::vector<const bj::key_value_pair*> big;
      const bj::key_value_pair** members = small.data();
      if (o.size() > small.size()) {
        big.resize(o.size());
        members = big.data();
      }
      std::size_t n = 0;
      for (const auto& kv : o) members[n++] = &kv;
      std::sort(members, members + n, [](auto* a, auto* b) { return a->key() < b->key(); });
      out += '{';
      bool first = true;
      for (auto* kv : std::span(members, n)) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, kv->key());
        out += ':';
        write_sorted(out, kv->value());
      }
      out += '}';
      return;
    }
  }
}

namespace {
thread_local bj::storage_ptr* current_storage = nullptr;
}  // namespace

bj::storage_ptr doc_sp() { return current_storage ? *current_storage : bj::storage_ptr(); }

document_arena::document_arena() : previous_(current_storage) {
  current_storage = &sp_;
}

document_arena::~document_arena() { current_storage = previous_; }

bj::object digest_json(const digest_set& d) {
  bj::object o(doc_sp());
  for (const auto& [alg, hex] : d) o[alg] = hex;
  return o;
}

void write_descriptor(std::string& out, const resource_descriptor& d) {
  out += '{';
  bool first = true;
  auto field = [&](std::string_view key) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, key);
    out += ':';
  };
  if (!d.name.empty()) {
    field("name");
    append_json_string(out, d.name);
  }
  if (!d.uri.empty()) {
    field("uri");
    append_json_string(out, d.uri);
  }
  if (!d.digest.empty()) {
    field("digest");
    write_sorted(out, digest_json(d.digest));
  }
  if (d.content && !d.content->empty()) {
    field("content");
    append_json_string(out, base64_encode(*d.content));
  }
  if (!d.media_type.empty()) {
    field("mediaType");
    append_json_string(out, d.media_type);
  }
  out += '}';
}

bj::object descriptor_json(const resource_descriptor& d) {
  bj::object o(doc_sp());
  if (!d.name.empty()) o["name"] = d.name;
  if (!d.uri.empty()) o["uri"] = d.uri;
  if (!d.digest.empty()) o["digest"] = digest_json(d.digest);
  if (d.content && !d.content->empty()) o["content"] = base64_encode(*d.content);
  if (!d.media_type.empty()) o["mediaType"] = d.media_type;
  return o;
}

void write_subjects(std::string& out, const material_list& subjects) {
  out += '[';
  bool first = true;
  for (const auto& [name, digest] : subjects) {
    if (!first) out += ',';
    first = false;
    write_descriptor(out, resource_descriptor{name, {}, digest, std::nullopt, {}});
  }
  out += ']';
}

bj::value value_json(const param_value& v) {
  switch (v.type) {
    case param_value::kind::string: return bj::value(v.str, doc_sp());
    case param_value::kind::array: {
      bj::array a(doc_sp());
      for (const auto& s : v.array) a.emplace_back(s);
      return a;
    }
    case param_value::kind::object: {
      bj::object o(doc_sp());
      for (const auto& [k, s] : v.object) o[k] = s;
      return o;
    }
  }
  return nullptr;
}

std::string go_json(const param_value& v) {
  std::string out;
  switch (v.type) {
    case param_value::kind::string: append_go_json_string(out, v.str); break;
    case param_value::kind::array:
      out += '[';
      for (std::size_t i = 0; i < v.array.size(); ++i) {
        if (i) out += ',';
        append_go_json_string(out, v.array[i]);
      }
      out += ']';
      break;
    case param_value::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, s] : v.object) {  // std::map: sorted like Go's map encoding
        if (!first) out += ',';
        first = false;
        append_go_json_string(out, k);
        out += ':';
        append_go_json_string(out, s);
      }
      out += '}';
      break;
    }
  }
  return out;
}

child_index::child_index(const run_view& pr, const std::vector<run_view>& children) {
  for (const auto& c : children)
    if (auto task = c.label("tekton.dev/pipelineTask")) by_task_[*task].push_back(&c);
  if (pr.status_pipeline_spec) {
    for (const auto& t : pr.status_pipeline_spec->tasks) tasks_.push_back(&t);
    regular_ = tasks_.size();
    for (const auto& t : pr.status_pipeline_spec->finally) tasks_.push_back(&t);
  }
}

const std::vector<const run_view*>& child_index::for_task(const std::string& task) const {
  static const std::vector<const run_view*> none;
  auto it = by_task_.find(task);
  return it == by_task_.end() ? none : it->second;
}

std::vector<const run_view*> child_index::executed() const {
  std::vector<const run_view*> out;
  for (const auto* t : tasks_)
    for (const auto* c : for_task(t->name))
      if (c->completion_time) out.push_back(c);
  return out;
}

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

std::string string_val(const param_value& v) { return v.type == param_value::kind::string ? v.str : std::string(); }
}  // namespace

material_list step_image_materials(const run_view& tr) { return image_materials(tr, false); }
material_list sidecar_image_materials(const run_view& tr) { return image_materials(tr, true); }

std::vector<result> step_results(const run_view& tr) {
  std::vector<result> out;
  for (const auto& s : tr.steps) out.insert(out.end(), s.results.begin(), s.results.end());
  return out;
}

material_list task_params_and_results_materials(const run_view& tr) {
  std::string commit, url;
  if (tr.status_task_spec)
    for (const auto& p : tr.status_task_spec->params) {
      if (!p.default_value) continue;
      if (p.name == "CHAINS-GIT_COMMIT") commit = string_val(*p.default_value);
      else if (p.name == "CHAINS-GIT_URL") url = string_val(*p.default_value);
    }
  for (const auto& p : tr.params) {
    if (p.name == "CHAINS-GIT_COMMIT") commit = string_val(p.value);
    else if (p.name == "CHAINS-GIT_URL") url = string_val(p.value);
  }
  for (const auto& r : tr.results) {
    if (r.name == "CHAINS-GIT_COMMIT") commit = string_val(r.value);
    if (r.name == "CHAINS-GIT_URL") url = string_val(r.value);
  }
  // Upstream decorates the URL before testing it, so a commit without a URL yields "git+.git".
  url = spdx_git(url);
  artifact_list list;
  if (!commit.empty()) list.add(url, digest_set{{"sha1", commit}});
  list.add_all(materials_from_structured(tr.results));
  return std::move(list).items();
}

material_list step_actions_results_materials(const run_view& tr) {
  artifact_list list;
  for (const auto& s : tr.steps) {
    std::string commit, url;
    for (const auto& r : s.results) {
      if (r.name == "CHAINS-GIT_COMMIT") commit = string_val(r.value);
      else if (r.name == "CHAINS-GIT_URL") url = string_val(r.value);
    }
    url = spdx_git(url);
    if (!commit.empty()) list.add(url, digest_set{{"sha1", commit}});
  }
  list.add_all(materials_from_structured(step_results(tr)));
  return std::move(list).items();
}

material_list pipeline_params_and_results_materials(const run_view& pr, const child_index& children, bool deep) {
  artifact_list list;
  list.add_all(materials_from_structured(pr.results));
  std::string commit, url;
  if (pr.status_pipeline_spec) {
    if (deep)
      for (const auto* tr : children.executed()) list.add_all(task_params_and_results_materials(*tr));
    for (const auto& p : pr.status_pipeline_spec->params) {
      if (!p.default_value) continue;
      if (p.name == "CHAINS-GIT_COMMIT") commit = string_val(*p.default_value);
      else if (p.name == "CHAINS-GIT_URL") url = string_val(*p.default_value);
    }
  }
  for (const auto& p : pr.params) {
    if (p.name == "CHAINS-GIT_COMMIT") commit = string_val(p.value);
    else if (p.name == "CHAINS-GIT_URL") url = string_val(p.value);
  }
  for (const auto& r : pr.results) {
    if (r.name == "CHAINS-GIT_COMMIT") commit = string_val(r.value);
    if (r.name == "CHAINS-GIT_URL") url = string_val(r.value);
  }
  if (!commit.empty() && !url.empty()) list.add(spdx_git(url), digest_set{{"sha1", commit}});
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
