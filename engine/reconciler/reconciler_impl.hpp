#pragma once
// Private to engine/reconciler: the reconciler's state (reconciler::impl), whose pieces are
// defined by idea in intake.cpp (which runs get work; watch events), loop.cpp (bounded
// concurrency, deadlines, run slots lent while a pass waits on the log, cancellation, rescans),
// one_pass.cpp (one pass over a run and its one patch), outcomes.cpp (the ONE place an outcome
// takes effect) and reconciler.cpp (composition and the public face). Everything runs on the
// executor's thread.

#include "reconciler/reconciler.hpp"

#include "reconciler/annotations.hpp"
#include "reconciler/echo_filter.hpp"
#include "reconciler/pass.hpp"
#include "reconciler/plan.hpp"
#include "reconciler/progress.hpp"
#include "reconciler/run_metrics.hpp"
#include "reconciler/work_queue.hpp"
#include "net/http_client.hpp"
#include "runtime/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>

namespace asio = boost::asio;

namespace chainsd::reconciler {

// What one pass came to. Applied in one place (impl::apply).
struct outcome {
  enum class kind {
    signed_run,        // marked signed=true
    retry,             // a retryable failure, written (retries+1); next pass after the backoff
    retry_unwritten,   // nothing could be read or written (API failure, deadline): next pass resumes
    failed,            // marked signed=failed
    failed_unmarked,   // could not even be marked failed (the API refuses every patch)
    parked_children,   // a PipelineRun waiting for its TaskRuns
    parked_key,        // the signer has no key yet
    dropped,           // nothing (more) to do: deleted, filtered, signed meanwhile
    cancelled,         // cut at shutdown: the run stays as it was
  };
  kind what = kind::dropped;
  run_meta meta;
  std::string reason;  // failures in full (log, Event)
  int retries = -1;
  std::string patched_rv;
  shared_annotations written;
  std::string error_type;  // first failure's type (metric)
  int signed_count = 0, stored_count = 0, reused_count = 0;
};

// "ns/name" of a TaskRun's PipelineRun, or empty.
std::string parent_key(const run_meta& child);

struct reconciler::impl : std::enable_shared_from_this<impl>, slot_lender {
  enum class parked { none, children, key };

  struct entry {
    run_kind kind = run_kind::task_run;
    std::string json;
    run_meta meta;
    bool fetch = false;  // the document was not kept (max_queued_json_bytes): read it again
    parked park = parked::none;
    bool key_event_sent = false;
    int api_failures = 0;  // passes in a row that could not read or write the run (backoff only)
    // What we last wrote, to overlay a view older than our own patch.
    std::string patched_rv;
    shared_annotations written;
    std::shared_ptr<run_progress> progress;
    std::size_t progress_bytes = 0;  // counted in progress_bytes_
  };

  struct pass_ctl {
    std::shared_ptr<asio::cancellation_signal> cancel;
    runtime::clock::time_point deadline;
    bool timed_out = false;
  };

  impl(asio::any_io_executor ex, cluster& c, plugin_set_provider p, reconciler_options o)
      : ex_(ex),
        cluster_(c),
        plugins_(std::move(p)),
        opts_(std::move(o)),
        clock_(opts_.clock ? *opts_.clock : runtime::real_clock()),
        queue_(clock_),
        echo_(clock_, opts_.patched_memory),
        wake_(ex) {
    wake_.expires_at(asio::steady_timer::time_point::max());
  }

  void init();

  void poke() { wake_.cancel(); }

  void update_gauges();

  // --- which runs get work (cheap checks, no API calls) ---

  bool in_scope(run_kind kind, std::string_view ns, std::string_view name) const;

  // Signing is wanted; else why not (for the debug log), in `why`.
  bool wants_signing(const run_meta& m, const char** why = nullptr) const;
  bool wants_work(const run_meta& m, const char** why = nullptr) const;

  // --- intake ---

  void on_event(run_kind kind, kube::watch_event ev);

  // Keeps a run's document unless the documents kept would pass max_queued_json_bytes (`always`:
  // runs in flight); otherwise the run is marked to be read again when its turn comes.
  void keep_json(entry& e, std::string json, bool always);
  void set_progress(entry& e, std::shared_ptr<run_progress> p);
  void erase_entry(std::unordered_map<std::string, entry>::iterator it);
  void unpark(entry& e);
  void wake_parent(const std::string& parent);

