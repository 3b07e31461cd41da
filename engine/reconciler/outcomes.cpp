// The ONE place an outcome takes effect: metrics, log line, queue (backoff, requeue, done),
// what is kept for a retry, the Warning Event to record.
#include "reconciler/reconciler_impl.hpp"

namespace chainsd::reconciler {

std::chrono::milliseconds reconciler::impl::backoff(int attempt) const {
  auto delay = opts_.retry_base * (1 << std::min(attempt < 0 ? 0 : attempt, 16));
  return delay > opts_.retry_max ? opts_.retry_max : delay;
}

void reconciler::impl::requeue_after(const std::string& uid, std::chrono::milliseconds d) {
  queue_.forget(uid);  // a new event meanwhile must not cut the backoff short
  queue_.done(uid);
  queue_.add_after(uid, d);
}

// Ends work on a run; `marked`: newer events can only say it is signed or failed.
void reconciler::impl::finish(const std::string& uid, bool marked) {
  auto it = entries_.find(uid);
  bool again = queue_.done(uid);
  if (it == entries_.end()) return;
  if (!marked && again && wants_work(it->second.meta)) return;  // new data came: queued again
  erase_entry(it);
}

// Returns the Warning Event to record (reason, message), if any.
std::optional<std::pair<std::string, std::string>> reconciler::impl::apply(const std::string& uid, const outcome& o) {
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
void reconciler::impl::keep_progress(entry& e) {
  auto p = e.progress;
  set_progress(e, p);  // recount: the pass added to it
  if (progress_bytes_ > opts_.max_progress_bytes && e.progress) {
    metrics_.progress_dropped->inc();
    log::warn("retry progress over --max-progress-mb; this run's retry starts afresh",
              {{"run", e.meta.key()}, {"uid", e.meta.uid}});
    set_progress(e, nullptr);
  }
}

}  // namespace chainsd::reconciler
