#pragma once
// A Warning Event on the chains-config ConfigMap when the controller rejects it, so that
// `kubectl describe configmap chains-config -n tekton-chains` and `kubectl get events` show why
// the change had no effect (the log says it too). One Event per distinct rejected content: a
// relist delivering the same ConfigMap again does not repeat it.

#include "config/config.hpp"
#include "kube/client.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>

namespace chainsd::app {

// The ConfigMap an event is about.
struct configmap_ref {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string resource_version;
};

// Reads the reference from a ConfigMap's JSON (fields left empty when absent).
configmap_ref configmap_ref_of(std::string_view json);

// The Event's JSON body (type Warning, reason ConfigRejected, source tekton-chains-controller).
std::string config_rejected_event(const configmap_ref& cm, const std::string& message);

// Creates it; a failure is logged, not thrown.
boost::asio::awaitable<void> record_config_rejected(kube::client& client, configmap_ref cm, std::string message);

// Remembers what was reported last: true when `data` differs from it (and remembers it).
class rejection_memo {
 public:
  bool first_time(const config::data_map& data, const std::string& error);
  // An accepted config: the next rejection is news even if it repeats an older one.
  void clear() { any_ = false; }

 private:
  config::data_map data_;
  std::string error_;
  bool any_ = false;
};

}  // namespace chainsd::app
