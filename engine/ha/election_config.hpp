#pragma once
// The leader-election ConfigMap (`tekton-chains-config-leader-election`, or $CONFIG_LEADERELECTION_NAME)
// with knative.dev/pkg/leaderelection's keys, defaults and checks (NewConfigFromMap), plus the
// checks client-go's NewLeaderElector makes later (upstream fails at start-up there, with no key
// name; we say which key). Read once at start-up, as upstream does: a change takes a restart.
//
// Keys: lease-duration (60s), renew-deadline (40s), retry-period (10s) as Go durations ("1m30s",
// "1.5s", "500ms"); the legacy leaseDuration / renewDeadline / retryPeriod are read first and the
// new spellings win; buckets (1) in 1..max_buckets; map-lease-prefix.<component>.<queue> = prefix
// to rename a reconciler's leases. Keys starting with "_" (upstream's `_example`) are ignored;
// other unknown keys are accepted with a warning (upstream ignores them silently).

#include "kube/errors.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chainsd::ha {

// knative's leaderelection.MaxBuckets (a variable upstream binaries may change; Tekton Chains
// does not).
inline constexpr std::uint32_t max_buckets = 10;

struct election_config {
  std::uint32_t buckets = 1;
  std::chrono::nanoseconds lease_duration = std::chrono::seconds(60);
  std::chrono::nanoseconds renew_deadline = std::chrono::seconds(40);
  std::chrono::nanoseconds retry_period = std::chrono::seconds(10);
  // "<component>.<queue name>" (before lower-casing) → lease name prefix.
  std::map<std::string, std::string> lease_name_prefixes;
};

struct election_config_result {
  std::optional<election_config> value;   // set iff errors is empty
  std::vector<std::string> errors;        // each names the ConfigMap, the key and the value
  std::vector<std::string> warnings;      // unknown keys
  bool ok() const { return errors.empty(); }
};

// `source` ("namespace/name") prefixes every message.
election_config_result parse_election_config(const std::map<std::string, std::string>& data,
                                             std::string_view source);

// The ConfigMap as a GET returned it: 404 → upstream's defaults (as knative's sharedmain); a
// ConfigMap → its data parsed; anything else → an error with the API's reason.
election_config_result election_config_from_response(const kube::result& r, std::string_view source);

// $CONFIG_LEADERELECTION_NAME, else "tekton-chains-config-leader-election" (the name Tekton
// Chains' Deployment sets that variable to).
std::string election_configmap_name();

// Go's time.ParseDuration: "300ms", "-1.5h", "2h45m", "0"; units ns, us (µs, μs), ms, s, m, h.
// nullopt with Go's error text in `error` otherwise.
std::optional<std::chrono::nanoseconds> parse_go_duration(std::string_view s, std::string* error = nullptr);
// Go's Duration.String(): "1m0s", "1.5s", "200ms".
std::string format_go_duration(std::chrono::nanoseconds d);

}  // namespace chainsd::ha
