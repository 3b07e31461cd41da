// `chainsd [run]`: the controller. Watches chains-config, TaskRuns and PipelineRuns, and hands
// finished runs to the reconciler; serves /metrics, /healthz, /readyz.
#include "app/app.hpp"
#include "app/commands.hpp"
#include "app/config_events.hpp"
#include "app/flags.hpp"
#include "app/memory_budget.hpp"
#include "config/config_store.hpp"
#include "ha/coordinator.hpp"
#include "ha/identity.hpp"
#include "ha/ownership.hpp"
#include "kube/client.hpp"
#include "kube/watcher.hpp"
#include "net/http_client.hpp"
#include "plugin_host/host_services.hpp"
#include "plugin_host/registry.hpp"
#include "reconciler/kube_cluster.hpp"
#include "reconciler/reconciler.hpp"
#include "runtime/log.hpp"
#include "runtime/metrics.hpp"
#include "runtime/task_group.hpp"

#include <boost/asio/this_coro.hpp>

#include <simdjson.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>

namespace chainsd::app {
namespace {

std::vector<flag_spec> controller_flags() {
  return {
      {"kubeconfig", "kubeconfig file (else $KUBECONFIG, in-cluster, ~/.kube/config)", ""},
      {"kube-context", "kubeconfig context (else its current-context)", ""},
      {"plugin-dir", "directory of signer and storage plugins", ""},
      {"signing-secrets", "directory of the signing-secrets Secret", "/etc/signing-secrets"},
      {"namespace", "only watch runs in these namespaces (comma-separated; default all)", ""},
      {"config-namespace", "namespace of the chains-config ConfigMap (default: $SYSTEM_NAMESPACE, as upstream's Deployment sets it, else tekton-chains)", ""},
      {"metrics-addr", "HOST:PORT of /metrics, /healthz and /readyz (empty: off)", "0.0.0.0:9090"},
      {"max-in-flight", "runs signed concurrently", "64"},
      {"max-log-waiting", "runs waiting on the transparency log without holding a --max-in-flight slot (Rekor v2 answers an upload at its next checkpoint, ~1 s); with a memory limit sized from it", "1024"},
      {"max-queued-mb", "documents of queued runs kept in memory (MiB); beyond it a queued run is read again when its turn comes", "64"},
      {"log-level", "debug, info, warn or error", "info"},
      {"drain-timeout", "seconds to let runs in flight finish on SIGTERM", "10"},
      // One patch per run: the limit must not be what caps signing throughput; API Priority and
      // Fairness on the server is the real protection.
      {"kube-api-qps", "client-side rate limit towards the API server (requests/s)", "10000"},
      {"kube-api-burst", "burst of the client-side rate limit", "20000"},
      {"retry-base-ms", "first retry delay after a failed signing pass (doubles each time)", "1000"},
      {"retry-max-ms", "longest retry delay", "60000"},
      {"max-retries", "retryable failures written to chains.tekton.dev/retries (0..N) before a run is marked failed (upstream: 3)", "3"},
      {"pass-timeout", "seconds one pass over a run (sign, log, store, patch) may take before it is cut and counted as a retryable failure", "300"},
      {"max-progress-mb", "signatures, log entries and stores kept for runs that will retry (MiB), so that a retry does not sign or log again", "64"},
      {"disable-ha", "no leader election: this replica works on every run (one replica only)", "", true},
      {"help", "show this help", "", true},
      {"memory-limit-mb", "memory limit the budgets are sized from (MiB; 0: the cgroup's, see memory.max)", "0"},
      {"list-page-size", "objects asked per list page (halved while pages are refused or too big)", "500"},
  };
}

std::vector<std::string> split_csv(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

namespace {

// chains-config's data map from the ConfigMap JSON.
config::data_map configmap_data(std::string_view json) {
  thread_local simdjson::dom::parser parser;
  config::data_map out;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc)) return out;
  simdjson::dom::object data;
  if (doc["data"].get(data)) return out;
  for (auto field : data) {
    std::string_view v;
    if (field.value.get(v) == simdjson::SUCCESS) out.emplace(std::string(field.key), std::string(v));
  }
  return out;
}

ha::reconciler_kind ha_kind(reconciler::run_kind k) {
  return k == reconciler::run_kind::task_run ? ha::reconciler_kind::task_run : ha::reconciler_kind::pipeline_run;
}
reconciler::run_kind run_kind_of(ha::reconciler_kind k) {
  return k == ha::reconciler_kind::task_run ? reconciler::run_kind::task_run : reconciler::run_kind::pipeline_run;
}

// Leader election (engine/ha): the buckets this replica holds, and the coordinator of its Leases.
struct ha_parts {
  kube::client& api;           // reads the leader-election ConfigMap
  kube::client& lease_client;  // its own pool and rate limit: renewals never queue behind patches
  std::string namespace_name;
  app& application;
  reconciler::reconciler& rec;
  std::optional<ha::ownership> own;  // set before any run event is looked at
  std::optional<ha::coordinator> coord;
};

// Reads the leader-election ConfigMap (as upstream, once: a change takes a restart) and starts
// the elections. Throws when the ConfigMap is invalid (upstream does not start either).
boost::asio::awaitable<void> start_ha(ha_parts* h) {
  const std::string source = h->namespace_name + "/" + ha::election_configmap_name();
  auto r = co_await h->api.get(kube::configmaps_v1(), h->namespace_name, ha::election_configmap_name());
  auto le = ha::election_config_from_response(r, source);
  for (const auto& w : le.warnings) log::warn("leader-election config", {{"configmap", source}, {"warning", w}});
  if (!le.ok()) {
    std::string all;
    for (const auto& e : le.errors) all += (all.empty() ? "" : "; ") + e;
    throw std::runtime_error(all);
  }
  h->own.emplace(*le.value);
  ha::coordinator_options o;
  o.namespace_name = h->namespace_name;
  o.identity = ha::unique_identity();
  o.config = *le.value;
  auto* rec = &h->rec;
  auto on_acquired = [rec](ha::reconciler_kind k, std::size_t) { rec->rescan(run_kind_of(k)); };
  auto on_lost = [rec](ha::reconciler_kind, std::size_t) { rec->drop_unowned(); };
  // Buckets taken in the first round are seen by the watches' first list, which starts after it:
  // no second list of every run for them (a replica's start-up lists each run once).
  h->rec.hold_rescans(true);
  h->coord.emplace(h->lease_client, *h->own, std::move(o), on_acquired, on_lost);
  auto* coord = &*h->coord;
  h->application.track("leader election", [coord]() { return coord->run(); });
  // At most 3 s: a slow API server delays the watches no longer than that (a bucket won later is
  // rescanned as usual).
  co_await coord->wait_first_round(std::chrono::steady_clock::now() + std::chrono::seconds(3));
  h->rec.hold_rescans(false);
}

// The controller's watches and what their events do (borrowed by run_intake).
struct intake_parts {
  kube::watcher& config_watch;
  kube::watcher& taskrun_watch;
  kube::watcher& pipelinerun_watch;
  std::function<void(kube::watch_event)> on_config, on_taskrun, on_pipelinerun;
  std::function<void()> on_config_synced, on_taskrun_synced, on_pipelinerun_synced;
  ha_parts* ha = nullptr;  // null with --disable-ha
};

// Starts leader election, then runs the three watches until they end or are cancelled. `p`
// outlives the coroutine (it lives in run_controller's frame, which returns only after the
// io_context stopped).
boost::asio::awaitable<void> run_intake(intake_parts* p) {
  if (p->ha) co_await start_ha(p->ha);
  runtime::task_group group(co_await boost::asio::this_coro::executor);
  group.spawn(p->config_watch.run(p->on_config, p->on_config_synced));
  group.spawn(p->taskrun_watch.run(p->on_taskrun, p->on_taskrun_synced));
  group.spawn(p->pipelinerun_watch.run(p->on_pipelinerun, p->on_pipelinerun_synced));
  co_await group.wait();
}

}  // namespace

int run_controller(const args& a) {
  flags f(controller_flags());
  try {
    f.parse(a);
    if (!f.positional().empty())
      throw flag_error("unexpected argument \"" + f.positional()[0] + "\" (chainsd --help lists the commands)");
  } catch (const flag_error& e) {
    std::fprintf(stderr, "chainsd run: %s\nusage: chainsd [run] [flags]\nflags:\n%s", e.what(), f.usage().c_str());
    return 2;
  }
  if (f.get_bool("help")) {
    std::printf("usage: chainsd [run] [flags]\n  Runs the controller: watches TaskRuns and PipelineRuns, signs, stores and logs "
                "their provenance.\nflags:\n%s", f.usage().c_str());
    return 0;
  }
  log::level lvl{};
  if (!log::parse_level(f.get("log-level"), lvl)) {
    std::fprintf(stderr, "chainsd: --log-level: \"%s\" is not debug, info, warn or error\n", f.get("log-level").c_str());
    return 2;
  }
  log::set_level(lvl);
  if (!f.was_set("config-namespace")) {
    const char* sys_ns = std::getenv("SYSTEM_NAMESPACE");
    f.set_default("config-namespace", sys_ns && *sys_ns ? sys_ns : "tekton-chains");
  }

  try {
    // Memory budgets from the pod's limit (app/memory_budget.hpp): defaults of the budget flags.
    const memory_budget budget = apply_memory_budget(f);
    app_options ao;
    ao.metrics_addr = f.get("metrics-addr");
    ao.drain_timeout = std::chrono::seconds(f.get_int("drain-timeout", 0, 3600));
    app application(ao);
    auto ex = application.context().get_executor();

    auto plugin_dir = f.was_set("plugin-dir") ? f.get("plugin-dir") : default_plugin_dir();
    plugin_host::registry registry(plugin_host::scan_plugins(plugin_dir));
    log::info("plugins", {{"dir", plugin_dir},
                          {"signers", plugin_host::join_names(registry.names("signer"))},
                          {"storage", plugin_host::join_names(registry.names("storage"))},
                          {"rejected", std::to_string(registry.rejected().size())}});

    auto kcfg = kube::load_default(f.get("kubeconfig"), f.get("kube-context"));
    log::info("kubernetes api", {{"server", kcfg.server}, {"source", kcfg.source}});
    kube::client_options ko;
    ko.qps = static_cast<double>(f.get_int("kube-api-qps", 1, 1'000'000));
    ko.burst = static_cast<double>(f.get_int("kube-api-burst", 1, 1'000'000));
    ko.max_idle_connections = static_cast<std::size_t>(f.get_int("max-in-flight", 1, 100'000)) + 8;
    kube::client kube_client(ex, kcfg, ko);
    // Plugins' outbound calls (registries, Rekor, Fulcio, ...): a run may make two at once
    // (an image signature and an attestation), so keep that many connections for reuse.
    net::client_options outbound_options;
    // Uploads waiting on the log each hold a connection: keep them for the next uploads.
    outbound_options.max_idle_per_host = 2 * ko.max_idle_connections +
                                         static_cast<std::size_t>(f.get_int("max-log-waiting", 0, 100'000));
    net::http_client outbound(ex, outbound_options);
    plugin_host::host_services host(ex, outbound, &kube_client, f.get("signing-secrets"));

    // chains-config: the snapshot in force and the plugin instances built for it.
    config::config_store store;
    auto& rejected_plugins = metrics::global().get_counter(
        "chainsd_config_rejected_total", "chains-config updates rejected (the previous config stays in force)",
        {{"reason", "plugin_not_installed"}});
    // Built for the live chains-config once it is read, not for the defaults at start-up: errors
    // about plugins the defaults name but the live config does not use would only mislead. When
    // there is no chains-config at all, the defaults' plugins are built once the list says so.
    std::shared_ptr<reconciler::plugin_set> plugins;
    auto ensure_plugins = [&] {
      if (plugins) return;
      if (auto missing = reconciler::check_installed(*store.current(), registry); !missing.empty())
        log::warn("the default config names plugins that are not installed; runs needing them will fail",
                  {{"error", missing}});
      plugins = reconciler::build_plugin_set(store.current(), registry, host, &outbound);
    };
    config::plugin_names installed;
    for (const auto& n : registry.names("storage")) installed.storages.insert(n);
    for (const auto& n : registry.names("signer")) installed.signers.insert(n);
    rejection_memo reported;
    // A rejection is also a Warning Event on the ConfigMap, once per distinct content.
    auto raise_rejected = [&](const config::data_map& data, configmap_ref cm, const std::string& error) {
      if (!reported.first_time(data, error)) return;
      if (cm.namespace_name.empty()) cm.namespace_name = f.get("config-namespace");
      if (cm.name.empty()) cm.name = "chains-config";
      auto* client = &kube_client;
      application.track("chains-config rejected event", [client, cm = std::move(cm), error]() {
        return record_config_rejected(*client, cm, "chains-config rejected; the previous config stays in force: " + error);
      });
    };
    auto apply_config = [&](const config::data_map& data, configmap_ref cm) {
      auto parsed = config::parse(data, installed);
      if (parsed.ok()) {
        if (auto missing = reconciler::check_installed(*parsed.value, registry); !missing.empty()) {
          rejected_plugins.inc();
          log::error("chains-config rejected; the previous config stays in force",
                     {{"configmap", f.get("config-namespace") + "/chains-config"}, {"error", missing}});
          raise_rejected(data, std::move(cm), missing);
          return;
        }
      }
      auto r = store.update(data, installed);  // logs and counts rejections itself
      if (!r.accepted) {
        raise_rejected(data, std::move(cm), r.error);
        return;
      }
      reported.clear();
      auto replaced = std::move(plugins);
      plugins = reconciler::build_plugin_set(store.current(), registry, host, &outbound);
      // Moved, not copied: retire() waits until it holds the last reference.
      if (replaced)
        application.track("close replaced plugins", [replaced = std::move(replaced)]() mutable {
          return reconciler::retire(std::move(replaced), std::chrono::seconds(60));
        });
      log::info("chains-config applied", {{"version", std::to_string(r.version)}});
    };

    reconciler::kube_cluster cluster(kube_client);
    reconciler::reconciler_options ro;
    for (const auto& ns : split_csv(f.get("namespace"))) ro.namespaces.insert(ns);
    ro.max_in_flight = static_cast<std::size_t>(f.get_int("max-in-flight", 1, 100'000));
    ro.max_log_waiting = static_cast<std::size_t>(f.get_int("max-log-waiting", 0, 100'000));
    ro.retry_base = std::chrono::milliseconds(f.get_int("retry-base-ms", 1, 3'600'000));
    ro.retry_max = std::chrono::milliseconds(f.get_int("retry-max-ms", 1, 86'400'000));
    if (ro.retry_max < ro.retry_base) ro.retry_max = ro.retry_base;
    ro.max_retries = static_cast<int>(f.get_int("max-retries", 0, 100));
    ro.pass_timeout = std::chrono::seconds(f.get_int("pass-timeout", 1, 86'400));
    ro.max_progress_bytes = static_cast<std::size_t>(f.get_int("max-progress-mb", 0, 1'000'000)) << 20;
    ro.max_queued_json_bytes = static_cast<std::size_t>(f.get_int("max-queued-mb", 0, 1'000'000)) << 20;
    // HA: a run is ours when its bucket's Lease is (engine/ha); --disable-ha: every run is.
    const bool ha_on = !f.get_bool("disable-ha");
    std::optional<ha::ownership> everything;
    if (!ha_on) everything.emplace(ha::ownership::everything());
    std::optional<ha::ownership>* ownership_slot = &everything;
    ro.owns = [&ownership_slot](reconciler::run_kind k, std::string_view ns, std::string_view name) {
      const auto& own = *ownership_slot;
      return own && own->owns(ha_kind(k), ns, name);
    };
    // Null until chains-config is listed (ensure_plugins); the reconciler starts only then, and
    // its cheap pre-checks treat null as the defaults.
    reconciler::reconciler rec(ex, cluster, [&plugins] { return plugins; }, ro);
    kube::client_options lease_opts;
    lease_opts.user_agent = "chainsd-leader-election";
    kube::client lease_client(ex, kcfg, lease_opts);
    ha_parts hp{kube_client, lease_client, f.get("config-namespace"), application, rec, std::nullopt, std::nullopt};
    if (ha_on) ownership_slot = &hp.own;

    std::string watch_ns = ro.namespaces.size() == 1 ? *ro.namespaces.begin() : std::string();
    kube::watcher_options cm_opts;
    cm_opts.namespace_name = f.get("config-namespace");
    cm_opts.field_selector = "metadata.name=chains-config";
    kube::watcher config_watch(kube_client, kube::configmaps_v1(), cm_opts);
    kube::watcher_options run_opts;
    run_opts.namespace_name = watch_ns;
    run_opts.page_size = static_cast<unsigned>(f.get_int("list-page-size", 1, 100'000));
    run_opts.max_page_bytes = budget.list_page_bytes;
    run_opts.max_list_item_bytes = budget.list_item_bytes;
    run_opts.max_event_bytes = budget.list_item_bytes;
    kube::watcher taskrun_watch(kube_client, kube::taskruns_v1(), run_opts);
    kube::watcher pipelinerun_watch(kube_client, kube::pipelineruns_v1(), run_opts);

    application.expect_ready("chains-config");
    application.expect_ready("taskruns");
    application.expect_ready("pipelineruns");
    application.on_stop([&] {
      config_watch.stop();
      taskrun_watch.stop();
      pipelinerun_watch.stop();
      rec.stop();
      // Held Leases are renewed until the runs in flight are done, then released.
      if (hp.coord) hp.coord->stop([&rec] { return rec.in_flight() == 0; });
    });

    bool reconciler_started = false;
    auto start_reconciler = [&] {
      if (reconciler_started) return;
      reconciler_started = true;
      application.track("reconciler", [&rec]() { return rec.run(); });
    };

    // The watches and what each event does. The handlers are plain callbacks; the coroutine
    // that runs the watches is a function of its own (no reference-capturing lambda coroutine).
    intake_parts parts{config_watch, taskrun_watch, pipelinerun_watch, {}, {}, {}, {}, {}, {}, ha_on ? &hp : nullptr};
    parts.on_config = [&](kube::watch_event ev) {
      if (ev.type == kube::event_type::deleted) {
        log::warn("chains-config was deleted; keeping the config in force",
                  {{"configmap", f.get("config-namespace") + "/chains-config"}});
        return;
      }
      apply_config(configmap_data(ev.object), configmap_ref_of(ev.object));
    };
    parts.on_config_synced = [&] {
      ensure_plugins();
      application.set_ready("chains-config");
      start_reconciler();
    };
    parts.on_taskrun = [&](kube::watch_event ev) { rec.on_event(reconciler::run_kind::task_run, std::move(ev)); };
    parts.on_taskrun_synced = [&] {
      application.set_ready("taskruns");
      log::info("taskruns listed", {{"count", std::to_string(taskrun_watch.known_objects())}});
    };
    parts.on_pipelinerun = [&](kube::watch_event ev) {
      rec.on_event(reconciler::run_kind::pipeline_run, std::move(ev));
    };
    parts.on_pipelinerun_synced = [&] {
      application.set_ready("pipelineruns");
      log::info("pipelineruns listed", {{"count", std::to_string(pipelinerun_watch.known_objects())}});
    };
    application.on_drain_timeout([&rec] { rec.cancel(); });
    auto intake = [&parts]() { return run_intake(&parts); };
    log::info("chainsd starting", {{"version", CHAINSD_VERSION}, {"pid", std::to_string(::getpid())}});
    return application.run(intake);
  } catch (const std::exception& e) {
    log::error("chainsd cannot start", {{"error", e.what()}});
    return 1;
  }
}

}  // namespace chainsd::app