  // --- the loop ---

  asio::awaitable<void> run();
  void start(const std::shared_ptr<impl>& self, std::string uid);
  void end_pass(const std::string& uid);
  void expire_deadlines();
  bool timed_out(const std::string& uid) const;
  entry* lookup(const std::string& uid);

  // A view older than our own last patch lacks what we wrote (retries, stored annotations).
  static void overlay(const entry& e, run_meta& meta);

  // --- one pass ---

  static bool cancelled(const asio::cancellation_state& st) { return st.cancelled() != asio::cancellation_type::none; }

  static asio::awaitable<void> process(std::shared_ptr<impl> self, std::string uid);
  asio::awaitable<outcome> pass(std::string uid);

  // The PipelineRun's children that are not complete and signed yet ("" when all are).
  std::string children_ready(const run_meta& meta, std::vector<std::string> listed, std::vector<std::string>& ready);

  // The ONE patch of a pass: every chains annotation we own, plus upstream's finalizers removed
  // (by the apply where our field manager owns them, else by a merge patch right after).
  // `small`: `d` is already the small marking of a failure.
  asio::awaitable<outcome> write(outcome o, decision d, bool small);

  // After a patch that left one of upstream's finalizers (owned by another operation).
  asio::awaitable<patch_outcome> strip_finalizers(run_meta meta, patch_outcome applied);

  // A run that needs no signing but carries upstream's finalizer.
  asio::awaitable<outcome> remove_finalizers_only(outcome o);

  // --- the ONE place an outcome takes effect ---

  std::chrono::milliseconds backoff(int attempt) const;
  void requeue_after(const std::string& uid, std::chrono::milliseconds d);

  // Ends work on a run; `marked`: newer events can only say it is signed or failed.
  void finish(const std::string& uid, bool marked);

  // Returns the Warning Event to record (reason, message), if any.
  std::optional<std::pair<std::string, std::string>> apply(const std::string& uid, const outcome& o);

  // What this run's retry will reuse, within max_progress_bytes for all runs.
  void keep_progress(entry& e);
  void drop_unowned();
  void rescan(run_kind kind);
  static asio::awaitable<void> rescan_runs(std::shared_ptr<impl> self, run_kind kind);

  // --- slot_lender (pass.hpp) ---
  bool lend() override;
  asio::awaitable<void> reclaim() override;
  void reclaim_now() override;
  // A slot was given back or a pass ended: passes taking theirs back go before new runs.
  void slot_freed();
  void cancel();

  asio::any_io_executor ex_;
  cluster& cluster_;
  plugin_set_provider plugins_;
  reconciler_options opts_;
  runtime::clock& clock_;
  work_queue queue_;
  echo_filter echo_;
  asio::steady_timer wake_;
  run_metrics metrics_;
  bool stopping_ = false;
  std::size_t in_flight_ = 0;    // passes holding a slot (--max-in-flight)
  std::size_t log_waiting_ = 0;  // passes that lent theirs while they wait on the log
  struct reclaimer {
    explicit reclaimer(asio::any_io_executor ex) : timer(ex, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer;
    bool granted = false;
  };
  std::deque<std::shared_ptr<reclaimer>> reclaimers_;  // answered by the log, waiting for a slot
  std::size_t parked_count_ = 0;
  std::size_t kept_json_bytes_ = 0;  // documents of entries (see keep_json)
  std::size_t progress_bytes_ = 0;   // progress of entries (see keep_progress)
  std::unordered_map<std::string, entry> entries_;
  std::unordered_map<std::string, std::string> parked_parents_;  // "ns/name" → uid
  std::unordered_map<std::string, pass_ctl> passes_;             // in flight, by uid
  std::multimap<runtime::clock::time_point, std::string> deadlines_;
  struct rescan_state {
    bool running = false;
    bool again = false;
  };
  std::array<rescan_state, 2> rescans_{};  // TaskRuns, PipelineRuns
  bool rescans_held_ = false;
};

}  // namespace chainsd::reconciler
