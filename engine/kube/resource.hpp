#pragma once
// Which API resource a request is about, and the URL paths and query strings for it.

#include <string>
#include <string_view>

namespace chainsd::kube {

struct resource {
  std::string group;     // "" for the core group
  std::string version;   // "v1"
  std::string plural;    // "taskruns"
  bool namespaced = true;
};

// Common resources used across the engine.
inline resource taskruns_v1() { return {"tekton.dev", "v1", "taskruns", true}; }
inline resource pipelineruns_v1() { return {"tekton.dev", "v1", "pipelineruns", true}; }
inline resource configmaps_v1() { return {"", "v1", "configmaps", true}; }
inline resource secrets_v1() { return {"", "v1", "secrets", true}; }
inline resource serviceaccounts_v1() { return {"", "v1", "serviceaccounts", true}; }
inline resource events_v1() { return {"", "v1", "events", true}; }
inline resource leases_v1() { return {"coordination.k8s.io", "v1", "leases", true}; }

// /api/v1[/namespaces/NS]/PLURAL[/NAME[/SUB]] or /apis/GROUP/VERSION/...; an empty namespace on a
// namespaced resource means "all namespaces" (lists and watches).
std::string resource_path(const resource& r, std::string_view ns, std::string_view name = {},
                          std::string_view subresource = {});

// Appends "?k=v" or "&k=v" with v percent-encoded (selectors contain '=', ',', '!').
void append_query(std::string& url, std::string_view key, std::string_view value);

}  // namespace chainsd::kube
