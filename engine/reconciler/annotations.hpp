#pragma once
// The chains.tekton.dev/* state machine, pure: from the annotations a run carries and what one
// pass achieved, what to write next. This is also the ONE place where an error's class decides
// what happens to the run (dispose()).
//
// Upstream (tektoncd/chains HandleRetry) retries every failure: retries absent → 0 → … → 3, then
// signed=failed. chainsd retries only what retrying can help: a `retryable` failure follows that
// sequence; `permanent`, `bad_config` and `unauthenticated` fail the run at once; a signer that
// has no key yet (`not_found` from a signer) parks the run until the key appears.

#include <chainsd/plugin/errors.hpp>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace chainsd::reconciler {

// What a step of a pass could not do.
struct failure {
  std::string type;  // metric label: payload_creation, signing, tlog, storage, patch
  plugin::errc cls = plugin::errc::permanent;
  std::string message;  // names the run, the artifact, the plugin or key, and the reason
};

enum class disposition { retry, fail, park };
disposition dispose(const failure& f);

struct decision {
  enum class kind { signed_run, retry, failed, parked };
  kind what = kind::signed_run;
  // The complete set of chains annotations chainsd owns on the run after this pass (server-side
  // apply drops owned keys that are absent). Empty for `parked`: nothing is written.
  std::map<std::string, std::string> annotations;
  int retries = -1;    // the chains.tekton.dev/retries value written (-1: not written)
  std::string reason;  // every failure, in full (log line, Event)
};

// `stored` (what storage backends returned) is taken by value: its values, tens of KB, are moved.
decision decide(const std::map<std::string, std::string>& existing, std::map<std::string, std::string> stored,
                const std::vector<failure>& failures, int max_retries);

// signed=failed with `reason`, keeping what the run already carries and nothing new: the marking
// written when the full patch was refused (too big) — small, so the API server takes it.
decision failed_marking(const std::map<std::string, std::string>& existing, std::string reason);

// The text for chains.tekton.dev/error: at most `max` bytes (cut on a UTF-8 boundary), without
// raw JSON bodies (they stay in the log and the Event).
std::string short_reason(std::string_view full, std::size_t max = 512);

// Bytes kube counts against the 256 KiB total of metadata.annotations (keys plus values).
std::size_t annotation_bytes(const std::map<std::string, std::string>& a);

}  // namespace chainsd::reconciler
