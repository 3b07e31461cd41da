// One pass over a run: read it if its document was not kept, wait for a PipelineRun's
// children, plan → sign → log → store (pass.hpp), decide, and ONE patch (with upstream's
// finalizers removed); every failure becomes an outcome.
#include "reconciler/reconciler_impl.hpp"

namespace chainsd::reconciler {

namespace {

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

// A view older than our own last patch lacks what we wrote (retries, stored annotations).
void reconciler::impl::overlay(const entry& e, run_meta& meta) {
  if (e.patched_rv.empty() || older_version(e.patched_rv, meta.resource_version)) return;
  meta.resource_version = e.patched_rv;  // what the next write is conditioned on
  auto chains = annotation_bytes(meta.chains_annotations);
  meta.annotations_bytes = (meta.annotations_bytes > chains ? meta.annotations_bytes - chains : 0) +
                           annotation_bytes(*e.written);
  meta.chains_annotations = *e.written;
}

asio::awaitable<void> reconciler::impl::process(std::shared_ptr<impl> self, std::string uid) {
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

asio::awaitable<outcome> reconciler::impl::pass(std::string uid) {
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
std::string reconciler::impl::children_ready(const run_meta& meta, std::vector<std::string> listed, std::vector<std::string>& ready) {
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
asio::awaitable<outcome> reconciler::impl::write(outcome o, decision d, bool small) {
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
asio::awaitable<patch_outcome> reconciler::impl::strip_finalizers(run_meta meta, patch_outcome applied) {
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
asio::awaitable<outcome> reconciler::impl::remove_finalizers_only(outcome o) {
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

}  // namespace chainsd::reconciler
