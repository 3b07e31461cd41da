// The loop: passes started up to --max-in-flight, each under its deadline; the slots passes
// lend while they wait on the transparency log and take back before new runs start;
// cancellation, HA drops and rescans.
#include "reconciler/reconciler_impl.hpp"

namespace chainsd::reconciler {

asio::awaitable<void> reconciler::impl::run() {
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

void reconciler::impl::start(const std::shared_ptr<impl>& self, std::string uid) {
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

void reconciler::impl::end_pass(const std::string& uid) {
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

void reconciler::impl::expire_deadlines() {
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

bool reconciler::impl::timed_out(const std::string& uid) const {
  auto it = passes_.find(uid);
  return it != passes_.end() && it->second.timed_out;
}

reconciler::impl::entry* reconciler::impl::lookup(const std::string& uid) {
  auto it = entries_.find(uid);
  return it == entries_.end() ? nullptr : &it->second;
}

void reconciler::impl::drop_unowned() {
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

void reconciler::impl::rescan(run_kind kind) {
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

asio::awaitable<void> reconciler::impl::rescan_runs(std::shared_ptr<impl> self, run_kind kind) {
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
bool reconciler::impl::lend() {
  if (log_waiting_ >= opts_.max_log_waiting) return false;
  --in_flight_;
  ++log_waiting_;
  slot_freed();
  return true;
}

asio::awaitable<void> reconciler::impl::reclaim() {
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

void reconciler::impl::reclaim_now() {
  ++in_flight_;  // may pass --max-in-flight for a moment only when the pass is cut
  --log_waiting_;
}

// A slot was given back or a pass ended: passes taking theirs back go before new runs.
void reconciler::impl::slot_freed() {
  while (!reclaimers_.empty() && in_flight_ < opts_.max_in_flight) {
    auto w = std::move(reclaimers_.front());
    reclaimers_.pop_front();
    w->granted = true;
    reclaim_now();
    w->timer.cancel();
  }
  poke();  // a slot may be free: start the next run
}

void reconciler::impl::cancel() {
  for (auto& [uid, p] : passes_) p.cancel->emit(asio::cancellation_type::terminal);
}

}  // namespace chainsd::reconciler
