#include "store.hpp"

#include "validation.hpp"

#include <algorithm>

namespace chainsd::testserver {
namespace {

json::object& metadata_of(json::value& obj) {
  json::value& md = obj.as_object()["metadata"];
  if (!md.is_object()) md = json::object{};
  return md.get_object();
}

[[noreturn]] void conflict_modified(const resource_type& t, std::string_view name) {
  throw api_error(409, "Conflict",
                  "Operation cannot be fulfilled on " + t.qualified() + " \"" + std::string(name) +
                      "\": the object has been modified; please apply your changes to the latest "
                      "version and try again");
}

// Everything but metadata and status: what a generation bump is about.
bool spec_changed(const json::value& a, const json::value& b) {
  const json::object& x = a.get_object();
  const json::object& y = b.get_object();
  auto counted = [](std::string_view k) { return k != "metadata" && k != "status"; };
  std::size_t nx = 0, ny = 0;
  for (const auto& kv : x) {
    if (!counted(kv.key())) continue;
    ++nx;
    auto it = y.find(kv.key());
    if (it == y.end() || it->value() != kv.value()) return true;
  }
  for (const auto& kv : y)
    if (counted(kv.key())) ++ny;
  return nx != ny;
}

// Scratch memory for the parsed trees of one write. A 10 KB object parses into hundreds of small
// nodes; freeing those through malloc's bins next to 100k long-lived 10 KB strings made glibc's
// consolidation the top of the profile. An arena is dropped in one piece.
class scratch_arena {
 public:
  scratch_arena() : buf_(acquire()), mr_(buf_.get(), size) {}
  ~scratch_arena() { pool().push_back(std::move(buf_)); }
  scratch_arena(const scratch_arena&) = delete;
  scratch_arena& operator=(const scratch_arena&) = delete;
  json::storage_ptr storage() { return json::storage_ptr(&mr_); }

