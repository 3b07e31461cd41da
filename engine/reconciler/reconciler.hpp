#pragma once
// The controller's core: takes run events from the watches, decides which runs need work, signs
// each run exactly once (bounded concurrency), writes one annotation patch per pass, retries
// failures with backoff (chains.tekton.dev/retries 0..3, then signed=failed with the reason in
// chains.tekton.dev/error and a Warning Event), and lets a PipelineRun wait for its TaskRuns.
//
// Memory: only runs waiting for work are held (their JSON), plus a short-lived note per run just
// patched, so that a watch event older than our own patch cannot make us sign again.
//
// Threading: everything runs on the executor's thread. Ownership: the cluster and the plugin-set
// provider outlive the reconciler; run() must have returned before it is destroyed.

#include "kube/watcher.hpp"
#include "reconciler/cluster.hpp"
#include "reconciler/plugin_set.hpp"
#include "reconciler/run_meta.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace chainsd::reconciler {

struct reconciler_options {
  std::set<std::string> namespaces;  // empty: every namespace
  std::size_t max_in_flight = 64;
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_max{60'000};
  // How long to remember a run we just patched, to ignore watch events that predate the patch.
  std::chrono::milliseconds patched_memory{600'000};
  // Documents of queued runs kept from their watch events, in bytes. Beyond it a queued run keeps
  // only its metadata and is read again (one GET) when its turn comes: a backlog of 100,000
  // unsigned runs costs metadata, not 100,000 documents. Runs in flight always keep theirs.
  std::size_t max_queued_json_bytes = std::size_t{64} << 20;
};

class reconciler {
 public:
  using plugin_set_provider = std::function<std::shared_ptr<plugin_set>()>;

  reconciler(boost::asio::any_io_executor ex, cluster& c, plugin_set_provider plugins, reconciler_options o = {});
  ~reconciler();

  // Feeds one watch event (any thread-free order the watcher delivers).
  void on_event(run_kind kind, kube::watch_event ev);

  // Processes work until stop(); then waits for runs in flight to finish.
  boost::asio::awaitable<void> run();
  // Stops taking new work; runs in flight complete.
  void stop();

  std::size_t queued() const;
  std::size_t in_flight() const;
  std::size_t tracked() const;  // entries held (queued, parked, in flight, retrying)

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

// upstream's isManagedByAllowed: unset, "" and "tekton.dev/pipeline" always; others if listed.
bool managed_by_allowed(const std::string& managed_by, const std::set<std::string>& allowed);

// The annotations to write after a pass (all chains.tekton.dev/* ones chainsd owns): existing
// ones, plus what storage returned, plus the signed/retries/error state.
struct pass_result {
  std::map<std::string, std::string> annotations;
  bool final_failure = false;   // signed=failed written
  bool retry = false;           // a retry must be scheduled
  int retries = -1;             // value written to chains.tekton.dev/retries (-1: none)
};
// `stored` is taken by value: its values (the payload and signature annotations, tens of KB) are
// moved into the result.
pass_result next_annotations(const std::map<std::string, std::string>& existing,
                             std::map<std::string, std::string> stored, const std::vector<std::string>& errors,
                             bool permanent);

}  // namespace chainsd::reconciler
