#include "reconciler/reconciler.hpp"

#include "reconciler/sign_run.hpp"
#include "runtime/log.hpp"
#include "runtime/metrics.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>
#include <optional>

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

namespace chainsd::reconciler {

bool managed_by_allowed(const std::string& managed_by, const std::set<std::string>& allowed) {
  return managed_by.empty() || managed_by == "tekton.dev/pipeline" || allowed.count(managed_by) > 0;
}

pass_result next_annotations(const std::map<std::string, std::string>& existing,
                             std::map<std::string, std::string> stored, const std::vector<std::string>& errors,
                             bool permanent) {
  pass_result r;
  r.annotations = std::move(stored);
  for (const auto& [k, v] : existing) r.annotations.try_emplace(k, v);  // a stored value wins
  if (errors.empty()) {
    r.annotations[std::string(signed_annotation)] = "true";
    r.annotations.erase(std::string(error_annotation));
    return r;
  }
  std::string reason;
  for (const auto& e : errors) reason += (reason.empty() ? "" : "; ") + e;
  r.annotations[std::string(error_annotation)] = reason;
  // upstream's HandleRetry: no retries annotation → "0"; below the maximum → +1; else failed.
  auto it = existing.find(std::string(retries_annotation));
  int current = -1;
  bool parsable = true;
  if (it != existing.end()) {
    auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), current);
    parsable = ec == std::errc() && p == it->second.data() + it->second.size();
  }
  if (!permanent && parsable && current < max_retries) {
    r.retries = current + 1;
    r.annotations[std::string(retries_annotation)] = std::to_string(r.retries);
    r.retry = true;
  } else {
    r.annotations[std::string(signed_annotation)] = "failed";
    r.final_failure = true;
  }
  return r;
}

namespace {

std::optional<unsigned long long> rv_number(const std::string& rv) {
  unsigned long long v = 0;
  auto [p, ec] = std::from_chars(rv.data(), rv.data() + rv.size(), v);
  if (ec != std::errc() || p != rv.data() + rv.size()) return std::nullopt;
  return v;
}

// True when `rv` is known to be older than `than` (both numeric, as on every real API server).
bool older(const std::string& rv, const std::string& than) {
  auto a = rv_number(rv), b = rv_number(than);
  return a && b && *a < *b;
}

struct kind_metrics {
  metrics::counter* sign_created;
  metrics::counter* payload_stored;
  metrics::counter* marked_signed;
  metrics::counter* marked_failed;
  std::string failures_name;
};

kind_metrics make_kind_metrics(std::string_view k) {
  auto& r = metrics::global();
  std::string p = "watcher_" + std::string(k) + "_";
  return {&r.get_counter(p + "sign_created_total", "Total number of signed messages"),
          &r.get_counter(p + "payload_stored_total", "Total number of stored payloads"),
          &r.get_counter(p + "marked_signed_total", "Total number of objects marked as signed"),
          &r.get_counter(p + "marked_failed_total", "Total number of objects marked as failed after retries"),
          p + "signing_failures_total"};
}

}  // namespace

struct reconciler::impl : std::enable_shared_from_this<impl> {
  enum class state { queued, in_flight, parked, waiting_retry };

  struct entry {
    run_kind kind = run_kind::task_run;
    std::string json;
    run_meta meta;
    state st = state::queued;
    bool dirty = false;  // newer data arrived while in flight
    bool fetch = false;  // the document was not kept (max_queued_json_bytes): read it again
    // What we last wrote, to overlay a view older than our own patch.
    std::string patched_rv;
    shared_annotations written;  // set with patched_rv
  };

