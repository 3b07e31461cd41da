#pragma once
// The resource types the test server knows, and the discovery documents built from them.
// kubectl decides everything (short names, scope, which verbs exist) from discovery, so these
// tables mirror kube-apiserver 1.32 and Tekton's CRDs.

#include "util.hpp"

#include <optional>
#include <string>
#include <vector>

namespace chainsd::testserver {

struct resource_type {
  std::string group;     // "" for core
  std::string version;
  std::string resource;  // plural
  std::string kind;
  std::string singular;
  bool namespaced = true;
  bool status_subresource = false;  // CRD-style: create drops status, main updates ignore it
  bool custom = false;              // a CRD: update needs metadata.resourceVersion, gets generation
  std::vector<std::string> short_names;
  std::vector<std::string> categories;

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  // "taskruns.tekton.dev", "configmaps": the name kubectl and our stats use.
  std::string qualified() const { return group.empty() ? resource : resource + "." + group; }
};

class resource_registry {
 public:
  resource_registry();

  // Adds a type from "group/version/resource:Kind[:cluster]" (core: "v1/foos:Foo").
  bool add_from_flag(std::string_view spec, std::string& error);

  const std::vector<resource_type>& all() const { return types_; }
  const resource_type& at(std::size_t i) const { return types_[i]; }
  std::optional<std::size_t> find(std::string_view group, std::string_view version,
                                  std::string_view resource) const;
  std::optional<std::size_t> find_kind(std::string_view api_version, std::string_view kind) const;
  std::optional<std::size_t> namespaces_index() const { return find("", "v1", "namespaces"); }

  bool has_group_version(std::string_view group, std::string_view version) const;

  json::object version_doc() const;
  json::object api_versions_doc() const;
  json::object api_group_list_doc() const;
  std::optional<json::object> api_group_doc(std::string_view group) const;
  std::optional<json::object> resource_list_doc(std::string_view group,
                                                std::string_view version) const;
  // A minimal OpenAPI v3 index and per-group-version documents: enough for kubectl to see that
  // the server validates fields itself (fieldValidation on PATCH) and skip client-side schemas.
  json::object openapi_v3_index() const;
  std::optional<json::object> openapi_v3_doc(std::string_view group, std::string_view version) const;

 private:
  std::vector<resource_type> types_;
};

}  // namespace chainsd::testserver
