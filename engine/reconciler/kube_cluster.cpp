#include "reconciler/kube_cluster.hpp"

#include "kube/json_scan.hpp"
#include "runtime/log.hpp"

#include <chrono>
#include <ctime>
#include <random>

namespace chainsd::reconciler {
namespace {

kube::resource resource_of(const run_meta& run) {
  return run.kind == run_kind::task_run ? kube::taskruns_v1() : kube::pipelineruns_v1();
}

void add_str(std::string& out, std::string_view s) {
  out += '"';
  log::json_escape(out, s);
  out += '"';
}

// "apply to taskrun ns/name: 422 Invalid: ..." — what a failed call on a run reports.
std::string call_failed(std::string_view what, const run_meta& run, const kube::api_status& st) {
  return std::string(what) + " " + std::string(run.kind_lower()) + " " + run.key() + ": " + std::to_string(st.code) +
         " " + st.reason + ": " + st.message;
}

// 404: gone. 400/413/422: the server refused the content. Anything else may pass later.
void classify_failure(patch_outcome& out, const kube::result& r, std::string_view what, const run_meta& run) {
  out.status = r.status;
  if (r.not_found()) {
    out.not_found = true;
    return;
  }
  out.rejected = r.status == 400 || r.status == 413 || r.status == 422;
  out.error = call_failed(what, run, r.error());
}

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::string annotation_apply_body(const run_meta& run, const std::map<std::string, std::string>& annotations) {
  // Sized once: the values are tens of KB, and growing the string would copy them again.
  std::size_t size = 128 + run.api_version.size() + run.name.size() + run.namespace_name.size();
  for (const auto& [k, v] : annotations) size += k.size() + v.size() + 6;
  std::string b;
  b.reserve(size);
  b += "{\"apiVersion\":";
  add_str(b, run.api_version);
  b += ",\"kind\":";
  add_str(b, run.kind_name());
  b += ",\"metadata\":{\"name\":";
  add_str(b, run.name);
  b += ",\"namespace\":";
  add_str(b, run.namespace_name);
  if (!run.resource_version.empty()) {
    // A precondition: the apply lands only on the version the pass decided on. A run another
    // replica (or a pass from before a partition) signed meanwhile answers 409 instead of having
    // its signature replaced.
    b += ",\"resourceVersion\":";
    add_str(b, run.resource_version);
  }
  b += ",\"annotations\":{";
  bool first = true;
  for (const auto& [k, v] : annotations) {
    if (!first) b += ',';
    first = false;
    add_str(b, k);
    b += ':';
    add_str(b, v);
  }
  b += "}}}";
  return b;
}

boost::asio::awaitable<patch_outcome> kube_cluster::apply_annotations(run_meta run, shared_annotations annotations) {
  patch_outcome out;
  // The body (tens of KB of payload and signature) is moved into the request; the rare forced
  // retry builds it again.
  auto r = co_await client_.apply(resource_of(run), run.namespace_name, run.name,
                                  annotation_apply_body(run, *annotations), field_manager, false);
  if (r.conflict() && r.error().message.find("Apply failed") == std::string::npos) {
    // "the object has been modified": the run changed since the pass read it.
    out.status = r.status;
    out.stale = true;
    out.error = call_failed("apply to", run, r.error());
    co_return out;
  }
  if (r.conflict()) {
    // A field manager conflict: only another writer of our annotations conflicts; upstream
    // forces then, and so do we.
    log::warn("server-side apply conflict on chains annotations; forcing",
              {{"run", run.key()}, {"uid", run.uid}, {"error", r.error().message}});
    r = co_await client_.apply(resource_of(run), run.namespace_name, run.name, annotation_apply_body(run, *annotations),
                               field_manager, true);
  }
  if (r.ok()) {
    out.ok = true;
    if (run.has_upstream_finalizer()) {
      // Rare (runs from an upstream installation): read the whole answer to see whether apply
      // removed upstream's finalizer (it does when our field manager applied it) or not.
      try {
        auto after = parse_run_meta(r.body, run.kind);
        out.resource_version = after.resource_version;
        out.upstream_finalizer_left = after.has_upstream_finalizer();
        out.finalizers = std::move(after.finalizers);
        co_return out;
      } catch (const std::exception&) {
      }
    }
    // The response is the whole run (its annotations included): find the version without
    // parsing the rest, and parse in full only what the quick look cannot read.
    if (auto rv = kube::quick_resource_version(r.body)) {
      out.resource_version = std::move(*rv);
    } else {
      try {
        out.resource_version = scanner_.scan_object(r.body).resource_version;
      } catch (const std::exception&) {
      }
    }
  } else {
    classify_failure(out, r, "apply to", run);
  }
  co_return out;
}

boost::asio::awaitable<patch_outcome> kube_cluster::remove_finalizers(run_meta run, std::string resource_version,
                                                                      std::vector<std::string> keep) {
  std::string b = "{\"metadata\":{\"resourceVersion\":";
  add_str(b, resource_version);
  b += ",\"finalizers\":";
  if (keep.empty()) {
    b += "null";
  } else {
    b += '[';
    for (std::size_t i = 0; i < keep.size(); ++i) {
      if (i) b += ',';
      add_str(b, keep[i]);
    }
    b += ']';
  }
  b += "}}";
  kube::patch_options o;
  o.field_manager = field_manager;
  auto r = co_await client_.patch(resource_of(run), run.namespace_name, run.name, kube::patch_type::merge, std::move(b), o);
  patch_outcome out;
  if (r.ok()) {
    out.ok = true;
    if (auto rv = kube::quick_resource_version(r.body)) out.resource_version = std::move(*rv);
    out.finalizers = std::move(keep);
  } else {
    classify_failure(out, r, "removing upstream's finalizers from", run);
  }
  co_return out;
}

boost::asio::awaitable<get_outcome> kube_cluster::get_run(run_meta run) {
  get_outcome out;
  auto r = co_await client_.get(resource_of(run), run.namespace_name, run.name);
  if (r.ok()) {
    out.ok = true;
    out.json = std::move(r.body);
  } else if (r.not_found()) {
    out.not_found = true;
  } else {
    out.error = call_failed("get", run, r.error());
  }
  co_return out;
}

boost::asio::awaitable<std::optional<std::vector<std::string>>> kube_cluster::list_child_taskruns(std::string ns,
                                                                                                  std::string pipelinerun) {
  kube::list_options o;
  o.label_selector = "tekton.dev/pipelineRun=" + pipelinerun;
  std::vector<std::string> items;
  kube::json_scanner scanner;
  while (true) {
    auto r = co_await client_.list(kube::taskruns_v1(), ns, o);
    if (!r.ok()) {
      log::warn("listing child taskruns failed", {{"pipelinerun", ns + "/" + pipelinerun}, {"error", r.error().message}});
      co_return std::nullopt;
    }
    auto meta = scanner.scan_list(r.body, [&items](const kube::object_meta&, std::string_view raw) { items.emplace_back(raw); });
    if (meta.continue_token.empty()) break;
    o.continue_token = meta.continue_token;
  }
  co_return items;
}

boost::asio::awaitable<bool> kube_cluster::list_runs(run_kind kind, std::string ns,
                                                    std::function<void(kube::watch_event)> each) {
  kube::list_options o;
  o.limit = 500;
  kube::json_scanner scanner;
  run_meta probe;
  probe.kind = kind;
  while (true) {
    auto r = co_await client_.list(resource_of(probe), ns, o);
    if (!r.ok()) {
      log::warn("listing runs failed", {{"kind", probe.kind_name()}, {"error", r.error().message}});
      co_return false;
    }
    auto meta = scanner.scan_list(r.body, [&each](const kube::object_meta& m, std::string_view raw) {
      kube::watch_event ev;
      ev.type = kube::event_type::added;
      ev.namespace_name = m.namespace_name;
      ev.name = m.name;
      ev.uid = m.uid;
      ev.resource_version = m.resource_version;
      ev.object = std::string(raw);
      each(std::move(ev));
    });
    if (meta.continue_token.empty()) break;
    o.continue_token = meta.continue_token;
  }
  co_return true;
}

boost::asio::awaitable<void> kube_cluster::record_event(run_meta run, std::string type, std::string reason,
                                                        std::string message) {
  static std::minstd_rand rng{std::random_device{}()};
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%08x%08x", static_cast<unsigned>(rng()), static_cast<unsigned>(rng()));
  auto ts = now_rfc3339();
  std::string b = "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":";
  add_str(b, run.name + "." + suffix);
  b += ",\"namespace\":";
  add_str(b, run.namespace_name);
  b += "},\"involvedObject\":{\"apiVersion\":";
  add_str(b, run.api_version);
  b += ",\"kind\":";
  add_str(b, run.kind_name());
  b += ",\"name\":";
  add_str(b, run.name);
  b += ",\"namespace\":";
  add_str(b, run.namespace_name);
  b += ",\"uid\":";
  add_str(b, run.uid);
  b += "},\"type\":";
  add_str(b, type);
  b += ",\"reason\":";
  add_str(b, reason);
  b += ",\"message\":";
  add_str(b, message.size() > 1024 ? message.substr(0, 1024) : message);
  b += ",\"source\":{\"component\":\"tekton-chains-controller\"},\"firstTimestamp\":";
  add_str(b, ts);
  b += ",\"lastTimestamp\":";
  add_str(b, ts);
  b += ",\"count\":1}";
  try {
    auto r = co_await client_.create(kube::events_v1(), run.namespace_name, b);
    if (!r.ok()) log::warn("cannot record event", {{"run", run.key()}, {"error", r.error().message}});
  } catch (const std::exception& e) {
    log::warn("cannot record event", {{"run", run.key()}, {"error", e.what()}});
  }
}

}  // namespace chainsd::reconciler
