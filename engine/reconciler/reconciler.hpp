#pragma once
// The controller's core: takes run events from the watches, decides which runs need work, and
// runs ONE pass per run at a time (bounded concurrency, each with a deadline). A pass returns one
// outcome — signed, retry after D, failed with a reason, parked, dropped — applied in one place:
// annotations, queue, metrics, a Warning Event on failure. See README.md for the state machine.
//
// Delivery: events are coalesced per run (a run is never processed twice at once); our own
// patch's echo and anything older are dropped before they are parsed (echo_filter.hpp).
// Memory: runs waiting for work (their JSON up to max_queued_json_bytes), the progress of runs
// that will retry (up to max_progress_bytes), a short note per run just patched.
// Cancellation: stop() ends intake; cancel() cuts every pass in flight, which then writes nothing
// (the run stays as it was). Each pass is also cut at pass_timeout (that one is written as a
// retryable failure).
//
// Threading: everything runs on the executor's thread. Ownership: the cluster, the plugin-set
// provider and the clock outlive the reconciler; run() must have returned before it is destroyed.

#include "kube/watcher.hpp"
#include "reconciler/cluster.hpp"
#include "reconciler/plugin_set.hpp"
#include "reconciler/run_meta.hpp"
#include "runtime/clock.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>

namespace chainsd::reconciler {

struct reconciler_options {
  std::set<std::string> namespaces;  // empty: every namespace
  std::size_t max_in_flight = 64;
  // Passes waiting on the transparency log give their slot back (pass.hpp slot_lender), up to
  // this many at once (each holds its run's document, payload and signature: ~50 KiB, ~120 KiB
  // of RSS with what the answer adds until the pass takes a slot back).
  std::size_t max_log_waiting = 1024;
  // A retryable failure waits retry_base × 2^retries (capped at retry_max) before the next pass.
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_max{60'000};
  int max_retries = default_max_retries;  // chains.tekton.dev/retries counts 0..max_retries, then failed
  // A pass (sign, log, store, patch) taking longer is cut and counted as a retryable failure.
  std::chrono::milliseconds pass_timeout{300'000};
  // Runs parked because their signer has no key yet are tried again this often.
  std::chrono::milliseconds key_poll{2'000};
  // How long to remember a run we just patched, to ignore watch events that predate the patch.
  std::chrono::milliseconds patched_memory{600'000};
  // Documents of queued runs kept from their watch events, in bytes. Beyond it a queued run keeps
  // only its metadata and is read again (one GET) when its turn comes: a backlog of 100,000
  // unsigned runs costs metadata, not 100,000 documents. Runs in flight always keep theirs.
  std::size_t max_queued_json_bytes = std::size_t{64} << 20;
  // What retries reuse (signatures, log entries, stores), for all runs together; a run beyond it
  // starts its retry afresh (a second log entry is then possible).
  std::size_t max_progress_bytes = std::size_t{64} << 20;
  // HA: whether this replica works on a run (its bucket is held). Null: every run. Called for
  // every event before anything is parsed: must be cheap.
  std::function<bool(run_kind, std::string_view namespace_name, std::string_view name)> owns;
  std::chrono::milliseconds rescan_delay{200};
  // Time for queues and deadlines (tests inject a manual clock). Null: the real steady clock.
  runtime::clock* clock = nullptr;
};

class reconciler {
 public:
  using plugin_set_provider = std::function<std::shared_ptr<plugin_set>()>;

  reconciler(boost::asio::any_io_executor ex, cluster& c, plugin_set_provider plugins, reconciler_options o = {});
  ~reconciler();

  // Feeds one watch event.
  void on_event(run_kind kind, kube::watch_event ev);

  // Processes work until stop(); then waits for runs in flight to finish (or be cancelled).
  boost::asio::awaitable<void> run();
  // Stops taking new work; runs in flight complete.
  void stop();
  // Cuts every pass in flight (after the drain timeout): they end without writing to their run.
  void cancel();
  // HA: a bucket was lost. Drops every run this replica no longer owns (queued, waiting,
  // parked) and cuts the passes of such runs in flight: they write nothing.
  void drop_unowned();
  // HA: a bucket was taken. Lists the runs of `kind` (after rescan_delay, so that buckets taken
  // together share one list) and feeds them as events: those of buckets now held get work.
  void rescan(run_kind kind);
  // While held, rescan() does nothing: at start-up, buckets taken before the watches' first list
  // need no list of their own (that list sees them held).
  void hold_rescans(bool held);

  std::size_t queued() const;
  std::size_t in_flight() const;
  std::size_t tracked() const;  // runs held (queued, parked, in flight, retrying)

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

// upstream's isManagedByAllowed: unset, "" and "tekton.dev/pipeline" always; others if listed.
bool managed_by_allowed(const std::string& managed_by, const std::set<std::string>& allowed);

}  // namespace chainsd::reconciler
