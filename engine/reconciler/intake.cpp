// Which runs get work (cheap checks, no API calls) and the intake of watch events: the runs
// tracked, their kept documents (bounded), parked parents woken by their children.
#include "reconciler/reconciler_impl.hpp"

namespace chainsd::reconciler {

bool managed_by_allowed(const std::string& managed_by, const std::set<std::string>& allowed) {
  return managed_by.empty() || managed_by == "tekton.dev/pipeline" || allowed.count(managed_by) > 0;
}

std::string parent_key(const run_meta& child) {
  if (child.kind != run_kind::task_run || child.pipeline_run.empty()) return {};
  return child.namespace_name + "/" + child.pipeline_run;
}


bool reconciler::impl::in_scope(run_kind kind, std::string_view ns, std::string_view name) const {
  if (!opts_.namespaces.empty() && !opts_.namespaces.count(std::string(ns))) return false;
  return !opts_.owns || opts_.owns(kind, ns, name);
}

// Signing is wanted; else why not (for the debug log), in `why`.
bool reconciler::impl::wants_signing(const run_meta& m, const char** why) const {
  const char* no = nullptr;
  if (!m.done) no = "not done";
  else if (m.reconciled()) no = "already signed or failed";
  else if (m.deleting && !m.has_upstream_finalizer()) no = "being deleted";
  else if (auto set = plugins_(); set && !managed_by_allowed(m.managed_by, set->cfg->filter_managed_by))
    no = "managed by another controller (filter.managed-by)";
  if (why) *why = no;
  return !no;
}

bool reconciler::impl::wants_work(const run_meta& m, const char** why) const {
  if (!in_scope(m.kind, m.namespace_name, m.name)) {
    if (why) *why = "not in this replica's namespaces or buckets";
    return false;
  }
  // Upstream's finalizer is removed from every run that carries one, signed or not.
  return wants_signing(m, why) || m.has_upstream_finalizer();
}

void reconciler::impl::on_event(run_kind kind, kube::watch_event ev) {
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
void reconciler::impl::keep_json(entry& e, std::string json, bool always) {
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

void reconciler::impl::set_progress(entry& e, std::shared_ptr<run_progress> p) {
  progress_bytes_ -= e.progress_bytes;
  e.progress = std::move(p);
  e.progress_bytes = e.progress ? e.progress->bytes() : 0;
  progress_bytes_ += e.progress_bytes;
}

void reconciler::impl::erase_entry(std::unordered_map<std::string, entry>::iterator it) {
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

void reconciler::impl::unpark(entry& e) {
  if (e.park == parked::none) return;
  e.park = parked::none;
  --parked_count_;
  metrics_.parked->set(static_cast<double>(parked_count_));
}

void reconciler::impl::wake_parent(const std::string& parent) {
  auto p = parked_parents_.find(parent);
  if (p == parked_parents_.end()) return;
  auto it = entries_.find(p->second);
  if (it == entries_.end()) return;
  // A parent checking its children right now must look again: its list may predate this.
  if (it->second.park == parked::children) unpark(it->second);
  queue_.add(it->first);
  poke();
}

}  // namespace chainsd::reconciler
