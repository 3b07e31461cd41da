#include "app/config_events.hpp"

#include "kube/resource.hpp"
#include "runtime/log.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <random>

namespace chainsd::app {
namespace {

namespace bj = boost::json;

// Kubernetes' metav1.Time: seconds, UTC.
std::string now_rfc3339() {
  const auto secs = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const auto day = std::chrono::floor<std::chrono::days>(secs);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::hh_mm_ss hms{secs - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02lldZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()),
                static_cast<long long>(hms.seconds().count()));
  return buf;
}

}  // namespace

configmap_ref configmap_ref_of(std::string_view json) {
  configmap_ref out;
  boost::system::error_code ec;
  auto v = bj::parse(json, ec);
  if (ec || !v.is_object()) return out;
  auto* m = v.as_object().if_contains("metadata");
  if (!m || !m->is_object()) return out;
  auto get = [&m](const char* k) {
    auto* f = m->as_object().if_contains(k);
    return f && f->is_string() ? std::string(f->as_string()) : std::string();
  };
  out.namespace_name = get("namespace");
  out.name = get("name");
  out.uid = get("uid");
  out.resource_version = get("resourceVersion");
  return out;
}

std::string config_rejected_event(const configmap_ref& cm, const std::string& message) {
  static std::minstd_rand rng{std::random_device{}()};
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%08x%08x", static_cast<unsigned>(rng()), static_cast<unsigned>(rng()));
  const auto ts = now_rfc3339();
  bj::object involved{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", cm.name}, {"namespace", cm.namespace_name}};
  if (!cm.uid.empty()) involved["uid"] = cm.uid;
  if (!cm.resource_version.empty()) involved["resourceVersion"] = cm.resource_version;
  bj::object ev{
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", bj::object{{"name", cm.name + "." + suffix}, {"namespace", cm.namespace_name}}},
      {"involvedObject", std::move(involved)},
      {"type", "Warning"},
      {"reason", "ConfigRejected"},
      {"message", message.size() > 1024 ? message.substr(0, 1021) + "..." : message},
      {"source", bj::object{{"component", "tekton-chains-controller"}}},
      {"firstTimestamp", ts},
      {"lastTimestamp", ts},
      {"count", 1},
  };
  return bj::serialize(ev);
}

boost::asio::awaitable<void> record_config_rejected(kube::client& client, configmap_ref cm, std::string message) {
  const std::string what = cm.namespace_name + "/" + cm.name;
  try {
    auto r = co_await client.create(kube::events_v1(), cm.namespace_name, config_rejected_event(cm, message));
    if (!r.ok()) log::warn("cannot record event", {{"configmap", what}, {"error", r.error().message}});
  } catch (const std::exception& e) {
    log::warn("cannot record event", {{"configmap", what}, {"error", e.what()}});
  }
}

bool rejection_memo::first_time(const config::data_map& data, const std::string& error) {
  if (any_ && data == data_ && error == error_) return false;
  any_ = true;
  data_ = data;
  error_ = error;
  return true;
}

}  // namespace chainsd::app
