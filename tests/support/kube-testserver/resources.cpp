#include "resources.hpp"

#include <algorithm>
#include <set>

namespace chainsd::testserver {
namespace {

json::array string_array(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

json::array all_verbs() {
  return {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
}

}  // namespace

resource_registry::resource_registry() {
  auto add = [this](resource_type t) { types_.push_back(std::move(t)); };
  add({"", "v1", "namespaces", "Namespace", "namespace", false, false, false, {"ns"}, {}});
  add({"", "v1", "configmaps", "ConfigMap", "configmap", true, false, false, {"cm"}, {}});
  add({"", "v1", "secrets", "Secret", "secret", true, false, false, {}, {}});
  add({"", "v1", "serviceaccounts", "ServiceAccount", "serviceaccount", true, false, false, {"sa"},
       {}});
  add({"", "v1", "events", "Event", "event", true, false, false, {"ev"}, {}});
  add({"", "v1", "pods", "Pod", "pod", true, false, false, {"po"}, {"all"}});
  add({"tekton.dev", "v1", "taskruns", "TaskRun", "taskrun", true, true, true, {"tr", "trs"},
       {"tekton", "tekton-pipelines"}});
  add({"tekton.dev", "v1", "pipelineruns", "PipelineRun", "pipelinerun", true, true, true,
       {"pr", "prs"}, {"tekton", "tekton-pipelines"}});
  add({"coordination.k8s.io", "v1", "leases", "Lease", "lease", true, false, false, {}, {}});
  add({"events.k8s.io", "v1", "events", "Event", "event", true, false, false, {"ev"}, {}});
}

bool resource_registry::add_from_flag(std::string_view spec, std::string& error) {
  // group/version/resource:Kind[:cluster]
  auto colon = spec.find(':');
  if (colon == std::string_view::npos) {
    error = "expected group/version/resource:Kind[:cluster]";
    return false;
  }
  std::string_view gvr = spec.substr(0, colon);
  std::string_view rest = spec.substr(colon + 1);
  std::string_view kind = rest.substr(0, rest.find(':'));
  bool cluster = rest.find(':') != std::string_view::npos &&
                 rest.substr(rest.find(':') + 1) == "cluster";
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    auto slash = gvr.find('/', start);
    parts.emplace_back(gvr.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() == 2) parts.insert(parts.begin(), "");
  if (parts.size() != 3 || parts[1].empty() || parts[2].empty() || kind.empty()) {
    error = "expected group/version/resource:Kind[:cluster]";
    return false;
  }
  resource_type t;
  t.group = parts[0];
  t.version = parts[1];
  t.resource = parts[2];
  t.kind = std::string(kind);
  t.singular = t.kind;
  std::transform(t.singular.begin(), t.singular.end(), t.singular.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  t.namespaced = !cluster;
  t.custom = !t.group.empty();
  t.status_subresource = t.custom;
  types_.push_back(std::move(t));
  return true;
}

std::optional<std::size_t> resource_registry::find(std::string_view group, std::string_view version,
                                                   std::string_view resource) const {
  for (std::size_t i = 0; i < types_.size(); ++i)
    if (types_[i].group == group && types_[i].version == version && types_[i].resource == resource)
      return i;
  return std::nullopt;
}

std::optional<std::size_t> resource_registry::find_kind(std::string_view api_version,
                                                        std::string_view kind) const {
  for (std::size_t i = 0; i < types_.size(); ++i)
    if (types_[i].api_version() == api_version && types_[i].kind == kind) return i;
  return std::nullopt;
}

bool resource_registry::has_group_version(std::string_view group, std::string_view version) const {
  for (const auto& t : types_)
    if (t.group == group && t.version == version) return true;
  return false;
}

json::object resource_registry::version_doc() const {
  return {{"major", "1"},
          {"minor", "32"},
          {"gitVersion", "v1.32.0-kube-testserver"},
          {"gitCommit", "0000000000000000000000000000000000000000"},
          {"gitTreeState", "clean"},
          {"buildDate", "2026-01-01T00:00:00Z"},
          {"goVersion", "go1.23.0"},
          {"compiler", "gc"},
          {"platform", "linux/amd64"}};
}

json::object resource_registry::api_versions_doc() const {
  return {{"kind", "APIVersions"},
          {"versions", json::array{"v1"}},
          {"serverAddressByClientCIDRs",
           json::array{json::object{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", "127.0.0.1"}}}}};
}

json::object resource_registry::api_group_list_doc() const {
  json::array groups;
  std::vector<std::string> seen;
  for (const auto& t : types_) {
    if (t.group.empty() || std::find(seen.begin(), seen.end(), t.group) != seen.end()) continue;
    seen.push_back(t.group);
    if (auto g = api_group_doc(t.group)) {
      g->erase("kind");
      g->erase("apiVersion");
      groups.push_back(std::move(*g));
    }
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", std::move(groups)}};
}

std::optional<json::object> resource_registry::api_group_doc(std::string_view group) const {
  json::array versions;
  std::vector<std::string> seen;
  for (const auto& t : types_) {
    if (t.group != group || std::find(seen.begin(), seen.end(), t.version) != seen.end()) continue;
    seen.push_back(t.version);
    versions.push_back(json::object{{"groupVersion", t.api_version()}, {"version", t.version}});
  }
  if (versions.empty()) return std::nullopt;
  json::value preferred = versions.front();
  return json::object{{"kind", "APIGroup"},
                      {"apiVersion", "v1"},
                      {"name", group},
                      {"versions", std::move(versions)},
                      {"preferredVersion", std::move(preferred)}};
}

std::optional<json::object> resource_registry::resource_list_doc(std::string_view group,
                                                                 std::string_view version) const {
  if (!has_group_version(group, version)) return std::nullopt;
  json::array resources;
  for (const auto& t : types_) {
    if (t.group != group || t.version != version) continue;
    json::object r{{"name", t.resource},
                   {"singularName", t.singular},
                   {"namespaced", t.namespaced},
                   {"kind", t.kind},
                   {"verbs", all_verbs()}};
    if (!t.short_names.empty()) r["shortNames"] = string_array(t.short_names);
    if (!t.categories.empty()) r["categories"] = string_array(t.categories);
    resources.push_back(std::move(r));
    if (t.status_subresource) {
      resources.push_back(json::object{{"name", t.resource + "/status"},
                                       {"singularName", ""},
                                       {"namespaced", t.namespaced},
                                       {"kind", t.kind},
                                       {"verbs", json::array{"get", "patch", "update"}}});
    }
    if (t.group.empty() && t.resource == "serviceaccounts") {
      resources.push_back(json::object{{"name", "serviceaccounts/token"},
                                       {"singularName", ""},
                                       {"namespaced", true},
                                       {"group", "authentication.k8s.io"},
                                       {"version", "v1"},
                                       {"kind", "TokenRequest"},
                                       {"verbs", json::array{"create"}}});
    }
  }
  std::string gv = group.empty() ? std::string(version) : std::string(group) + "/" + std::string(version);
  return json::object{{"kind", "APIResourceList"},
                      {"apiVersion", "v1"},
                      {"groupVersion", gv},
                      {"resources", std::move(resources)}};
}

json::object resource_registry::openapi_v3_index() const {
  json::object paths;
  std::set<std::string> seen;
  for (const auto& t : types_) {
    std::string key = t.group.empty() ? "api/" + t.version : "apis/" + t.group + "/" + t.version;
    if (!seen.insert(key).second) continue;
    paths[key] = json::object{{"serverRelativeURL", "/openapi/v3/" + key + "?hash=0"}};
  }
  return {{"paths", std::move(paths)}};
}

std::optional<json::object> resource_registry::openapi_v3_doc(std::string_view group,
                                                              std::string_view version) const {
  if (!has_group_version(group, version)) return std::nullopt;
  json::object paths;
  for (const auto& t : types_) {
    if (t.group != group || t.version != version) continue;
    std::string base = t.group.empty() ? "/api/" + t.version : "/apis/" + t.group + "/" + t.version;
    std::string path = base + (t.namespaced ? "/namespaces/{namespace}/" : "/") + t.resource + "/{name}";
    json::object gvk{{"group", t.group}, {"version", t.version}, {"kind", t.kind}};
    // Only the PATCH operation matters to kubectl: it reads x-kubernetes-group-version-kind and
    // looks for the fieldValidation query parameter. No strategic-merge request body is listed,
    // so kubectl computes patches from its compiled-in types (or JSON merge patch for CRDs).
    json::object patch{
        {"operationId", "patch" + t.kind},
        {"x-kubernetes-action", "patch"},
        {"x-kubernetes-group-version-kind", gvk},
        {"parameters", json::array{json::object{{"name", "fieldValidation"},
                                                {"in", "query"},
                                                {"schema", json::object{{"type", "string"}}}},
                                   json::object{{"name", "fieldManager"},
                                                {"in", "query"},
                                                {"schema", json::object{{"type", "string"}}}}}},
        {"responses",
         json::object{{"200", json::object{{"description", "OK"}}}}}};
    paths[path] = json::object{{"patch", std::move(patch)}};
  }
  return json::object{{"openapi", "3.0.0"},
                      {"info", json::object{{"title", "Kubernetes"}, {"version", "v1.32.0"}}},
                      {"paths", std::move(paths)},
                      {"components", json::object{{"schemas", json::object{}}}}};
}

}  // namespace chainsd::testserver
