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

bool managed_by_allowed(const std::string& managed_by, const std::set<std::string>& allowed) {
  return managed_by.empty() || managed_by == "tekton.dev/pipeline" || allowed.count(managed_by) > 0;
}

namespace {

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
std::string parent_key(const run_meta& child) {
  if (child.kind != run_kind::task_run || child.pipeline_run.empty()) return {};
  return child.namespace_name + "/" + child.pipeline_run;
}

std::string too_big(const run_meta& meta, std::size_t total, const config::config& cfg) {
  const auto& art = meta.kind == run_kind::task_run ? cfg.taskrun : cfg.pipelinerun;
  const std::string key =
      meta.kind == run_kind::task_run ? "artifacts.taskrun.storage" : "artifacts.pipelinerun.storage";
  std::string stores;
  for (const auto& s : art.storage) stores += (stores.empty() ? "" : ",") + s;
  return "the annotations of " + std::string(meta.kind_lower()) + " " + meta.key() + " would total " +
         std::to_string(total) + " bytes, over the API server's limit of " + std::to_string(annotations_limit) +
         " (metadata.annotations: Too long); the tekton storage keeps the payload and signature in annotations: "
         "set " + key + " (now \"" + stores + "\") to oci, kafka or another backend instead of tekton";
}

}  // namespace

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

  void init() {
    std::weak_ptr<impl> weak = shared_from_this();
    clock_.on_advance([weak] {
      if (auto self = weak.lock()) self->poke();
    });
  }

  void poke() { wake_.cancel(); }

  void update_gauges() {
    metrics_.queue_depth->set(static_cast<double>(queue_.ready()));
    metrics_.in_flight->set(static_cast<double>(in_flight_ + log_waiting_));
    metrics_.progress_bytes->set(static_cast<double>(progress_bytes_));
  }

  // --- which runs get work (cheap checks, no API calls) ---

  bool in_scope(run_kind kind, std::string_view ns, std::string_view name) const {
    if (!opts_.namespaces.empty() && !opts_.namespaces.count(std::string(ns))) return false;
    return !opts_.owns || opts_.owns(kind, ns, name);
  }

  // Signing is wanted; else why not (for the debug log), in `why`.
  bool wants_signing(const run_meta& m, const char** why = nullptr) const {
    const char* no = nullptr;
    if (!m.done) no = "not done";
    else if (m.reconciled()) no = "already signed or failed";
    else if (m.deleting && !m.has_upstream_finalizer()) no = "being deleted";
    else if (auto set = plugins_(); set && !managed_by_allowed(m.managed_by, set->cfg->filter_managed_by))
      no = "managed by another controller (filter.managed-by)";
    if (why) *why = no;
    return !no;
  }

  bool wants_work(const run_meta& m, const char** why = nullptr) const {
    if (!in_scope(m.kind, m.namespace_name, m.name)) {
      if (why) *why = "not in this replica's namespaces or buckets";
      return false;
    }
    // Upstream's finalizer is removed from every run that carries one, signed or not.
    return wants_signing(m, why) || m.has_upstream_finalizer();
  }

  // --- intake ---

  void on_event(run_kind kind, kube::watch_event ev) {
    if (stopping_) return;
    const std::string& uid = ev.uid;
    if (ev.type == kube::event_type::deleted) {
      echo_.forget(uid);
      auto it = entries_.find(uid);
      if (it != entries_.end() && !queue_.processing(uid)) erase_entry(it);
      return;
    }
    if (!in_scope(kind, ev.namespace_name, ev.name) && !entries_.count(uid)) return;  // before parsing
    auto tracked = entries_.find(uid);
    auto seen = echo_.check(uid, ev.resource_version);
    if (seen.v == echo_filter::verdict::stale) return;  // predates the patch we wrote
    if (seen.v == echo_filter::verdict::echo && tracked == entries_.end()) {
      // Exactly the version our patch made, which marked the run: nothing to read in it (tens
      // of KB with the stored payloads). Only a parent waiting for this child needs to know.
      if (!seen.parent.empty()) wake_parent(seen.parent);
      return;
    }
    run_meta meta;
    try {
      meta = parse_run_meta(ev.object, kind);
    } catch (const std::exception& e) {
      log::error("ignoring run event that cannot be read",
                 {{"run", ev.namespace_name + "/" + ev.name}, {"uid", uid}, {"error", e.what()}});
      return;
    }
    if (kind == run_kind::task_run && !meta.pipeline_run.empty() && meta.reconciled()) wake_parent(parent_key(meta));

    if (tracked != entries_.end()) {
      auto& e = tracked->second;
      if (queue_.processing(uid)) {
        keep_json(e, std::move(ev.object), true);
        e.meta = std::move(meta);
        queue_.add(uid);  // processed once more when this pass ends
        return;
      }
      if (!wants_work(meta)) {
        erase_entry(tracked);
        return;
      }
      keep_json(e, std::move(ev.object), false);
      e.meta = std::move(meta);
      if (e.park == parked::children) unpark(e);
      queue_.add(uid);  // queued: picks up the new data; waiting: keeps its backoff
      return;
    }
    const char* why = nullptr;
    if (!wants_work(meta, &why)) {
      if (log::current_level() == log::level::debug)
        log::debug("run needs no work", {{"run", meta.key()}, {"kind", meta.kind_name()}, {"uid", uid}, {"why", why}});
      return;
    }
    entry e;
    e.kind = kind;
    e.meta = std::move(meta);
    auto [ins, ok] = entries_.emplace(uid, std::move(e));
    keep_json(ins->second, std::move(ev.object), false);
    queue_.add(uid);
    update_gauges();
    poke();
  }

  // Keeps a run's document unless the documents kept would pass max_queued_json_bytes (`always`:
  // runs in flight); otherwise the run is marked to be read again when its turn comes.
  void keep_json(entry& e, std::string json, bool always) {
    kept_json_bytes_ -= e.json.size();
    std::string().swap(e.json);
    if (always || kept_json_bytes_ + json.size() <= opts_.max_queued_json_bytes) {
      kept_json_bytes_ += json.size();
      e.json = std::move(json);
      e.fetch = false;
    } else {
      e.fetch = true;
    }
  }

  void set_progress(entry& e, std::shared_ptr<run_progress> p) {
    progress_bytes_ -= e.progress_bytes;
    e.progress = std::move(p);
    e.progress_bytes = e.progress ? e.progress->bytes() : 0;
    progress_bytes_ += e.progress_bytes;
  }

  void erase_entry(std::unordered_map<std::string, entry>::iterator it) {
    if (it->second.park != parked::none) --parked_count_;
    if (it->second.kind == run_kind::pipeline_run) {
      auto p = parked_parents_.find(it->second.meta.key());
      if (p != parked_parents_.end() && p->second == it->first) parked_parents_.erase(p);
    }
    kept_json_bytes_ -= it->second.json.size();
    set_progress(it->second, nullptr);
    queue_.forget(it->first);
    entries_.erase(it);
    metrics_.parked->set(static_cast<double>(parked_count_));
  }

  void unpark(entry& e) {
    if (e.park == parked::none) return;
    e.park = parked::none;
    --parked_count_;
    metrics_.parked->set(static_cast<double>(parked_count_));
  }

  void wake_parent(const std::string& parent) {
    auto p = parked_parents_.find(parent);
    if (p == parked_parents_.end()) return;
    auto it = entries_.find(p->second);
    if (it == entries_.end()) return;
    // A parent checking its children right now must look again: its list may predate this.
    if (it->second.park == parked::children) unpark(it->second);
    queue_.add(it->first);
    poke();
  }

  // --- the loop ---

  asio::awaitable<void> run() {
    auto self = shared_from_this();
    while (!stopping_ || !passes_.empty()) {
      queue_.promote_due();
      echo_.sweep();
      expire_deadlines();
      while (!stopping_ && in_flight_ < opts_.max_in_flight) {
        auto uid = queue_.pop();
        if (!uid) break;
        if (!entries_.count(*uid)) {
          queue_.done(*uid);
          continue;
        }
        start(self, std::move(*uid));
      }
      update_gauges();
      if (stopping_ && passes_.empty()) break;
      std::optional<runtime::clock::time_point> next;
      auto earlier = [&next](std::optional<runtime::clock::time_point> t) {
        if (t && (!next || *t < *next)) next = t;
      };
      if (!stopping_) earlier(queue_.next_due());
      if (!deadlines_.empty()) earlier(deadlines_.begin()->first);
      if (echo_.size() && !stopping_) earlier(clock_.now() + std::chrono::seconds(30));
      if (next) {
        wake_.expires_after(*next - clock_.now());
      } else {
        wake_.expires_at(asio::steady_timer::time_point::max());
      }
      co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  void start(const std::shared_ptr<impl>& self, std::string uid) {
    auto sig = std::make_shared<asio::cancellation_signal>();
    auto deadline = clock_.now() + opts_.pass_timeout;
    passes_[uid] = pass_ctl{sig, deadline, false};
    deadlines_.emplace(deadline, uid);
    ++in_flight_;
    auto done = [self, uid, sig](std::exception_ptr ex) {
      if (ex) {
        // process() handles every failure itself; this is a bug in the engine. The run is let go
        // (never rescheduled from here: that would be a loop).
        try {
          std::rethrow_exception(ex);
        } catch (const std::exception& e) {
          log::error("reconcile failed unexpectedly; the run is left as it is", {{"uid", uid}, {"error", e.what()}});
        }
        auto it = self->entries_.find(uid);
        if (it != self->entries_.end()) self->erase_entry(it);
        self->queue_.done(uid);
      }
      self->end_pass(uid);
      --self->in_flight_;
      self->slot_freed();
      self->update_gauges();
    };
    asio::co_spawn(ex_, process(self, uid), asio::bind_cancellation_slot(sig->slot(), done));
  }

  void end_pass(const std::string& uid) {
    auto it = passes_.find(uid);
    if (it == passes_.end()) return;
    for (auto d = deadlines_.lower_bound(it->second.deadline); d != deadlines_.end() && d->first == it->second.deadline;
         ++d) {
      if (d->second == uid) {
        deadlines_.erase(d);
        break;
      }
    }
    passes_.erase(it);
  }

  void expire_deadlines() {
    auto now = clock_.now();
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      auto uid = deadlines_.begin()->second;
      deadlines_.erase(deadlines_.begin());
      auto it = passes_.find(uid);
      if (it == passes_.end() || it->second.timed_out) continue;
      it->second.timed_out = true;
      metrics_.timed_out->inc();
      it->second.cancel->emit(asio::cancellation_type::terminal);
    }
  }

  bool timed_out(const std::string& uid) const {
    auto it = passes_.find(uid);
    return it != passes_.end() && it->second.timed_out;
  }

  entry* lookup(const std::string& uid) {
    auto it = entries_.find(uid);
    return it == entries_.end() ? nullptr : &it->second;
  }

  // A view older than our own last patch lacks what we wrote (retries, stored annotations).
  static void overlay(const entry& e, run_meta& meta) {
    if (e.patched_rv.empty() || older_version(e.patched_rv, meta.resource_version)) return;
    meta.resource_version = e.patched_rv;  // what the next write is conditioned on
    auto chains = annotation_bytes(meta.chains_annotations);
    meta.annotations_bytes = (meta.annotations_bytes > chains ? meta.annotations_bytes - chains : 0) +
                             annotation_bytes(*e.written);
    meta.chains_annotations = *e.written;
  }

  // --- one pass ---

  static bool cancelled(const asio::cancellation_state& st) { return st.cancelled() != asio::cancellation_type::none; }

  static asio::awaitable<void> process(std::shared_ptr<impl> self, std::string uid) {
    auto started = self->clock_.now();
    outcome o;
    if (auto* e = self->lookup(uid)) o.meta = e->meta;
    std::exception_ptr failed;
    try {
      o = co_await self->pass(uid);
    } catch (...) {
      failed = std::current_exception();
    }
    if (failed) {
      // Whatever the exception, a cancelled pass is a cancelled pass (the HTTP layer reports
      // cancellation as its own error type).
      if (cancelled(co_await asio::this_coro::cancellation_state)) {
        if (self->timed_out(uid)) {
          o.what = outcome::kind::retry_unwritten;
          o.reason = "the pass did not finish within --pass-timeout (" +
                     std::to_string(self->opts_.pass_timeout.count() / 1000) + " s) while writing the run";
        } else {
          o.what = outcome::kind::cancelled;
        }
      } else {
        try {
          std::rethrow_exception(failed);
        } catch (const net::http_error& ex) {  // the API server unreachable after the client's retries
          o.what = outcome::kind::retry_unwritten;
          o.reason = ex.what();
        } catch (const std::exception& ex) {
          // An engine bug in this pass: let the run go rather than loop on it.
          o.what = outcome::kind::dropped;
          log::error("reconcile failed unexpectedly; the run is left as it is",
                     {{"run", o.meta.key()}, {"uid", uid}, {"error", ex.what()}});
        }
      }
    }
    if (o.what == outcome::kind::signed_run || o.what == outcome::kind::failed)
      self->metrics_.latency->observe(std::chrono::duration<double>(self->clock_.now() - started).count());
    auto event = self->apply(uid, o);
    if (event) {
      co_await asio::this_coro::reset_cancellation_state();
      co_await self->cluster_.record_event(o.meta, "Warning", event->first, event->second);
    }
  }

  asio::awaitable<outcome> pass(std::string uid) {
    outcome o;
    entry* e = lookup(uid);
    if (!e) co_return o;
    run_meta meta = e->meta;
    std::string json = e->json;
    overlay(*e, meta);
    o.meta = meta;
    if (!wants_work(meta)) co_return o;
    if (e->fetch) {
      // Queued while the kept documents were at their bound: read the run as it is now.
      auto got = co_await cluster_.get_run(meta);
      e = lookup(uid);
      if (!e) co_return o;
      if (got.not_found) {
        log::info("run deleted before it could be signed", {{"run", meta.key()}, {"uid", uid}});
        co_return o;
      }
      if (!got.ok) {
        o.what = outcome::kind::retry_unwritten;
        o.reason = "cannot read queued run: " + got.error;
        co_return o;
      }
      try {
        e->meta = parse_run_meta(got.json, meta.kind);
      } catch (const std::exception& ex) {
        log::error("ignoring run that cannot be read", {{"run", meta.key()}, {"uid", uid}, {"error", ex.what()}});
        co_return o;
      }
      meta = e->meta;
      overlay(*e, meta);
      o.meta = meta;
      keep_json(*e, got.json, true);
      json = std::move(got.json);
      if (!wants_work(meta)) co_return o;
    }
    if (!wants_signing(meta)) co_return co_await remove_finalizers_only(std::move(o));

    auto set = plugins_();
    std::vector<std::string> children;
    if (meta.kind == run_kind::pipeline_run && !meta.child_taskruns.empty()) {
      // Registered before listing, so a child signed meanwhile makes this pass run again.
      parked_parents_[meta.key()] = uid;
      auto listed = co_await cluster_.list_child_taskruns(meta.namespace_name, meta.name);
      if (!lookup(uid)) co_return o;
      if (!listed) {
        o.what = outcome::kind::retry_unwritten;
        o.reason = "cannot list the child taskruns of pipelinerun " + meta.key();
        co_return o;
      }
      if (auto wait = children_ready(meta, std::move(*listed), children); !wait.empty()) {
        o.what = outcome::kind::parked_children;
        o.reason = std::move(wait);
        co_return o;
      }
    }

    // plan → sign → log → store, resuming what an earlier pass made.
    e = lookup(uid);
    if (!e) co_return o;
    auto progress = e->progress ? e->progress : std::make_shared<run_progress>();
    set_progress(*e, progress);
    pass_result res;
    std::exception_ptr failed;
    try {
      auto p = co_await make_plan(set, meta, std::move(json), std::move(children));
      res = co_await sign_log_store(set, std::move(p), progress, this);
    } catch (...) {
      failed = std::current_exception();
    }
    if (cancelled(co_await asio::this_coro::cancellation_state)) {
      if (!timed_out(uid)) throw boost::system::system_error(asio::error::operation_aborted);  // shutdown
      // Cut at its deadline: counted as a retryable failure and written, so that a pass that
      // always hangs ends `failed` instead of being retried for ever.
      co_await asio::this_coro::reset_cancellation_state();
      res.failures.push_back({"timeout", plugin::errc::retryable,
                              "signing " + std::string(meta.kind_lower()) + " " + meta.key() +
                                  " did not finish within --pass-timeout (" +
                                  std::to_string(opts_.pass_timeout.count() / 1000) + " s)"});
    } else if (failed) {
      std::rethrow_exception(failed);
    }
    o.signed_count = res.signed_count;
    o.stored_count = res.stored_count;
    o.reused_count = res.reused_count;
    if (!res.failures.empty()) o.error_type = res.failures.front().type;

    auto d = decide(meta.chains_annotations, std::move(res.annotations), res.failures, opts_.max_retries);
    o.reason = d.reason;
    if (d.what == decision::kind::parked) {
      o.what = outcome::kind::parked_key;
      co_return o;
    }
    // kube refuses an object whose annotations total more than 256 KiB: say so on the run
    // instead of sending a patch that cannot pass.
    const auto chains_before = annotation_bytes(meta.chains_annotations);
    const auto others = meta.annotations_bytes > chains_before ? meta.annotations_bytes - chains_before : 0;
    if (auto total = others + annotation_bytes(d.annotations); total > annotations_limit) {
      d = failed_marking(meta.chains_annotations, too_big(meta, total, *set->cfg));
      o.reason = d.reason;
      if (o.error_type.empty()) o.error_type = "patch";
      co_return co_await write(std::move(o), std::move(d), true);
    }
    co_return co_await write(std::move(o), std::move(d), false);
  }

  // The PipelineRun's children that are not complete and signed yet ("" when all are).
  std::string children_ready(const run_meta& meta, std::vector<std::string> listed, std::vector<std::string>& ready) {
    std::map<std::string, std::pair<run_meta, std::string>> by_name;
    for (auto& c : listed) {
      try {
        auto cm = parse_run_meta(c, run_kind::task_run);
        auto name = cm.name;
        by_name.emplace(std::move(name), std::make_pair(std::move(cm), std::move(c)));
      } catch (const std::exception&) {
      }
    }
    for (const auto& name : meta.child_taskruns) {
      auto c = by_name.find(name);
      std::string why;
      if (c == by_name.end()) why = "not found";
      else if (!c->second.first.has_completion_time) why = "not complete";
      else if (!c->second.first.reconciled()) why = "not yet signed";
      if (!why.empty()) {
        log::info("pipelinerun waits for its taskrun", {{"run", meta.key()}, {"uid", meta.uid}, {"taskrun", name},
                                                        {"state", why}});
        return "taskrun " + name + " " + why;
      }
      ready.push_back(std::move(c->second.second));
    }
    return {};
  }

  // The ONE patch of a pass: every chains annotation we own, plus upstream's finalizers removed
  // (by the apply where our field manager owns them, else by a merge patch right after).
  // `small`: `d` is already the small marking of a failure.
  asio::awaitable<outcome> write(outcome o, decision d, bool small) {
    if (!in_scope(o.meta.kind, o.meta.namespace_name, o.meta.name)) {
      // The bucket was lost during the pass: its new holder does the run.
      o.what = outcome::kind::cancelled;
      co_return o;
    }
    auto applied = std::make_shared<const std::map<std::string, std::string>>(std::move(d.annotations));
    auto patched = co_await cluster_.apply_annotations(o.meta, applied);
    if (patched.rejected && !small) {
      // Refused as it is (too big, invalid): mark the run failed with a small patch naming why.
      auto small = failed_marking(o.meta.chains_annotations,
                                  "the API server refused the annotations of " + std::string(o.meta.kind_lower()) +
                                      " " + o.meta.key() + " (" + patched.error +
                                      "); if it is their size, store to oci, kafka or another backend instead of "
                                      "tekton (artifacts.*.storage)");
      o.reason = small.reason;
      if (o.error_type.empty()) o.error_type = "patch";
      d.what = decision::kind::failed;
      applied = std::make_shared<const std::map<std::string, std::string>>(std::move(small.annotations));
      patched = co_await cluster_.apply_annotations(o.meta, applied);
    }
    if (patched.not_found) {
      log::info("run deleted before it could be marked", {{"run", o.meta.key()}, {"uid", o.meta.uid}});
      o.what = outcome::kind::dropped;
      co_return o;
    }
    if (patched.stale) {
      // The run changed since this pass read it (another replica may have signed it, or this
      // pass outlived a partition): nothing was written. Read it again before anything else;
      // what the pass made is kept for a retry that still needs it.
      o.what = outcome::kind::retry_unwritten;
      o.reason = "the run changed while it was signed: " + patched.error;
      if (auto* e = lookup(o.meta.uid)) e->fetch = true;
      co_return o;
    }
    if (patched.rejected) {
      o.what = outcome::kind::failed_unmarked;
      o.reason += "; even the small patch marking it failed was refused: " + patched.error;
      co_return o;
    }
    if (!patched.ok) {
      o.what = outcome::kind::retry_unwritten;
      o.reason = "cannot write annotations: " + patched.error;
      co_return o;
    }
    if (patched.upstream_finalizer_left) patched = co_await strip_finalizers(o.meta, std::move(patched));
    o.patched_rv = patched.resource_version;
    o.written = std::move(applied);
    o.retries = d.retries;
    o.what = d.what == decision::kind::signed_run ? outcome::kind::signed_run
             : d.what == decision::kind::retry    ? outcome::kind::retry
                                                  : outcome::kind::failed;
    co_return o;
  }

  // After a patch that left one of upstream's finalizers (owned by another operation).
  asio::awaitable<patch_outcome> strip_finalizers(run_meta meta, patch_outcome applied) {
    std::vector<std::string> keep;
    for (auto& f : applied.finalizers)
      if (!is_upstream_finalizer(f)) keep.push_back(f);
    auto r = co_await cluster_.remove_finalizers(meta, applied.resource_version, std::move(keep));
    if (!r.ok) {
      // The run is marked; its next event (or a restart's list) brings it back for the finalizer.
      log::warn("cannot remove upstream's finalizer", {{"run", meta.key()}, {"uid", meta.uid}, {"error", r.error}});
      co_return applied;
    }
    log::info("removed upstream's finalizer", {{"run", meta.key()}, {"uid", meta.uid}});
    co_return r;
  }

  // A run that needs no signing but carries upstream's finalizer.
  asio::awaitable<outcome> remove_finalizers_only(outcome o) {
    std::vector<std::string> keep;
    for (const auto& f : o.meta.finalizers)
      if (!is_upstream_finalizer(f)) keep.push_back(f);
    auto r = co_await cluster_.remove_finalizers(o.meta, o.meta.resource_version, std::move(keep));
    if (r.ok || r.not_found) {
      if (r.ok) log::info("removed upstream's finalizer", {{"run", o.meta.key()}, {"uid", o.meta.uid}});
      o.what = outcome::kind::dropped;
    } else if (r.status == 409) {
      // The run changed since this view: its next event brings the new version (read it now to
      // be sure, as a backlogged run would be).
      o.what = outcome::kind::retry_unwritten;
      o.reason = "removing upstream's finalizer: " + r.error;
      if (auto* e = lookup(o.meta.uid)) e->fetch = true;
    } else {
      o.what = outcome::kind::retry_unwritten;
      o.reason = "removing upstream's finalizer: " + r.error;
    }
    co_return o;
  }

  // --- the ONE place an outcome takes effect ---

  std::chrono::milliseconds backoff(int attempt) const {
    auto delay = opts_.retry_base * (1 << std::min(attempt < 0 ? 0 : attempt, 16));
    return delay > opts_.retry_max ? opts_.retry_max : delay;
  }

  void requeue_after(const std::string& uid, std::chrono::milliseconds d) {
    queue_.forget(uid);  // a new event meanwhile must not cut the backoff short
    queue_.done(uid);
    queue_.add_after(uid, d);
  }

  // Ends work on a run; `marked`: newer events can only say it is signed or failed.
  void finish(const std::string& uid, bool marked) {
    auto it = entries_.find(uid);
    bool again = queue_.done(uid);
    if (it == entries_.end()) return;
    if (!marked && again && wants_work(it->second.meta)) return;  // new data came: queued again
    erase_entry(it);
  }

  // Returns the Warning Event to record (reason, message), if any.
  std::optional<std::pair<std::string, std::string>> apply(const std::string& uid, const outcome& o) {
    auto& m = metrics_.of(o.meta.kind);
    m.sign_created->inc(o.signed_count);
    m.payload_stored->inc(o.stored_count);
    if (o.reused_count) metrics_.reused_steps->inc(o.reused_count);
    if (!o.error_type.empty()) metrics_.failure(o.meta.kind, o.error_type);
    const std::string run = o.meta.key();
    entry* e = lookup(uid);
    std::optional<std::pair<std::string, std::string>> event;
    switch (o.what) {
      case outcome::kind::signed_run:
        m.marked_signed->inc();
        log::info("run signed", {{"run", run}, {"kind", o.meta.kind_name()}, {"uid", uid},
                                 {"signatures", std::to_string(o.signed_count)}});
        echo_.remember(uid, o.patched_rv, parent_key(o.meta));
        finish(uid, true);
        break;
      case outcome::kind::failed:
        m.marked_failed->inc();
        log::error("run marked failed", {{"run", run}, {"kind", o.meta.kind_name()}, {"uid", uid}, {"error", o.reason}});
        echo_.remember(uid, o.patched_rv, parent_key(o.meta));
        finish(uid, true);
        event.emplace("SigningFailed", o.reason);
        break;
      case outcome::kind::failed_unmarked:
        log::error("run failed and cannot be marked; it is left as it is",
                   {{"run", run}, {"kind", o.meta.kind_name()}, {"uid", uid}, {"error", o.reason}});
        // Its version as we saw it stays ignored (a relist brings it back unchanged).
        echo_.remember(uid, o.meta.resource_version, parent_key(o.meta));
        finish(uid, true);
        event.emplace("SigningFailed", o.reason);
        break;
      case outcome::kind::retry:
        if (!e) break;
        log::warn("signing failed; will retry",
                  {{"run", run}, {"uid", uid}, {"retries", std::to_string(o.retries)}, {"error", o.reason}});
        e->patched_rv = o.patched_rv;
        e->written = o.written;
        e->api_failures = 0;
        keep_progress(*e);
        requeue_after(uid, backoff(o.retries));
        break;
      case outcome::kind::retry_unwritten:
        if (!e) break;
        log::warn("cannot read or write the run; will retry", {{"run", run}, {"uid", uid}, {"error", o.reason}});
        keep_progress(*e);
        requeue_after(uid, backoff(e->api_failures++));
        break;
      case outcome::kind::parked_children:
        if (!e) break;
        if (!queue_.done(uid)) {  // no news meanwhile: wait for a child's event
          e->park = parked::children;
          ++parked_count_;
        }
        parked_parents_[o.meta.key()] = uid;
        break;
      case outcome::kind::parked_key:
        if (!e) break;
        if (!e->key_event_sent) {
          log::warn("signer has no key yet; the run waits for it",
                    {{"run", run}, {"uid", uid}, {"error", o.reason}});
          event.emplace("SigningKeyMissing", o.reason);
          e->key_event_sent = true;
        }
        keep_progress(*e);
        requeue_after(uid, opts_.key_poll);
        break;
      case outcome::kind::dropped:
        finish(uid, false);
        break;
      case outcome::kind::cancelled:
        log::info("pass cancelled; the run is left as it was", {{"run", run}, {"uid", uid}});
        finish(uid, true);
        break;
    }
    metrics_.parked->set(static_cast<double>(parked_count_));
    update_gauges();
    return event;
  }

  // What this run's retry will reuse, within max_progress_bytes for all runs.
  void keep_progress(entry& e) {
    auto p = e.progress;
    set_progress(e, p);  // recount: the pass added to it
    if (progress_bytes_ > opts_.max_progress_bytes && e.progress) {
      metrics_.progress_dropped->inc();
      log::warn("retry progress over --max-progress-mb; this run's retry starts afresh",
                {{"run", e.meta.key()}, {"uid", e.meta.uid}});
      set_progress(e, nullptr);
    }
  }

  void drop_unowned() {
    for (auto it = entries_.begin(); it != entries_.end();) {
      auto next = std::next(it);
      const auto& m = it->second.meta;
      if (!in_scope(it->second.kind, m.namespace_name, m.name)) {
        if (auto p = passes_.find(it->first); p != passes_.end()) {
          p->second.cancel->emit(asio::cancellation_type::terminal);  // ends `cancelled`
        } else {
          erase_entry(it);
        }
      }
      it = next;
    }
    update_gauges();
  }

  void rescan(run_kind kind) {
    if (rescans_held_) return;
    auto& st = rescans_[kind == run_kind::task_run ? 0 : 1];
    if (st.running) {
      st.again = true;
      return;
    }
    st.running = true;
    auto done = [self = shared_from_this(), kind](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log::warn("rescan failed", {{"kind", kind == run_kind::task_run ? "TaskRun" : "PipelineRun"},
                                      {"error", ex.what()}});
        }
      }
      auto& s = self->rescans_[kind == run_kind::task_run ? 0 : 1];
      s.running = false;
      if (s.again && !self->stopping_) {
        s.again = false;
        self->rescan(kind);
      }
    };
    asio::co_spawn(ex_, rescan_runs(shared_from_this(), kind), done);
  }

  static asio::awaitable<void> rescan_runs(std::shared_ptr<impl> self, run_kind kind) {
    asio::steady_timer t(self->ex_);
    t.expires_after(self->opts_.rescan_delay);
    co_await t.async_wait(asio::use_awaitable);
    if (self->stopping_) co_return;
    std::size_t seen = 0, wanted = 0;
    auto each = [&self, &seen, &wanted, kind](kube::watch_event ev) {
      ++seen;
      if (self->stopping_ || !self->in_scope(kind, ev.namespace_name, ev.name)) return;
      ++wanted;
      self->on_event(kind, std::move(ev));
    };
    std::string ns = self->opts_.namespaces.size() == 1 ? *self->opts_.namespaces.begin() : std::string();
    // The list may hand out versions older than patches we make meanwhile (and whose echo comes
    // first): the echo filter keeps its notes until the list is through.
    self->echo_.hold();
    bool ok = false;
    std::exception_ptr failed;
    try {
      ok = co_await self->cluster_.list_runs(kind, ns, each);
    } catch (...) {
      failed = std::current_exception();
    }
    self->echo_.release();
    if (failed) std::rethrow_exception(failed);
    log::info("runs of buckets taken over re-examined",
              {{"kind", kind == run_kind::task_run ? "TaskRun" : "PipelineRun"}, {"listed", std::to_string(seen)},
               {"owned", std::to_string(wanted)}, {"complete", ok ? "true" : "false"}});
    if (!ok && !self->stopping_) self->rescans_[kind == run_kind::task_run ? 0 : 1].again = true;
  }

  // --- slot_lender (pass.hpp) ---
  bool lend() override {
    if (log_waiting_ >= opts_.max_log_waiting) return false;
    --in_flight_;
    ++log_waiting_;
    slot_freed();
    return true;
  }
  asio::awaitable<void> reclaim() override {
    if (reclaimers_.empty() && in_flight_ < opts_.max_in_flight) {
      reclaim_now();
      co_return;
    }
    auto w = std::make_shared<reclaimer>(ex_);
    reclaimers_.push_back(w);
    // Woken by slot_freed() (which took the slot for it), or cut by the pass's cancellation.
    co_await w->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!w->granted) {
      std::erase(reclaimers_, w);
      reclaim_now();  // cancelled: the pass ends at once
    }
  }
  void reclaim_now() override {
    ++in_flight_;  // may pass --max-in-flight for a moment only when the pass is cut
    --log_waiting_;
  }
  // A slot was given back or a pass ended: passes taking theirs back go before new runs.
  void slot_freed() {
    while (!reclaimers_.empty() && in_flight_ < opts_.max_in_flight) {
      auto w = std::move(reclaimers_.front());
      reclaimers_.pop_front();
      w->granted = true;
      reclaim_now();
      w->timer.cancel();
    }
    poke();  // a slot may be free: start the next run
  }

  void cancel() {
    for (auto& [uid, p] : passes_) p.cancel->emit(asio::cancellation_type::terminal);
  }

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

reconciler::reconciler(asio::any_io_executor ex, cluster& c, plugin_set_provider plugins, reconciler_options o)
    : impl_(std::make_shared<impl>(ex, c, std::move(plugins), std::move(o))) {
  impl_->init();
}
reconciler::~reconciler() = default;

void reconciler::on_event(run_kind kind, kube::watch_event ev) { impl_->on_event(kind, std::move(ev)); }
asio::awaitable<void> reconciler::run() { return impl_->run(); }
void reconciler::stop() {
  impl_->stopping_ = true;
  impl_->poke();
}
void reconciler::cancel() { impl_->cancel(); }
void reconciler::drop_unowned() { impl_->drop_unowned(); }
void reconciler::rescan(run_kind kind) { impl_->rescan(kind); }
void reconciler::hold_rescans(bool held) { impl_->rescans_held_ = held; }
std::size_t reconciler::queued() const { return impl_->queue_.ready(); }
std::size_t reconciler::in_flight() const { return impl_->passes_.size(); }
std::size_t reconciler::tracked() const { return impl_->entries_.size(); }

}  // namespace chainsd::reconciler