 private:
  static constexpr std::size_t size = 1 << 20;
  static std::vector<std::unique_ptr<unsigned char[]>>& pool() {
    static std::vector<std::unique_ptr<unsigned char[]>> p;
    return p;
  }
  static std::unique_ptr<unsigned char[]> acquire() {
    auto& p = pool();
    if (p.empty()) return std::make_unique<unsigned char[]>(size);
    auto b = std::move(p.back());
    p.pop_back();
    return b;
  }
  std::unique_ptr<unsigned char[]> buf_;
  json::monotonic_resource mr_;
};

}  // namespace

std::string_view event_type_name(event_type t) {
  switch (t) {
    case event_type::added: return "ADDED";
    case event_type::modified: return "MODIFIED";
    case event_type::deleted: return "DELETED";
    case event_type::bookmark: return "BOOKMARK";
    case event_type::error: return "ERROR";
  }
  return "ERROR";
}

store::store(const resource_registry& registry, std::size_t history_limit,
             std::size_t watcher_queue_limit, bool lenient_status)
    : registry_(registry),
      history_limit_(history_limit),
      watcher_queue_limit_(watcher_queue_limit),
      lenient_status_(lenient_status),
      objects_(registry.all().size()),
      watchers_(registry.all().size()) {}

std::size_t store::object_count() const {
  std::size_t n = 0;
  for (const auto& m : objects_) n += m.size();
  return n;
}

std::size_t store::watcher_count() const {
  std::size_t n = 0;
  for (const auto& w : watchers_) n += w.size();
  return n;
}

void store::compact() {
  history_.clear();
  compacted_rv_ = rv_;
}

std::string store::key_of(const resource_type& t, const std::string& ns, const std::string& name) const {
  return t.namespaced ? ns + "/" + name : name;
}

object_ptr store::find(std::size_t res, const std::string& ns, const std::string& name) const {
  const auto& m = objects_[res];
  auto it = m.find(key_of(registry_.at(res), ns, name));
  return it == m.end() ? nullptr : it->second;
}

void store::not_found(std::size_t res, const std::string& name) const {
  throw api_error(404, "NotFound", registry_.at(res).qualified() + " \"" + name + "\" not found");
}

object_ptr store::get(std::size_t res, const std::string& ns, const std::string& name) const {
  object_ptr o = find(res, ns, name);
  if (!o) not_found(res, name);
  return o;
}

bool store::matches(const watch_filter& f, const stored_object& o) const {
  if (!f.ns.empty() && o.ns != f.ns) return false;
  if (!f.labels.empty() && !f.labels.matches(o.labels)) return false;
  if (!f.fields.empty() && !f.fields.matches(o.ns, o.name, o.bytes)) return false;
  return true;
}

list_result store::list(std::size_t res, const std::string& ns, const label_selector& labels,
                        const field_selector& fields, std::size_t limit,
                        std::string_view token) const {
  const resource_type& t = registry_.at(res);
  const auto& m = objects_[res];
  list_result out;
  out.rv = rv_;
  std::string prefix = (t.namespaced && !ns.empty()) ? ns + "/" : "";
  auto it = prefix.empty() ? m.begin() : m.lower_bound(prefix);
  std::uint64_t snap_id = 0;
  std::size_t offset = 0;
  if (!token.empty()) {
    std::string decoded;
    boost::system::error_code ec;
    json::value v;
    if (base64url_decode(token, decoded)) v = json::parse(decoded, ec);
    if (ec || !v.is_object() || !v.get_object().contains("start"))
      throw api_error(400, "BadRequest", "continue key is not valid: " + std::string(token));
    const json::object& o = v.get_object();
    std::string start(o.at("start").as_string());
    if (!start.empty() && start.back() == '\0') start.pop_back();
    it = m.upper_bound(start);
    if (auto rv = o.if_contains("rv"); rv && rv->is_number()) out.rv = rv->to_number<std::uint64_t>();
    if (auto id = o.if_contains("snap"); id && id->is_number()) snap_id = id->to_number<std::uint64_t>();
    if (auto off = o.if_contains("off"); off && off->is_number()) offset = off->to_number<std::size_t>();
  }
  auto token_for = [&](std::uint64_t id, std::size_t next_offset) {
    const object_ptr& last = out.items.back();
    json::object o{{"v", "meta.k8s.io/v1"},
                   {"rv", out.rv},
                   {"start", key_of(t, last->ns, last->name) + std::string(1, '\0')}};
    if (id) {
      o["snap"] = id;
      o["off"] = next_offset;
    }
    return base64url_encode(json::serialize(o));
  };

  // Later pages come from the snapshot taken by the first one, as etcd serves them at the first
  // page's revision. Records are immutable, so a snapshot is only a vector of pointers.
  auto now = std::chrono::steady_clock::now();
  for (auto s = snapshots_.begin(); s != snapshots_.end();)
    s = now - s->second.created > snapshot_ttl ? snapshots_.erase(s) : std::next(s);
  if (auto s = snapshots_.find(snap_id); snap_id && s != snapshots_.end()) {
    const auto& all = s->second.items;
    std::size_t end = limit ? std::min(all.size(), offset + limit) : all.size();
    for (std::size_t i = std::min(offset, all.size()); i < end; ++i) out.items.push_back(all[i]);
    if (end < all.size() && !out.items.empty()) out.continue_token = token_for(snap_id, end);
    else snapshots_.erase(s);
    return out;
  }

  // First page (or a snapshot that was evicted: then resume after the last key, like an
  // unpaginated read of the current state).
  auto selected = [&](const object_ptr& o) {
    return (labels.empty() || labels.matches(o->labels)) &&
           (fields.empty() || fields.matches(o->ns, o->name, o->bytes));
  };
  auto in_scope = [&](const std::string& key) {
    return prefix.empty() || key.compare(0, prefix.size(), prefix) == 0;
  };
  for (; it != m.end() && in_scope(it->first); ++it) {
    if (!selected(it->second)) continue;
    if (limit && out.items.size() == limit) {
      // kube hands out a token only when more items exist.
      if (token.empty()) {
        std::vector<object_ptr> all = out.items;
        for (; it != m.end() && in_scope(it->first); ++it)
          if (selected(it->second)) all.push_back(it->second);
        std::uint64_t id = ++next_snapshot_;
        snapshots_.emplace(id, snapshot{now, std::move(all)});
        while (snapshots_.size() > max_snapshots) snapshots_.erase(snapshots_.begin());
        out.continue_token = token_for(id, limit);
      } else {
        out.continue_token = token_for(0, 0);
      }
      break;
    }
    out.items.push_back(it->second);
  }
  return out;
}

object_ptr store::commit(std::size_t res, json::value obj, event_type type, object_ptr prev, bool emit,
                          bool client_write) {
  const resource_type& t = registry_.at(res);
  std::uint64_t rv = rv_ + 1;
  json::object& md = metadata_of(obj);
  md["resourceVersion"] = std::to_string(rv);
  auto rec = std::make_shared<stored_object>();
  rec->ns = t.namespaced ? std::string(string_at(md, "namespace")) : std::string();
  rec->name = std::string(string_at(md, "name"));
  rec->rv = rv;
  rec->labels = labels_of(obj.get_object());
  rec->bytes = to_json(obj);
  // etcd's --max-request-bytes (1.5 MiB by default) refuses the write; kube-apiserver passes the
  // plain etcd error on as a 500 without a reason (kubernetes#112152). Measured on our JSON: kube
  // stores custom resources as JSON, built-in kinds as (for string data similarly sized) protobuf.
  if (client_write && rec->bytes.size() > etcd_max_request_bytes)
    throw api_error(500, "", "etcdserver: request is too large");
  rv_ = rv;
  object_ptr ptr = rec;
  std::string key = key_of(t, rec->ns, rec->name);
  if (type == event_type::deleted) objects_[res].erase(key);
  else objects_[res][key] = ptr;
  if (!emit) {
    compacted_rv_ = rv_;
    return ptr;
  }
  event e{rv, res, type, ptr, prev};
  fan_out(e);
  history_.push_back(std::move(e));
  while (history_.size() > history_limit_) {
    compacted_rv_ = history_.front().rv;
    history_.pop_front();
  }
  return ptr;
}

void store::fan_out(const event& e) {
  for (watcher* w : watchers_[e.resource]) {
    if (w->overflow) continue;
    bool now = matches(w->filter, *e.obj);
    bool before = e.prev && e.type == event_type::modified ? matches(w->filter, *e.prev) : now;
    event_type type = e.type;
    if (e.type == event_type::modified) {
      if (!now && !before) continue;
      if (now && !before) type = event_type::added;
      if (!now && before) type = event_type::deleted;
    } else if (!now) {
      continue;
    }
    w->queue.push_back(frame{type, std::shared_ptr<const std::string>(e.obj, &e.obj->bytes)});
    if (w->queue.size() > watcher_queue_limit_) {
      w->overflow = true;
      w->queue.clear();
    }
    if (w->notify) w->notify();
  }
}

std::vector<frame> store::start_watch(watcher& w, std::string_view rv_text) {
  std::vector<frame> initial;
  if (rv_text.empty() || rv_text == "0") {
    const resource_type& t = registry_.at(w.filter.resource);
    const auto& m = objects_[w.filter.resource];
    std::string prefix = (t.namespaced && !w.filter.ns.empty()) ? w.filter.ns + "/" : "";
    for (auto it = prefix.empty() ? m.begin() : m.lower_bound(prefix); it != m.end(); ++it) {
      if (!prefix.empty() && it->first.compare(0, prefix.size(), prefix) != 0) break;
      if (!matches(w.filter, *it->second)) continue;
      initial.push_back(frame{event_type::added,
                              std::shared_ptr<const std::string>(it->second, &it->second->bytes)});
    }
  } else {
    std::uint64_t rv;
    if (!parse_uint(rv_text, rv))
      throw api_error(400, "BadRequest", "invalid resource version: " + std::string(rv_text));
    if (rv < compacted_rv_) throw api_error(410, "Expired", "too old resource version: " + std::string(rv_text) + " (" + std::to_string(compacted_rv_) + ")");
    auto it = std::upper_bound(history_.begin(), history_.end(), rv,
                               [](std::uint64_t v, const event& e) { return v < e.rv; });
    for (; it != history_.end(); ++it) {
      const event& e = *it;
      if (e.resource != w.filter.resource) continue;
      bool now = matches(w.filter, *e.obj);
      bool before = e.prev && e.type == event_type::modified ? matches(w.filter, *e.prev) : now;
      event_type type = e.type;
      if (e.type == event_type::modified) {
        if (!now && !before) continue;
        if (now && !before) type = event_type::added;
        if (!now && before) type = event_type::deleted;
      } else if (!now) {
        continue;
      }
      initial.push_back(frame{type, std::shared_ptr<const std::string>(e.obj, &e.obj->bytes)});
    }
  }
  watchers_[w.filter.resource].push_back(&w);
  return initial;
}

void store::stop_watch(watcher& w) {
  auto& v = watchers_[w.filter.resource];
  v.erase(std::remove(v.begin(), v.end(), &w), v.end());
}

std::shared_ptr<const std::string> store::bookmark_object(std::size_t res, bool initial_events_end) const {
  const resource_type& t = registry_.at(res);
  json::object md{{"resourceVersion", std::to_string(rv_)}};
  if (initial_events_end) md["annotations"] = json::object{{"k8s.io/initial-events-end", "true"}};
  json::object o{{"kind", t.kind}, {"apiVersion", t.api_version()}, {"metadata", std::move(md)}};
  return std::make_shared<const std::string>(to_json(o));
}

std::shared_ptr<const std::string> store::status_object(unsigned code, std::string_view reason,
                                                        std::string_view message) {
  json::object o{{"kind", "Status"},
                 {"apiVersion", "v1"},
                 {"metadata", json::object{}},
                 {"status", "Failure"},
                 {"message", message},
                 {"reason", reason},
                 {"code", code}};
  return std::make_shared<const std::string>(to_json(o));
}

void store::ensure_namespace(const std::string& ns, bool emit) {
  auto nsi = registry_.namespaces_index();
  if (!nsi || ns.empty() || find(*nsi, "", ns)) return;
  json::value obj = json::object{
      {"apiVersion", "v1"},
      {"kind", "Namespace"},
      {"metadata", json::object{{"name", ns},
                                {"uid", random_uuid()},
                                {"creationTimestamp", now_rfc3339()},
                                {"labels", json::object{{"kubernetes.io/metadata.name", ns}}}}},
      {"spec", json::object{{"finalizers", json::array{"kubernetes"}}}},
      {"status", json::object{{"phase", "Active"}}}};
  commit(*nsi, std::move(obj), event_type::added, nullptr, emit);
  // kube-controller-manager gives every namespace a "default" service account; TokenRequest
  // tests rely on it.
  if (auto sa = registry_.find("", "v1", "serviceaccounts"); sa && !find(*sa, ns, "default")) {
    json::value acct = json::object{
        {"apiVersion", "v1"},
        {"kind", "ServiceAccount"},
        {"metadata", json::object{{"name", "default"},
                                  {"namespace", ns},
                                  {"uid", random_uuid()},
                                  {"creationTimestamp", now_rfc3339()}}}};
    commit(*sa, std::move(acct), event_type::added, nullptr, emit);
  }
}

void store::prepare_new(std::size_t res, const std::string& ns, json::value& body) {
  const resource_type& t = registry_.at(res);
  if (!body.is_object()) throw api_error(400, "BadRequest", "the body of the request was not a JSON object");
  json::object& o = body.get_object();
  std::string_view kind = string_at(o, "kind");
  std::string_view api_version = string_at(o, "apiVersion");
  if (!kind.empty() && kind != t.kind)
    throw api_error(400, "BadRequest", "the kind of the object (" + std::string(kind) +
                                           ") does not match the kind of the request (" + t.kind + ")");
  if (!api_version.empty() && api_version != t.api_version())
    throw api_error(400, "BadRequest", "the API version in the data (" + std::string(api_version) +
                                           ") does not match the expected API version (" +
                                           t.api_version() + ")");
  o["kind"] = t.kind;
  o["apiVersion"] = t.api_version();
  json::object& md = metadata_of(body);
  // As rest.BeforeCreate: the generated name is the prefix (at most 58 characters) and five
  // random ones; validation then sees both.
  if (string_at(md, "name").empty() && !string_at(md, "generateName").empty())
    md["name"] = std::string(string_at(md, "generateName").substr(0, 58)) + random_suffix();
  if (t.namespaced) {
    std::string_view body_ns = string_at(md, "namespace");
    if (!body_ns.empty() && body_ns != ns)
      throw api_error(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
    md["namespace"] = ns;
  } else {
    md.erase("namespace");
  }
  check_object_meta(t, md, true);
  // etcd3's store refuses a resourceVersion that parses as a non-zero number with a plain error
  // (storage.ErrResourceVersionSetOnCreate), which the API turns into a 500 without a reason.
  if (std::uint64_t rv = 0; parse_uint(string_at(md, "resourceVersion"), rv) && rv != 0)
    throw api_error(500, "", "resourceVersion should not be set on objects to be created");
  md["uid"] = random_uuid();
  md["creationTimestamp"] = now_rfc3339();
  md.erase("resourceVersion");
  md.erase("deletionTimestamp");
  md.erase("deletionGracePeriodSeconds");
  if (t.custom) md["generation"] = 1;
  if (t.status_subresource && !lenient_status_) o.erase("status");
  // SetDefaults_Secret.
  if (t.group.empty() && t.resource == "secrets" && string_at(o, "type").empty()) o["type"] = "Opaque";
}

object_ptr store::create(std::size_t res, const std::string& ns, json::value body, const write_options& opt) {
  const resource_type& t = registry_.at(res);
  if (t.namespaced && ns.empty()) throw api_error(404, "NotFound", "the server could not find the requested resource");
  prepare_new(res, ns, body);
  std::string name(string_at(metadata_of(body), "name"));
  if (find(res, ns, name))
    throw api_error(409, "AlreadyExists", t.qualified() + " \"" + name + "\" already exists");
  field_manager_context ctx{opt.manager, t.api_version(), "", !t.status_subresource || lenient_status_, false};
  metadata_of(body).erase("managedFields");
  record_update(nullptr, body, ctx);
  if (t.namespaced) ensure_namespace(ns, true);
  if (opt.dry_run) {
    auto rec = std::make_shared<stored_object>();
    rec->ns = ns;
    rec->name = name;
    rec->bytes = to_json(body);
    return rec;
  }
  if (t.resource == "namespaces" && t.group.empty()) {
    // Keep the kube defaults a real namespace gets.
    json::object& o = body.get_object();
    if (!o.contains("spec")) o["spec"] = json::object{{"finalizers", json::array{"kubernetes"}}};
    o["status"] = json::object{{"phase", "Active"}};
    json::value& labels = metadata_of(body)["labels"];
    if (!labels.is_object()) labels = json::object{};
    labels.get_object()["kubernetes.io/metadata.name"] = name;
    object_ptr p = commit(res, std::move(body), event_type::added, nullptr, true, true);
    ensure_namespace(name, true);  // adds the default service account
    return p;
  }
  return commit(res, std::move(body), event_type::added, nullptr, true, true);
}

object_ptr store::finish_update(std::size_t res, object_ptr existing, const json::value& old_value,
                                json::value next, const write_options& opt, bool record_fields) {
  const resource_type& t = registry_.at(res);
  json::object& md = metadata_of(next);
  const json::object& old_md = old_value.get_object().at("metadata").get_object();
  // Identity and server-owned fields cannot be changed by clients.
  for (const char* k : {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"}) {
    if (auto it = old_md.find(k); it != old_md.end()) md[k] = it->value();
    else md.erase(k);
  }
  if (!md.contains("managedFields") && old_md.contains("managedFields"))
    md["managedFields"] = old_md.at("managedFields");
  md["name"] = existing->name;
  if (t.namespaced) md["namespace"] = existing->ns;
  md["resourceVersion"] = std::to_string(existing->rv);
  next.get_object()["kind"] = t.kind;
  next.get_object()["apiVersion"] = t.api_version();
  bool status_only = opt.subresource == "status";
  if (t.status_subresource && !lenient_status_) {
    if (status_only) {
      // /status changes status (and nothing else) — kube ignores the rest of the body.
      json::value merged = old_value;
      auto it = next.get_object().find("status");
      if (it != next.get_object().end()) merged.get_object()["status"] = it->value();
      else merged.get_object().erase("status");
      json::object& mmd = metadata_of(merged);
      if (auto mf = md.find("managedFields"); mf != md.end()) mmd["managedFields"] = mf->value();
      next = std::move(merged);
    } else {
      auto it = old_value.get_object().find("status");
      if (it != old_value.get_object().end()) next.get_object()["status"] = it->value();
      else next.get_object().erase("status");
    }
  }
  if (record_fields) {
    field_manager_context ctx{opt.manager, t.api_version(), opt.subresource,
                              !t.status_subresource || lenient_status_ || status_only, status_only && t.status_subresource};
    record_update(&old_value, next, ctx);
  }
  if (t.custom) {
    std::int64_t gen = 1;
    if (auto g = old_md.if_contains("generation"); g && g->is_int64()) gen = g->get_int64();
    metadata_of(next)["generation"] = spec_changed(old_value, next) ? gen + 1 : gen;
  }
  check_object_meta(t, metadata_of(next), false);
  if (next == old_value) return existing;  // a no-op write keeps the resourceVersion
  if (opt.dry_run) {
    auto rec = std::make_shared<stored_object>(*existing);
    rec->bytes = to_json(next);
    return rec;
  }
  // Removing the last finalizer of an object being deleted completes the deletion.
  json::object& nmd = metadata_of(next);
  bool finalizers_empty = !nmd.contains("finalizers") || !nmd.at("finalizers").is_array() ||
                          nmd.at("finalizers").get_array().empty();
  if (nmd.contains("deletionTimestamp") && finalizers_empty) return erase(res, existing, std::move(next));
  return commit(res, std::move(next), event_type::modified, existing, true, true);
}

object_ptr store::update(std::size_t res, const std::string& ns, const std::string& name, json::value body,
                         const write_options& opt) {
  const resource_type& t = registry_.at(res);
  object_ptr existing = find(res, ns, name);
  if (!existing) not_found(res, name);
  if (!body.is_object()) throw api_error(400, "BadRequest", "the body of the request was not a JSON object");
  std::string_view kind = string_at(body.get_object(), "kind");
  if (!kind.empty() && kind != t.kind)
    throw api_error(400, "BadRequest", "the kind of the object (" + std::string(kind) + ") does not match the kind of the request (" + t.kind + ")");
  json::object& md = metadata_of(body);
  std::string_view body_name = string_at(md, "name");
  if (!body_name.empty() && body_name != name)
    throw api_error(400, "BadRequest", "the name of the object (" + std::string(body_name) +
                                           ") does not match the name on the URL (" + name + ")");
  std::string_view body_ns = string_at(md, "namespace");
  if (t.namespaced && !body_ns.empty() && body_ns != ns)
    throw api_error(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
  std::string_view rv = string_at(md, "resourceVersion");
  if (rv.empty()) {
    if (t.custom)
      throw_invalid(t, name, {{"FieldValueInvalid", "metadata.resourceVersion", "Invalid value: 0x0: must be specified for an update"}});
  } else if (rv != std::to_string(existing->rv)) {
    conflict_modified(t, name);
  }
  scratch_arena arena;
  json::value old_value = json::parse(existing->bytes, arena.storage());
  return finish_update(res, existing, old_value, std::move(body), opt, true);
}

object_ptr store::patch(std::size_t res, const std::string& ns, const std::string& name, patch_kind kind,
                        const json::value& patch, const write_options& opt, bool& created) {
  const resource_type& t = registry_.at(res);
  created = false;
  object_ptr existing = find(res, ns, name);
  bool status_only = opt.subresource == "status";
  field_manager_context ctx{opt.manager, t.api_version(), opt.subresource,
                            !t.status_subresource || lenient_status_ || status_only,
                            status_only && t.status_subresource};
  if (kind == patch_kind::apply) {
    if (!patch.is_object()) throw api_error(400, "BadRequest", "apply patch must be an object");
    const json::object& p = patch.get_object();
    const json::object* pmd = object_at(p, "metadata");
    std::string pname = pmd ? std::string(string_at(*pmd, "name")) : std::string();
    if (string_at(p, "kind").empty() || string_at(p, "apiVersion").empty())
      throw api_error(400, "BadRequest", "apply patch needs apiVersion and kind");
    if (!pname.empty() && pname != name)
      throw api_error(400, "BadRequest", "the name of the object (" + std::string(pname) + ") does not match the name on the URL (" + name + ")");
    if (!existing) {
      if (status_only) not_found(res, name);
      json::value body = server_side_apply(nullptr, patch, ctx, true);
      metadata_of(body)["name"] = name;
      json::value managed = metadata_of(body)["managedFields"];
      prepare_new(res, ns, body);
      metadata_of(body)["managedFields"] = std::move(managed);
      if (t.namespaced) ensure_namespace(ns, true);
      created = true;
      if (opt.dry_run) {
        auto rec = std::make_shared<stored_object>();
        rec->ns = ns;
        rec->name = name;
        rec->bytes = to_json(body);
        return rec;
      }
      return commit(res, std::move(body), event_type::added, nullptr, true, true);
    }
    // As kube: a resourceVersion in the applied configuration is a precondition.
    if (std::string_view rv = pmd ? string_at(*pmd, "resourceVersion") : std::string_view();
        !rv.empty() && rv != std::to_string(existing->rv))
      conflict_modified(t, name);
    scratch_arena arena;
    json::value old_value = json::parse(existing->bytes, arena.storage());
    json::value next = server_side_apply(&old_value, patch, ctx, opt.force);
    return finish_update(res, existing, old_value, std::move(next), opt, false);
  }
  if (!existing) not_found(res, name);
  scratch_arena arena;
  json::value old_value = json::parse(existing->bytes, arena.storage());
  json::value next = old_value;
  switch (kind) {
    case patch_kind::merge: apply_merge_patch(next, patch); break;
    case patch_kind::strategic: apply_strategic_merge_patch(next, patch); break;
    case patch_kind::json: apply_json_patch(next, patch); break;
    case patch_kind::apply: break;
  }
  if (!next.is_object()) throw api_error(422, "Invalid", "the patched object is not a JSON object");
  json::object& md = metadata_of(next);
  std::string_view rv = string_at(md, "resourceVersion");
  if (!rv.empty() && rv != std::to_string(existing->rv)) conflict_modified(t, name);
  if (string_at(md, "name") != name)
    throw api_error(400, "BadRequest", "the name of the object (" + std::string(string_at(md, "name")) +
                                           ") does not match the name on the URL (" + name + ")");
  return finish_update(res, existing, old_value, std::move(next), opt, true);
}

object_ptr store::erase(std::size_t res, object_ptr existing, json::value value) {
  const resource_type& t = registry_.at(res);
  if (t.group.empty() && t.resource == "namespaces") {
    // The namespace controller empties a deleted namespace; here it happens at once.
    for (std::size_t r = 0; r < objects_.size(); ++r) {
      if (!registry_.at(r).namespaced) continue;
      std::string prefix = existing->name + "/";
      std::vector<object_ptr> doomed;
      for (auto it = objects_[r].lower_bound(prefix);
           it != objects_[r].end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
        doomed.push_back(it->second);
      for (const auto& o : doomed) commit(r, json::parse(o->bytes), event_type::deleted, o, true);
    }
  }
  return commit(res, std::move(value), event_type::deleted, existing, true);
}

delete_result store::remove(std::size_t res, const std::string& ns, const std::string& name,
                            const json::value& options) {
  const resource_type& t = registry_.at(res);
  object_ptr existing = find(res, ns, name);
  if (!existing) not_found(res, name);
  if (options.is_object()) {
    if (const json::object* pre = object_at(options.get_object(), "preconditions")) {
      std::string_view uid = string_at(*pre, "uid");
      std::string_view rv = string_at(*pre, "resourceVersion");
      json::value cur = json::parse(existing->bytes);
      if ((!uid.empty() && uid != string_at(metadata_of(cur), "uid")) ||
          (!rv.empty() && rv != std::to_string(existing->rv)))
        throw api_error(409, "Conflict", "Operation cannot be fulfilled on " + t.qualified() + " \"" + name +
                                             "\": Precondition failed: UID or ResourceVersion in precondition does not match");
    }
  }
  scratch_arena arena;
  json::value value = json::parse(existing->bytes, arena.storage());
  json::object& md = metadata_of(value);
  if (auto f = md.if_contains("finalizers"); f && f->is_array() && !f->get_array().empty()) {
    if (md.contains("deletionTimestamp")) return {existing, false};
    md["deletionTimestamp"] = now_rfc3339();
    md["deletionGracePeriodSeconds"] = 0;
    if (t.custom) {
      std::int64_t gen = md.contains("generation") && md.at("generation").is_int64() ? md.at("generation").get_int64() : 1;
      md["generation"] = gen + 1;
    }
    return {commit(res, std::move(value), event_type::modified, existing, true), false};
  }
  return {erase(res, existing, std::move(value)), true};
}

std::size_t store::remove_collection(std::size_t res, const std::string& ns, const label_selector& labels,
                                     const field_selector& fields) {
  list_result all = list(res, ns, labels, fields, 0, {});
  std::size_t n = 0;
  for (const auto& o : all.items) {
    if (!find(res, o->ns, o->name)) continue;
    remove(res, o->ns, o->name, nullptr);
    ++n;
  }
  return n;
}

object_ptr store::load(json::value obj, bool emit) {
  if (!obj.is_object()) throw api_error(400, "BadRequest", "object is not a JSON object");
  json::object& o = obj.get_object();
  std::string api_version(string_at(o, "apiVersion"));
  std::string kind(string_at(o, "kind"));
  auto res = registry_.find_kind(api_version, kind);
  if (!res) throw api_error(400, "BadRequest", "no resource type for apiVersion " + api_version + " kind " + kind);
  const resource_type& t = registry_.at(*res);
  json::object& md = metadata_of(obj);
  std::string name(string_at(md, "name"));
  if (name.empty()) {
    std::string_view gen = string_at(md, "generateName");
    if (gen.empty()) throw api_error(422, "Invalid", kind + " without metadata.name");
    name = std::string(gen) + random_suffix();
    md["name"] = name;
  }
  std::string ns;
  if (t.namespaced) {
    ns = std::string(string_at(md, "namespace"));
    if (ns.empty()) ns = "default";
    md["namespace"] = ns;
    ensure_namespace(ns, emit);
  }
  if (string_at(md, "uid").empty()) md["uid"] = random_uuid();
  if (string_at(md, "creationTimestamp").empty()) md["creationTimestamp"] = now_rfc3339();
  if (t.custom && !md.contains("generation")) md["generation"] = 1;
  object_ptr prev = find(*res, ns, name);
  return commit(*res, std::move(obj), prev ? event_type::modified : event_type::added, prev, emit);
}

}  // namespace chainsd::testserver