  impl(asio::any_io_executor ex, cluster& c, plugin_set_provider p, reconciler_options o)
      : ex_(ex), cluster_(c), plugins_(std::move(p)), opts_(std::move(o)), wake_(ex) {
    wake_.expires_at(clock_type::time_point::max());
    auto& r = metrics::global();
    queue_depth_ = &r.get_gauge("chainsd_queue_depth", "Runs waiting to be processed");
    in_flight_gauge_ = &r.get_gauge("chainsd_runs_in_flight", "Runs being signed now");
    latency_ = &r.get_histogram("chainsd_reconcile_duration_seconds", "Time to sign, store and patch one run",
                                {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
    tr_ = make_kind_metrics("taskrun");
    pr_ = make_kind_metrics("pipelinerun");
  }

  kind_metrics& km(run_kind k) { return k == run_kind::task_run ? tr_ : pr_; }

  void poke() { wake_.cancel(); }

  void update_gauges() {
    queue_depth_->set(static_cast<double>(ready_.size()));
    in_flight_gauge_->set(static_cast<double>(in_flight_));
  }

  // Should a run in this state get work at all? (cheap checks, no API calls)
  bool wants_work(const run_meta& m) const {
    if (!m.done || m.deleting || m.reconciled()) return false;
    if (!opts_.namespaces.empty() && !opts_.namespaces.count(m.namespace_name)) return false;
    auto set = plugins_();
    if (set && !managed_by_allowed(m.managed_by, set->cfg->filter_managed_by)) return false;
    return true;
  }

  void on_event(run_kind kind, kube::watch_event ev) {
    if (stopping_) return;
    const std::string& uid = ev.uid;
    if (ev.type == kube::event_type::deleted) {
      forget_patched(uid);
      auto it = entries_.find(uid);
      if (it != entries_.end() && it->second.st != state::in_flight) erase_entry(it);
      return;
    }
    // Our own patch's echo (or anything newer) ends the "ignore older events" window.
    if (auto p = patched_.find(uid); p != patched_.end()) {
      if (ev.resource_version == p->second.rv && !entries_.count(uid)) {
        // Exactly the version our patch made, which marked the run: nothing to read in it (tens
        // of KB with the stored payloads). Only a parent waiting for this child needs to know.
        std::string parent = std::move(p->second.parent);
        patched_.erase(p);
        if (!parent.empty()) wake_parent(parent);
        return;
      }
      if (ev.resource_version == p->second.rv || older(p->second.rv, ev.resource_version)) {
        patched_.erase(p);
      } else {
        return;  // predates the patch we wrote: stale
      }
    }
    run_meta meta;
    try {
      meta = parse_run_meta(ev.object, kind);
    } catch (const std::exception& e) {
      log::error("ignoring run event that cannot be read",
                 {{"run", ev.namespace_name + "/" + ev.name}, {"uid", uid}, {"error", e.what()}});
      return;
    }
    if (kind == run_kind::task_run && !meta.pipeline_run.empty() && meta.reconciled()) wake_parent(meta);

    auto it = entries_.find(uid);
    if (it != entries_.end()) {
      auto& e = it->second;
      if (e.st == state::in_flight) {
        keep_json(e, std::move(ev.object), true);
        e.meta = std::move(meta);
        e.dirty = true;
        return;
      }
      if (!wants_work(meta)) {
        erase_entry(it);
        return;
      }
      keep_json(e, std::move(ev.object), false);
      e.meta = std::move(meta);
      if (e.st == state::parked) enqueue(uid, e);
      return;  // queued: picks up the new data; waiting_retry: keeps its backoff
    }
    if (!wants_work(meta)) return;
    entry e;
    e.kind = kind;
    e.meta = std::move(meta);
    auto [ins, ok] = entries_.emplace(uid, std::move(e));
    keep_json(ins->second, std::move(ev.object), false);
    enqueue(uid, ins->second);
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

  void enqueue(const std::string& uid, entry& e) {
    e.st = state::queued;
    ready_.push_back(uid);
    update_gauges();
    poke();
  }

  void erase_entry(std::unordered_map<std::string, entry>::iterator it) {
    if (it->second.kind == run_kind::pipeline_run) parked_parents_.erase(it->second.meta.key());
    kept_json_bytes_ -= it->second.json.size();
    entries_.erase(it);
  }

  static std::string parent_key(const run_meta& child) {
    if (child.kind != run_kind::task_run || child.pipeline_run.empty()) return {};
    return child.namespace_name + "/" + child.pipeline_run;
  }
  void wake_parent(const run_meta& child) { wake_parent(parent_key(child)); }
  void wake_parent(const std::string& parent) {
    auto p = parked_parents_.find(parent);
    if (p == parked_parents_.end()) return;
    auto it = entries_.find(p->second);
    if (it == entries_.end()) return;
    // A parent checking its children right now must look again: its list may predate this.
    if (it->second.st == state::in_flight) it->second.dirty = true;
    if (it->second.st == state::parked) enqueue(it->first, it->second);
  }

  // A patch that marked a run (signed or failed): its echo is recognised by version, and a
  // parent waiting for this child is woken then.
  void remember_patched(const std::string& uid, const std::string& rv, const run_meta& meta) {
    patched_[uid] = {rv, clock_type::now() + opts_.patched_memory, parent_key(meta)};
  }
  void forget_patched(const std::string& uid) { patched_.erase(uid); }

  void schedule_retry(const std::string& uid, entry& e, int attempt) {
    e.st = state::waiting_retry;
    auto delay = opts_.retry_base * (1 << std::min(attempt < 0 ? 0 : attempt, 16));
    if (delay > opts_.retry_max) delay = opts_.retry_max;
    delayed_.emplace(clock_type::now() + delay, uid);
    poke();
  }

  asio::awaitable<void> run() {
    auto self = shared_from_this();
    while (!stopping_ || in_flight_ > 0) {
      auto now = clock_type::now();
      while (!stopping_ && !delayed_.empty() && delayed_.begin()->first <= now) {
        auto uid = delayed_.begin()->second;
        delayed_.erase(delayed_.begin());
        auto it = entries_.find(uid);
        if (it != entries_.end() && it->second.st == state::waiting_retry) enqueue(uid, it->second);
      }
      if (now >= next_sweep_) {  // O(notes): at most once a second, not per wake-up
        next_sweep_ = now + std::chrono::seconds(1);
        for (auto it = patched_.begin(); it != patched_.end();) {
          it = it->second.expires < now ? patched_.erase(it) : std::next(it);
        }
      }
      while (!stopping_ && in_flight_ < opts_.max_in_flight && !ready_.empty()) {
        auto uid = std::move(ready_.front());
        ready_.pop_front();
        auto it = entries_.find(uid);
        if (it == entries_.end() || it->second.st != state::queued) continue;
        it->second.st = state::in_flight;
        ++in_flight_;
        auto done = [self, uid](std::exception_ptr ex) {
          if (ex) {
            try {
              std::rethrow_exception(ex);
            } catch (const std::exception& e) {
              log::error("reconcile failed unexpectedly", {{"uid", uid}, {"error", e.what()}});
            }
            // Leave the run for a later pass rather than losing it.
            auto it = self->entries_.find(uid);
            if (it != self->entries_.end()) self->schedule_retry(uid, it->second, 0);
          }
          --self->in_flight_;
          self->update_gauges();
          self->poke();
        };
        asio::co_spawn(ex_, process(self, uid), done);
      }
      update_gauges();
      if (stopping_ && in_flight_ == 0) break;
      wake_.expires_at(!stopping_ && !delayed_.empty() ? delayed_.begin()->first : clock_type::time_point::max());
      if (!patched_.empty() && !stopping_) {
        auto next_expiry = clock_type::now() + std::chrono::seconds(30);
        if (next_expiry < wake_.expiry()) wake_.expires_at(next_expiry);
      }
      co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  static asio::awaitable<void> process(std::shared_ptr<impl> self, std::string uid) {
    auto started = clock_type::now();
    auto it = self->entries_.find(uid);
    if (it == self->entries_.end()) co_return;
    entry* e = &it->second;
    e->dirty = false;
    run_meta meta = e->meta;
    std::string json = e->json;
    // A view older than our own last patch lacks what we wrote (retries, stored annotations).
    if (!e->patched_rv.empty() && !older(e->patched_rv, meta.resource_version)) meta.chains_annotations = *e->written;
    if (!self->wants_work(meta)) {
      self->finish(uid, false);
      co_return;
    }
    if (e->fetch) {
      // Queued while the kept documents were at their bound: read the run as it is now.
      auto got = co_await self->cluster_.get_run(meta);
      e = self->lookup(uid);
      if (!e) co_return;
      if (got.not_found) {
        log::info("run deleted before it could be signed", {{"run", meta.key()}, {"uid", uid}});
        self->finish(uid, false);
        co_return;
      }
      if (!got.ok) {
        log::warn("cannot read queued run; will retry", {{"run", meta.key()}, {"uid", uid}, {"error", got.error}});
        self->schedule_retry(uid, *e, 0);
        co_return;
      }
      try {
        e->meta = parse_run_meta(got.json, meta.kind);
        meta = e->meta;
        if (!e->patched_rv.empty() && !older(e->patched_rv, meta.resource_version))
          meta.chains_annotations = *e->written;
      } catch (const std::exception& ex) {
        log::error("ignoring run that cannot be read", {{"run", meta.key()}, {"uid", uid}, {"error", ex.what()}});
        self->finish(uid, false);
        co_return;
      }
      self->keep_json(*e, got.json, true);
      json = std::move(got.json);
      if (!self->wants_work(meta)) {
        self->finish(uid, false);
        co_return;
      }
    }
    auto set = self->plugins_();

    std::vector<std::string> children;
    if (meta.kind == run_kind::pipeline_run && !meta.child_taskruns.empty()) {
      // Registered before listing, so a child signed meanwhile marks this pass dirty.
      self->parked_parents_[meta.key()] = uid;
      auto listed = co_await self->cluster_.list_child_taskruns(meta.namespace_name, meta.name);
      e = self->lookup(uid);
      if (!e) co_return;
      if (!listed) {
        log::warn("cannot list child taskruns; will retry", {{"run", meta.key()}, {"uid", uid}});
        self->schedule_retry(uid, *e, 0);
        co_return;
      }
      std::map<std::string, std::string> by_name;
      for (auto& c : *listed) {
        try {
          auto cm = parse_run_meta(c, run_kind::task_run);
          by_name.emplace(cm.name, std::move(c));
        } catch (const std::exception&) {
        }
      }
      for (const auto& name : meta.child_taskruns) {
        auto c = by_name.find(name);
        std::string why;
        if (c == by_name.end()) {
          why = "not found";
        } else {
          auto cm = parse_run_meta(c->second, run_kind::task_run);
          if (!cm.has_completion_time) why = "not complete";
          else if (!cm.reconciled()) why = "not yet signed";
          else children.push_back(c->second);
        }
        if (!why.empty()) {
          log::info("pipelinerun waits for its taskrun",
                    {{"run", meta.key()}, {"uid", uid}, {"taskrun", name}, {"state", why}});
          e->st = state::parked;
          self->parked_parents_[meta.key()] = uid;
          if (e->dirty) self->enqueue(uid, *e);
          co_return;
        }
      }
    }

    auto outcome = co_await sign_run(set, meta, std::move(json), std::move(children));
    auto& m = self->km(meta.kind);
    m.sign_created->inc(outcome.signed_count);
    m.payload_stored->inc(outcome.stored_count);
    if (!outcome.error_type.empty())
      metrics::global()
          .get_counter(m.failures_name, "Total number of signing failures", {{"error_type", outcome.error_type}})
          .inc();

    auto pass = next_annotations(meta.chains_annotations, std::move(outcome.annotations), outcome.errors,
                                 outcome.permanent);
    auto applied = std::make_shared<const std::map<std::string, std::string>>(std::move(pass.annotations));
    auto patched = co_await self->cluster_.apply_annotations(meta, applied);
    e = self->lookup(uid);
    if (!e) co_return;
    if (patched.not_found) {
      log::info("run deleted before it could be marked", {{"run", meta.key()}, {"uid", uid}});
      self->finish(uid, false);
      co_return;
    }
    if (!patched.ok) {
      log::error("cannot write annotations; will retry",
                 {{"run", meta.key()}, {"uid", uid}, {"error", patched.error}});
      self->schedule_retry(uid, *e, 1);
      co_return;
    }
    e->patched_rv = patched.resource_version;
    e->written = std::move(applied);
    std::string error_reason;  // what the error annotation now says (the entry may be erased below)
    if (auto it = e->written->find(std::string(error_annotation)); it != e->written->end()) error_reason = it->second;
    self->latency_->observe(std::chrono::duration<double>(clock_type::now() - started).count());
    if (outcome.errors.empty()) {
      m.marked_signed->inc();
      log::info("run signed", {{"run", meta.key()}, {"kind", meta.kind_name()}, {"uid", uid},
                               {"signatures", std::to_string(outcome.signed_count)}});
      self->remember_patched(uid, patched.resource_version, meta);
      self->finish(uid, true);
    } else if (pass.final_failure) {
      m.marked_failed->inc();
      log::error("run marked failed",
                 {{"run", meta.key()}, {"kind", meta.kind_name()}, {"uid", uid}, {"error", error_reason}});
      self->remember_patched(uid, patched.resource_version, meta);
      self->finish(uid, true);
      co_await self->cluster_.record_event(meta, "Warning", "SigningFailed", error_reason);
    } else {
      log::warn("signing failed; will retry",
                {{"run", meta.key()}, {"uid", uid}, {"retries", std::to_string(pass.retries)},
                 {"error", error_reason}});
      self->schedule_retry(uid, *e, pass.retries);
    }
  }

  entry* lookup(const std::string& uid) {
    auto it = entries_.find(uid);
    return it == entries_.end() ? nullptr : &it->second;
  }

  // Ends work on a run. When it was marked, newer events can only say so; drop them.
  void finish(const std::string& uid, bool marked) {
    auto it = entries_.find(uid);
    if (it == entries_.end()) return;
    if (!marked && it->second.dirty && wants_work(it->second.meta)) {
      enqueue(uid, it->second);
      return;
    }
    erase_entry(it);
  }

  asio::any_io_executor ex_;
  cluster& cluster_;
  plugin_set_provider plugins_;
  reconciler_options opts_;
  asio::steady_timer wake_;
  bool stopping_ = false;
  std::size_t in_flight_ = 0;
  std::size_t kept_json_bytes_ = 0;  // documents of entries (see keep_json)
  std::unordered_map<std::string, entry> entries_;
  std::deque<std::string> ready_;
  std::multimap<clock_type::time_point, std::string> delayed_;
  std::unordered_map<std::string, std::string> parked_parents_;  // "ns/name" → uid
  struct patched_note {
    std::string rv;
    clock_type::time_point expires;
    std::string parent;  // "ns/name" of the PipelineRun of a TaskRun, or empty
  };
  std::unordered_map<std::string, patched_note> patched_;
  clock_type::time_point next_sweep_{};
  metrics::gauge* queue_depth_;
  metrics::gauge* in_flight_gauge_;
  metrics::histogram* latency_;
  kind_metrics tr_, pr_;
};

reconciler::reconciler(asio::any_io_executor ex, cluster& c, plugin_set_provider plugins, reconciler_options o)
    : impl_(std::make_shared<impl>(ex, c, std::move(plugins), std::move(o))) {}
reconciler::~reconciler() = default;

void reconciler::on_event(run_kind kind, kube::watch_event ev) { impl_->on_event(kind, std::move(ev)); }
asio::awaitable<void> reconciler::run() { return impl_->run(); }
void reconciler::stop() {
  impl_->stopping_ = true;
  impl_->poke();
}
std::size_t reconciler::queued() const { return impl_->ready_.size(); }
std::size_t reconciler::in_flight() const { return impl_->in_flight_; }
std::size_t reconciler::tracked() const { return impl_->entries_.size(); }

}  // namespace chainsd::reconciler
