// The reconciler's decisions with a fake cluster, in-test plugins (guarded as the registry guards
// real ones) and a manual clock: no test waits on the wall clock. Covers the annotation state
// machine, error classes, resume, deadlines, cancellation, filters and exactly-once in the face of
// stale and duplicate watch events.
#include <catch2/catch.hpp>

#include "plugin_host/guard.hpp"
#include "reconciler/annotations.hpp"
#include "reconciler/pass.hpp"
#include "reconciler/plan.hpp"
#include "reconciler/reconciler.hpp"
#include "reconciler/run_meta.hpp"
#include "runtime/clock.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <optional>
#include <stdexcept>

using namespace chainsd;
using namespace chainsd::reconciler;
using namespace std::chrono_literals;

namespace {

std::string run_json(const std::string& name, const std::string& uid, const std::string& rv, bool done,
                     const std::string& annotations = "{}", const std::string& managed_by = "",
                     const std::string& extra_metadata = "") {
  std::string spec = managed_by.empty() ? "{}" : "{\"managedBy\":\"" + managed_by + "\"}";
  return R"({"apiVersion":"tekton.dev/v1","kind":"TaskRun","metadata":{"name":")" + name +
         R"(","namespace":"ns","uid":")" + uid + R"(","resourceVersion":")" + rv + R"(",)" + extra_metadata +
         R"("annotations":)" + annotations + R"(},"spec":)" + spec +
         R"(,"status":{"startTime":"2026-01-01T00:00:00Z",)" +
         (done ? R"("completionTime":"2026-01-01T00:01:00Z","conditions":[{"type":"Succeeded","status":"True"}],)"
               : R"("conditions":[{"type":"Succeeded","status":"Unknown"}],)") +
         R"("taskSpec":{"steps":[{"name":"s","image":"busybox"}]},"steps":[{"name":"s","imageID":"busybox@sha256:)" +
         std::string(64, 'a') + R"("}]}})";
}

kube::watch_event event(const std::string& json, const std::string& uid, const std::string& rv,
                        kube::event_type t = kube::event_type::modified, const std::string& name = "") {
  kube::watch_event e;
  e.type = t;
  e.namespace_name = "ns";
  e.name = name;
  e.uid = uid;
  e.resource_version = rv;
  e.object = json;
  return e;
}

plugin_host::plugin_info info(std::string kind, std::string name) {
  plugin_host::plugin_info p;
  p.kind = std::move(kind);
  p.name = std::move(name);
  p.version = "9.9.9";
  return p;
}

enum class behaviour { ok, retryable, bad_config, unauthenticated, no_key, throws };

plugin::result<plugin::signature_result> answer(behaviour b, const char* who) {
  switch (b) {
    case behaviour::ok: break;
    case behaviour::retryable: return plugin::fail(plugin::errc::retryable, std::string(who) + " refuses");
    case behaviour::bad_config: return plugin::fail(plugin::errc::bad_config, std::string(who) + " is misconfigured");
    case behaviour::unauthenticated: return plugin::fail(plugin::errc::unauthenticated, std::string(who) + " denied");
    case behaviour::no_key: return plugin::fail(plugin::errc::not_found, std::string(who) + " has no key yet");
    case behaviour::throws: throw std::logic_error(std::string(who) + " exploded");
  }
  return plugin::signature_result{};
}

struct counting_signer final : plugin::signer {
  int calls = 0;
  behaviour mode = behaviour::ok;
  boost::asio::awaitable<plugin::result<plugin::signature_result>> sign(std::string m) override {
    ++calls;
    auto r = answer(mode, "test signer");
    if (!r) co_return r;
    co_return plugin::signature_result{"sig:" + std::to_string(m.size()) + ":" + std::to_string(calls), {}, {}};
  }
  std::string public_key_pem() const override {
    // A fixed P-256 public key, so the engine can compute a key id.
    return "-----BEGIN PUBLIC KEY-----\n"
           "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEBOiqYumsujclXOl4CGGdW46tRjs4\n"
           "2oi8XEki9rNijnEekF6egMrTGZaHmbCTyz2B4VzdRZDD0/7TO4mHleqBDw==\n"
           "-----END PUBLIC KEY-----\n";
  }
};

// Fails its first `failures` calls with `mode`, then stores (annotations as the tekton storage).
struct counting_storage final : plugin::storage {
  int calls = 0;
  int failures = 0;
  behaviour mode = behaviour::retryable;
  std::size_t annotation_size = 10;
  std::vector<std::string> signatures;  // of the successful stores
  std::vector<std::string> bundles;     // sigstore_bundle_json of every call
  bool wants_unlogged_bundle = false;
  bool uses_unlogged_bundle() const override { return wants_unlogged_bundle; }
  boost::asio::awaitable<plugin::result<plugin::store_result>> store(plugin::store_request req) override {
    ++calls;
    bundles.push_back(req.sigstore_bundle_json);
    if (calls <= failures) {
      if (mode == behaviour::throws) throw std::runtime_error("storage exploded");
      co_return plugin::fail(mode == behaviour::bad_config ? plugin::errc::bad_config : plugin::errc::retryable,
                             "test storage refuses");
    }
    signatures.push_back(req.signature);
    plugin::store_result r;
    r.annotations["chains.tekton.dev/signature-" + req.short_key] = std::string(annotation_size, 's');
    co_return r;
  }
};

// A transparency log that counts its entries (and fails its first `failures` uploads).
struct counting_log final : tlog::transparency_log {
  std::string url = "https://rekor.test";
  bool wants(bool upload) const override { return upload; }
  const std::string& log_url() const override { return url; }
  int uploads = 0;
  int failures = 0;
  std::vector<std::string> signatures;
  // hold: each upload waits (as Rekor v2 does for its checkpoint) until release().
  bool hold = false;
  int waiting = 0, max_waiting = 0;
  std::vector<std::shared_ptr<boost::asio::steady_timer>> held;
  void release() {
    for (auto& t : held) t->cancel();
    held.clear();
  }
  boost::asio::awaitable<tlog::log_result> log(tlog::log_request r) override {
    ++uploads;
    if (uploads <= failures) throw tlog::tlog_error("rekor answered 503", false);
    if (hold) {
      auto t = std::make_shared<boost::asio::steady_timer>(co_await boost::asio::this_coro::executor,
                                                           boost::asio::steady_timer::time_point::max());
      held.push_back(t);
      max_waiting = std::max(max_waiting, ++waiting);
      co_await t->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      --waiting;
    }
    signatures.push_back(r.envelope_json.empty() ? r.signature : r.envelope_json);
    tlog::log_result out;
    out.log_index = static_cast<std::int64_t>(signatures.size());
    out.log_version = 1;
    out.annotation = "https://rekor.test/api/v1/log/entries?logIndex=" + std::to_string(out.log_index);
    out.entry_json = "{}";
    out.bundle_json = "{}";
    co_return out;
  }
};

struct fake_cluster final : cluster {
  int next_rv = 100;
  std::vector<std::map<std::string, std::string>> applies;
  int apply_failures = 0;            // next N applies fail with 500
  std::size_t reject_over = 0;       // applies whose annotations exceed this many bytes get 422
  std::vector<std::string> leave_finalizers;  // what an apply leaves (as if another operation owns them)
  int stale_applies = 0;             // next N applies fail their resourceVersion precondition (409)
  std::vector<std::string> apply_preconditions;
  // hold_applies: each apply waits until release_applies(); how many were waiting at once.
  bool hold_applies = false;
  int applying = 0, max_applying = 0;
  std::vector<std::shared_ptr<boost::asio::steady_timer>> held_applies;
  void release_applies() {
    for (auto& t : held_applies) t->cancel();
    held_applies.clear();
  }
  boost::asio::awaitable<patch_outcome> apply_annotations(run_meta run, shared_annotations a) override {
    if (hold_applies) {
      auto t = std::make_shared<boost::asio::steady_timer>(co_await boost::asio::this_coro::executor,
                                                           boost::asio::steady_timer::time_point::max());
      held_applies.push_back(t);
      max_applying = std::max(max_applying, ++applying);
      co_await t->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      --applying;
    }
    patch_outcome out;
    apply_preconditions.push_back(run.resource_version);
    if (stale_applies > 0) {
      --stale_applies;
      out.status = 409;
      out.stale = true;
      out.error = "apply: 409 Conflict: the object has been modified";
      co_return out;
    }
    if (apply_failures > 0) {
      --apply_failures;
      out.status = 500;
      out.error = "apply: 500 InternalError";
      co_return out;
    }
    if (reject_over && annotation_bytes(*a) > reject_over) {
      out.status = 422;
      out.rejected = true;
      out.error = "apply: 422 Invalid: metadata.annotations: Too long: must have at most 262144 bytes";
      co_return out;
    }
    applies.push_back(*a);
    out.ok = true;
    out.resource_version = std::to_string(++next_rv);
    out.finalizers = leave_finalizers.empty() ? run.finalizers : leave_finalizers;
    out.upstream_finalizer_left = false;
    for (const auto& f : out.finalizers) out.upstream_finalizer_left = out.upstream_finalizer_left || is_upstream_finalizer(f);
    co_return out;
  }
  std::vector<std::vector<std::string>> finalizer_patches;
  std::vector<std::string> finalizer_preconditions;
  boost::asio::awaitable<patch_outcome> remove_finalizers(run_meta, std::string rv, std::vector<std::string> keep) override {
    finalizer_preconditions.push_back(rv);
    finalizer_patches.push_back(keep);
    patch_outcome out;
    out.ok = true;
    out.resource_version = std::to_string(++next_rv);
    out.finalizers = std::move(keep);
    co_return out;
  }
  std::vector<std::string> children;  // what list_child_taskruns answers
  boost::asio::awaitable<std::optional<std::vector<std::string>>> list_child_taskruns(std::string, std::string) override {
    co_return children;
  }
  std::map<std::string, std::string> current;  // name -> JSON, what get_run answers (absent: 404)
  std::vector<std::string> gets;
  boost::asio::awaitable<get_outcome> get_run(run_meta run) override {
    gets.push_back(run.name);
    get_outcome out;
    if (auto it = current.find(run.name); it != current.end()) {
      out.ok = true;
      out.json = it->second;
    } else {
      out.not_found = true;
    }
    co_return out;
  }
  std::vector<std::string> listed;  // what list_runs answers (TaskRun JSON)
  int lists = 0;
  boost::asio::awaitable<bool> list_runs(run_kind, std::string, std::function<void(kube::watch_event)> each) override {
    ++lists;
    for (const auto& j : listed) {
      auto m = parse_run_meta(j, run_kind::task_run);
      kube::watch_event ev;
      ev.type = kube::event_type::added;
      ev.namespace_name = m.namespace_name;
      ev.name = m.name;
      ev.uid = m.uid;
      ev.resource_version = m.resource_version;
      ev.object = j;
      each(std::move(ev));
    }
    co_return true;
  }
  std::vector<std::pair<std::string, std::string>> events;  // reason, message
  boost::asio::awaitable<void> record_event(run_meta, std::string, std::string reason, std::string message) override {
    events.emplace_back(std::move(reason), std::move(message));
    co_return;
  }
};

struct harness_options {
  std::set<std::string> managed_by;
  std::size_t max_queued_json_bytes = std::size_t{64} << 20;
  bool storage = false;  // a "store" storage for taskrun provenance
  bool log = false;      // transparency log on
};

struct harness {
  boost::asio::io_context ctx;
  runtime::manual_clock clock;
  fake_cluster cluster;
  counting_signer* signer = nullptr;
  counting_storage* storage = nullptr;
  std::shared_ptr<counting_log> tlog;
  std::shared_ptr<plugin_set> set;
  std::unique_ptr<chainsd::reconciler::reconciler> rec;
  bool finished = false;

  explicit harness(harness_options ho = {}, reconciler_options o = {}) {
    auto cfg = std::make_shared<config::config>(config::default_config());
    cfg->oci.storage = {""};  // images off: one signature per run
    cfg->taskrun.storage.clear();
    cfg->pipelinerun.storage.clear();
    cfg->filter_managed_by = std::move(ho.managed_by);
    set = std::make_shared<plugin_set>();
    auto s = std::make_unique<counting_signer>();
    signer = s.get();
    set->signers.emplace("x509", plugin_host::guard(std::move(s), info("signer", "x509")));
    if (ho.storage) {
      cfg->taskrun.storage = {"store"};
      auto st = std::make_unique<counting_storage>();
      storage = st.get();
      set->storages.emplace("store", plugin_host::guard(std::move(st), info("storage", "store")));
    }
    if (ho.log) {
      cfg->transparency.enabled = true;
      tlog = std::make_shared<counting_log>();
      set->tlog = tlog;
    }
    set->cfg = cfg;
    o.retry_base = 1s;
    o.max_queued_json_bytes = ho.max_queued_json_bytes;
    o.clock = &clock;
    rec = std::make_unique<chainsd::reconciler::reconciler>(ctx.get_executor(), cluster, [this] { return set; }, o);
    boost::asio::co_spawn(ctx, rec->run(), [this](std::exception_ptr e) {
      finished = true;
      if (e) std::rethrow_exception(e);
    });
    drain();
  }
  // Runs everything that is ready now (no time passes).
  void drain() {
    ctx.restart();
    while (ctx.poll() > 0) {
    }
  }
  void advance(std::chrono::milliseconds d) {
    clock.advance(d);
    drain();
  }
  void feed(const std::string& json, const std::string& uid, const std::string& rv,
            kube::event_type t = kube::event_type::modified) {
    rec->on_event(run_kind::task_run, event(json, uid, rv, t));
    drain();
  }
  ~harness() {
    rec->stop();
    drain();
  }
};

}  // namespace

// --- the pure parts ---

TEST_CASE("decide follows upstream's retry sequence for retryable failures, then fails with the reason") {
  std::map<std::string, std::string> a{{"chains.tekton.dev/payload-x", "p"}};
  auto ok = decide(a, {{"chains.tekton.dev/signature-x", "s"}}, {}, 3);
  CHECK(ok.what == decision::kind::signed_run);
  CHECK(ok.annotations.at("chains.tekton.dev/signed") == "true");
  CHECK(ok.annotations.at("chains.tekton.dev/payload-x") == "p");
  CHECK(ok.annotations.count("chains.tekton.dev/error") == 0);

  const std::vector<failure> broke{{"signing", plugin::errc::retryable, "signer broke"}};
  for (const auto& want : {"0", "1", "2", "3"}) {
    auto r = decide(a, {}, broke, 3);
    REQUIRE(r.what == decision::kind::retry);
    CHECK(r.annotations.at("chains.tekton.dev/retries") == want);
    CHECK(r.annotations.at("chains.tekton.dev/error") == "signer broke");
    CHECK(r.annotations.count("chains.tekton.dev/signed") == 0);
    a = r.annotations;
  }
  auto last = decide(a, {}, broke, 3);
  CHECK(last.what == decision::kind::failed);
  CHECK(last.annotations.at("chains.tekton.dev/signed") == "failed");

  auto junk = decide({{"chains.tekton.dev/retries", "x"}}, {}, broke, 3);
  CHECK(junk.what == decision::kind::failed);  // upstream: an unparsable count means no retry is available
  auto none = decide({}, {}, broke, 0);         // --max-retries 0: the first retryable failure is final
  CHECK(none.what == decision::kind::retry);
  CHECK(none.annotations.at("chains.tekton.dev/retries") == "0");
  CHECK(decide(none.annotations, {}, broke, 0).what == decision::kind::failed);
}

TEST_CASE("the class decides: permanent, bad_config and unauthenticated fail at once; a signer without a key parks") {
  for (auto cls : {plugin::errc::permanent, plugin::errc::bad_config, plugin::errc::unauthenticated}) {
    auto d = decide({}, {}, {{"signing", cls, "no"}}, 3);
    CHECK(d.what == decision::kind::failed);
    CHECK(d.annotations.at("chains.tekton.dev/signed") == "failed");
    CHECK(d.annotations.count("chains.tekton.dev/retries") == 0);
  }
  CHECK(dispose({"signing", plugin::errc::not_found, ""}) == disposition::park);
  CHECK(dispose({"storage", plugin::errc::not_found, ""}) == disposition::fail);
  CHECK(dispose({"storage", plugin::errc::retryable, ""}) == disposition::retry);
  auto parked = decide({}, {}, {{"signing", plugin::errc::not_found, "no key"}}, 3);
  CHECK(parked.what == decision::kind::parked);
  CHECK(parked.annotations.empty());
  // One failure that cannot pass by retrying decides for the whole pass.
  auto mixed = decide({}, {}, {{"storage", plugin::errc::retryable, "a"}, {"storage", plugin::errc::bad_config, "b"}}, 3);
  CHECK(mixed.what == decision::kind::failed);
  CHECK(mixed.reason == "a; b");
}

TEST_CASE("short_reason keeps chains.tekton.dev/error small and free of raw JSON") {
  CHECK(short_reason("signer refuses") == "signer refuses");
  auto cut = short_reason("rekor answered 400: {\"code\":400,\"message\":\"bad\"}");
  CHECK(cut.find('{') == std::string::npos);
  CHECK_THAT(cut, Catch::StartsWith("rekor answered 400") && Catch::Contains("Events"));
  std::string long_text;
  for (int i = 0; i < 300; ++i) long_text += "é";  // 600 bytes of two-byte characters
  auto s = short_reason(long_text);
  CHECK(s.size() <= 512);
  auto body = s.substr(0, s.find(" (more"));
  CHECK(body.size() % 2 == 0);  // never half a character
}

TEST_CASE("managed-by filter as upstream's isManagedByAllowed") {
  CHECK(managed_by_allowed("", {}));
  CHECK(managed_by_allowed("tekton.dev/pipeline", {}));
  CHECK_FALSE(managed_by_allowed("kueue.x-k8s.io/multikueue", {}));
  CHECK(managed_by_allowed("kueue.x-k8s.io/multikueue", {"kueue.x-k8s.io/multikueue"}));
}

TEST_CASE("parse_run_meta reads doneness, chains annotations, their total size and finalizers; rejects bad documents") {
  auto m = parse_run_meta(run_json("a", "u1", "5", true, R"({"chains.tekton.dev/signed":"failed","other":"x"})", "",
                                   R"("finalizers":["chains.tekton.dev/taskrun","x.io/keep"],)"),
                          run_kind::task_run);
  CHECK(m.done);
  CHECK(m.has_completion_time);
  CHECK(m.reconciled());
  CHECK(m.chains_annotations.size() == 1);
  CHECK(m.annotations_bytes == std::string("chains.tekton.dev/signed").size() + 6 + 5 + 1);
  CHECK(m.finalizers == std::vector<std::string>{"chains.tekton.dev/taskrun", "x.io/keep"});
  CHECK(m.has_upstream_finalizer());
  CHECK_FALSE(parse_run_meta(run_json("a", "u1", "5", false), run_kind::task_run).done);
  CHECK_THROWS_AS(parse_run_meta("{", run_kind::task_run), meta_error);
  CHECK_THROWS_AS(parse_run_meta(R"({"metadata":{"name":"x"}})", run_kind::task_run), meta_error);
}

// --- the reconciler ---

TEST_CASE("a finished run is signed once; stale and duplicate events do not sign it again") {
  harness h;
  auto unsigned_json = run_json("a", "u1", "10", true);
  h.rec->on_event(run_kind::task_run, event(unsigned_json, "u1", "10", kube::event_type::added));
  h.rec->on_event(run_kind::task_run, event(unsigned_json, "u1", "10"));  // duplicate delivery
  h.drain();
  REQUIRE(h.cluster.applies.size() == 1);
  CHECK(h.cluster.applies[0].at("chains.tekton.dev/signed") == "true");
  CHECK(h.signer->calls == 1);

  // A lagging watch delivers an event older than our patch (rv 101): still unsigned. Ignored.
  h.feed(run_json("a", "u1", "11", true), "u1", "11");
  CHECK(h.signer->calls == 1);
  CHECK(h.cluster.applies.size() == 1);

  // The echo of our own patch, then later changes, carry signed=true: nothing to do.
  h.feed(run_json("a", "u1", "101", true, R"({"chains.tekton.dev/signed":"true"})"), "u1", "101");
  CHECK(h.signer->calls == 1);
  CHECK(h.rec->tracked() == 0);
}

TEST_CASE("the echo of our own patch is not read again; only that exact version is skipped") {
  harness h;
  h.feed(run_json("a", "u1", "10", true), "u1", "10", kube::event_type::added);
  REQUIRE(h.cluster.applies.size() == 1);  // our patch made rv 101
  // An event at exactly rv 101 is the version our patch produced: it is not parsed (a document
  // that, read, would ask for signing is ignored; the real one carries signed=true).
  h.feed(run_json("a", "u1", "101", true), "u1", "101");
  CHECK(h.signer->calls == 1);
  CHECK(h.rec->tracked() == 0);
  // A later version is read as usual: someone removed the signed annotation, so it is signed again.
  h.feed(run_json("a", "u1", "150", true), "u1", "150");
  CHECK(h.signer->calls == 2);
  CHECK(h.cluster.applies.size() == 2);
}

TEST_CASE("a PipelineRun waiting for its child is woken by the echo of the child's signing patch") {
  harness h;
  auto child = [](const std::string& rv, const std::string& annotations) {
    auto j = run_json("c", "uc", rv, true, annotations);
    auto at = j.find(R"("annotations":)");
    return j.insert(at, R"("labels":{"tekton.dev/pipelineRun":"p","tekton.dev/pipelineTask":"t"},)");
  };
  const std::string parent =
      R"({"apiVersion":"tekton.dev/v1","kind":"PipelineRun","metadata":{"name":"p","namespace":"ns","uid":"up",)"
      R"("resourceVersion":"20","annotations":{}},"spec":{},"status":{"startTime":"2026-01-01T00:00:00Z",)"
      R"("completionTime":"2026-01-01T00:02:00Z","conditions":[{"type":"Succeeded","status":"True"}],)"
      R"("pipelineSpec":{"tasks":[{"name":"t","taskRef":{"name":"build"}}]},)"
      R"("childReferences":[{"apiVersion":"tekton.dev/v1","kind":"TaskRun","name":"c","pipelineTaskName":"t"}]}})";
  h.cluster.children = {child("10", "{}")};
  h.rec->on_event(run_kind::pipeline_run, event(parent, "up", "20", kube::event_type::added));
  h.drain();
  CHECK(h.cluster.applies.empty());  // the child is not signed yet: the parent waits
  CHECK(h.rec->tracked() == 1);
  h.feed(child("10", "{}"), "uc", "10", kube::event_type::added);
  REQUIRE(h.cluster.applies.size() == 1);  // the child, now at rv 101
  CHECK(h.rec->tracked() == 1);            // the parent still waits: it has not heard of it
  h.cluster.children = {child("101", R"({"chains.tekton.dev/signed":"true"})")};
  h.feed(child("101", R"({"chains.tekton.dev/signed":"true"})"), "uc", "101");
  REQUIRE(h.cluster.applies.size() == 2);
  CHECK(h.cluster.applies[1].at("chains.tekton.dev/signed") == "true");
  CHECK(h.rec->tracked() == 0);
}

TEST_CASE("beyond max_queued_json_bytes queued runs keep metadata only and are read again when their turn comes") {
  const auto doc = run_json("r0", "u0", "10", true);
  harness_options ho;
  ho.max_queued_json_bytes = 2 * doc.size() + 10;  // room for two documents
  reconciler_options o;
  o.max_in_flight = 1;
  harness h(ho, o);
  for (int i = 0; i < 5; ++i) {
    auto name = "r" + std::to_string(i), uid = "u" + std::to_string(i);
    h.cluster.current[name] = run_json(name, uid, "20", true);  // what a GET sees now
    h.rec->on_event(run_kind::task_run, event(run_json(name, uid, "10", true), uid, "10", kube::event_type::added));
  }
  // r3 was deleted, r4 signed by someone else, before their turn.
  h.cluster.current.erase("r3");
  h.cluster.current["r4"] = run_json("r4", "u4", "21", true, R"({"chains.tekton.dev/signed":"true"})");
  h.drain();
  // Two documents were kept (r0, r1); r2..r4 were read again; r3 is gone, r4 needs nothing.
  CHECK(h.cluster.gets == std::vector<std::string>{"r2", "r3", "r4"});
  CHECK(h.cluster.applies.size() == 3);
  CHECK(h.signer->calls == 3);
  CHECK(h.rec->tracked() == 0);
}

TEST_CASE("running runs and runs of other managers are left alone") {
  harness h;
  h.feed(run_json("r", "u2", "10", false), "u2", "10");
  h.feed(run_json("k", "u3", "11", true, "{}", "kueue"), "u3", "11");
  CHECK(h.signer->calls == 0);
  CHECK(h.cluster.applies.empty());
  CHECK(h.rec->tracked() == 0);
}

TEST_CASE("retryable failures retry with backoff 0..3 from chainsd's own memory, then fail with a Warning event") {
  harness h;
  h.signer->mode = behaviour::retryable;
  h.feed(run_json("f", "u4", "10", true), "u4", "10");
  REQUIRE(h.cluster.applies.size() == 1);
  CHECK(h.cluster.applies[0].at("chains.tekton.dev/retries") == "0");
  // The backoff is retry_base × 2^retries: nothing happens before it passes.
  h.advance(999ms);
  CHECK(h.cluster.applies.size() == 1);
  h.advance(1ms);
  REQUIRE(h.cluster.applies.size() == 2);
  CHECK(h.cluster.applies[1].at("chains.tekton.dev/retries") == "1");
  // The echo of a retry patch does not cut the backoff short.
  h.feed(run_json("f", "u4", "102", true, R"({"chains.tekton.dev/retries":"1"})"), "u4", "102");
  CHECK(h.cluster.applies.size() == 2);
  h.advance(2s);
  h.advance(4s);
  h.advance(8s);
  REQUIRE(h.cluster.applies.size() == 5);
  CHECK(h.cluster.applies[3].at("chains.tekton.dev/retries") == "3");
  CHECK(h.cluster.applies[4].at("chains.tekton.dev/signed") == "failed");
  CHECK_THAT(h.cluster.applies[4].at("chains.tekton.dev/error"), Catch::Contains("test signer refuses"));
  REQUIRE(h.cluster.events.size() == 1);
  CHECK(h.cluster.events[0].first == "SigningFailed");
  CHECK(h.signer->calls == 5);
  h.advance(60s);
  CHECK(h.signer->calls == 5);
  CHECK(h.rec->tracked() == 0);
}

TEST_CASE("bad_config and unauthenticated from a signer: one call, failed at once") {
  for (auto mode : {behaviour::bad_config, behaviour::unauthenticated}) {
    harness h;
    h.signer->mode = mode;
    h.feed(run_json("f", "u4", "10", true), "u4", "10");
    h.advance(120s);
    CHECK(h.signer->calls == 1);
    REQUIRE(h.cluster.applies.size() == 1);
    CHECK(h.cluster.applies[0].at("chains.tekton.dev/signed") == "failed");
    CHECK(h.cluster.applies[0].count("chains.tekton.dev/retries") == 0);
    CHECK(h.cluster.events.size() == 1);
  }
}

TEST_CASE("a signer whose plugin is not installed fails the run at once (a config problem, not a key to wait for)") {
  harness h;
  h.set->signers.clear();
  h.set->signer_errors["x509"] = plugin::error{plugin::errc::not_found, "no signer plugin \"x509\" is installed"};
  h.feed(run_json("n", "u40", "10", true), "u40", "10");
  h.advance(120s);
  REQUIRE(h.cluster.applies.size() == 1);
  CHECK(h.cluster.applies[0].at("chains.tekton.dev/signed") == "failed");
  CHECK_THAT(h.cluster.applies[0].at("chains.tekton.dev/error"), Catch::Contains("signer x509 is unavailable"));
  REQUIRE(h.cluster.events.size() == 1);
  CHECK(h.cluster.events[0].first == "SigningFailed");
}

TEST_CASE("a throwing signer fails its run once, naming the plugin; the controller goes on") {
  harness h;
  h.signer->mode = behaviour::throws;
  h.feed(run_json("f", "u4", "10", true), "u4", "10");
  h.advance(120s);
  CHECK(h.signer->calls == 1);
  REQUIRE(h.cluster.applies.size() == 1);
  CHECK(h.cluster.applies[0].at("chains.tekton.dev/signed") == "failed");
  CHECK_THAT(h.cluster.applies[0].at("chains.tekton.dev/error"),
             Catch::Contains("signer plugin x509 9.9.9 threw from sign()") && Catch::Contains("test signer exploded"));
  h.signer->mode = behaviour::ok;
  h.feed(run_json("g", "u5", "11", true), "u5", "11");
  REQUIRE(h.cluster.applies.size() == 2);
  CHECK(h.cluster.applies[1].at("chains.tekton.dev/signed") == "true");
  CHECK_FALSE(h.finished);
}

TEST_CASE("a throwing storage fails its run once, naming the plugin: no re-signing loop") {
  harness_options ho;
  ho.storage = true;
  harness h(ho);
  h.storage->failures = 1000;
  h.storage->mode = behaviour::throws;
  h.feed(run_json("f", "u4", "10", true), "u4", "10");
  h.advance(120s);
  CHECK(h.signer->calls == 1);
  CHECK(h.storage->calls == 1);
  REQUIRE(h.cluster.applies.size() == 1);
  CHECK(h.cluster.applies[0].at("chains.tekton.dev/signed") == "failed");
  CHECK_THAT(h.cluster.applies[0].at("chains.tekton.dev/error"),
             Catch::Contains("storage plugin store 9.9.9 threw from store()"));
}

TEST_CASE("an unlogged signature's bundle is built only for a backend that stores it") {
  for (bool wants : {false, true}) {
    harness_options ho;
    ho.storage = true;
    harness h(ho);
    h.storage->wants_unlogged_bundle = wants;
    h.feed(run_json("b", "ub", "10", true), "ub", "10");
    h.advance(1s);
    REQUIRE(h.storage->bundles.size() == 1);
    if (wants) {
      CHECK_THAT(h.storage->bundles[0], Catch::Contains("application/vnd.dev.sigstore.bundle.v0.3+json"));
      CHECK_THAT(h.storage->bundles[0], Catch::Contains("\"tlogEntries\":[]"));
    } else {
      CHECK(h.storage->bundles[0].empty());
    }
    REQUIRE(h.cluster.applies.size() == 1);
    CHECK(h.cluster.applies[0].at("chains.tekton.dev/signed") == "true");
  }
}

TEST_CASE("a retry resumes: one signature and one log entry after a storage fails twice") {
  harness_options ho;
  ho.storage = true;
  ho.log = true;
  harness h(ho);
  h.storage->failures = 2;
  h.feed(run_json("f", "u4", "10", true), "u4", "10");
  CHECK(h.cluster.applies.size() == 1);  // retries 0
  h.advance(1s);
  CHECK(h.cluster.applies.size() == 2);  // retries 1
  h.advance(2s);
  REQUIRE(h.cluster.applies.size() == 3);
  const auto& last = h.cluster.applies[2];
  CHECK(last.at("chains.tekton.dev/signed") == "true");
  CHECK(last.count("chains.tekton.dev/error") == 0);
  CHECK(last.at("chains.tekton.dev/transparency") == "https://rekor.test/api/v1/log/entries?logIndex=1");
  CHECK(h.signer->calls == 1);
  CHECK(h.tlog->uploads == 1);
  CHECK(h.storage->calls == 3);
  REQUIRE(h.storage->signatures.size() == 1);
  CHECK(h.tlog->signatures.size() == 1);
}

TEST_CASE("a retry resumes after a log failure with the same signature, and after a failed patch with nothing redone") {
  harness_options ho;
  ho.storage = true;
  ho.log = true;
  harness h(ho);
  h.tlog->failures = 1;
  h.cluster.apply_failures = 1;  // the first pass's patch (retries 0) is lost too
  h.feed(run_json("f", "u4", "10", true), "u4", "10");
  CHECK(h.cluster.applies.empty());
  h.advance(1s);  // unwritten: the next pass resumes (sign reused, log retried)
  REQUIRE(h.cluster.applies.size() == 1);
  CHECK(h.cluster.applies[0].at("chains.tekton.dev/signed") == "true");
  CHECK(h.signer->calls == 1);
  CHECK(h.tlog->uploads == 2);
  CHECK(h.tlog->signatures.size() == 1);
  CHECK(h.storage->calls == 1);

  // The store and log succeed, only the patch fails: the retry writes what was made.
  h.cluster.apply_failures = 1;
  h.feed(run_json("g", "u5", "11", true), "u5", "11");
  CHECK(h.cluster.applies.size() == 1);
  h.advance(1s);
  REQUIRE(h.cluster.applies.size() == 2);
  CHECK(h.cluster.applies[1].at("chains.tekton.dev/signed") == "true");
  CHECK(h.signer->calls == 2);
  CHECK(h.tlog->signatures.size() == 2);
  CHECK(h.storage->calls == 2);
}

TEST_CASE("the signing patch is conditioned on the version read; a run signed meanwhile is read again, not re-signed") {
  harness h;
  // Another replica signed the run while this pass signed it: the apply fails its precondition.
  h.cluster.stale_applies = 1;
  h.cluster.current["s"] = run_json("s", "u8", "12", true, R"({"chains.tekton.dev/signed":"true"})");
  h.feed(run_json("s", "u8", "10", true), "u8", "10");
  CHECK(h.cluster.apply_preconditions == std::vector<std::string>{"10"});
  CHECK(h.cluster.applies.empty());
  h.advance(1s);  // read again (not from the kept document): signed, nothing more to do
  CHECK(h.cluster.gets == std::vector<std::string>{"s"});
  CHECK(h.cluster.applies.empty());
  CHECK(h.signer->calls == 1);
  CHECK(h.rec->tracked() == 0);

  // The run changed otherwise (still unsigned): the retry writes the same signature on the new version.
  h.cluster.stale_applies = 1;
  h.cluster.current["t"] = run_json("t", "u9", "22", true);
  h.feed(run_json("t", "u9", "20", true), "u9", "20");
  h.advance(1s);
  REQUIRE(h.cluster.applies.size() == 1);
  CHECK(h.cluster.apply_preconditions.back() == "22");
  CHECK(h.cluster.applies[0].at("chains.tekton.dev/signed") == "true");
  CHECK(h.signer->calls == 2);  // one per run
}

TEST_CASE("a retry patch is conditioned on the version our own previous patch made") {
  harness_options ho;
  ho.storage = true;
  harness h(ho);
  h.storage->failures = 1;
  h.feed(run_json("v", "u10", "10", true), "u10", "10");
  REQUIRE(h.cluster.applies.size() == 1);  // retries=1 written, at version 101
  h.advance(1s);                           // the kept document (version 10) predates that patch
  REQUIRE(h.cluster.applies.size() == 2);
  CHECK(h.cluster.apply_preconditions == std::vector<std::string>{"10", "101"});
  CHECK(h.cluster.applies[1].at("chains.tekton.dev/signed") == "true");
}

// A transparency log on, and a reconciler whose passes may lend their slot while it waits.
harness_options with_log() {
  harness_options ho;
  ho.log = true;
  return ho;
}
reconciler_options lending(std::size_t in_flight, std::size_t log_waiting) {
  reconciler_options o;
  o.max_in_flight = in_flight;
  o.max_log_waiting = log_waiting;
  return o;
}
// `n` finished, unsigned TaskRuns at once (named prefix0.., uids "u" + prefix + i).
void feed_finished(harness& h, const std::string& prefix, int n) {
  for (int i = 0; i < n; ++i) {
    auto name = prefix + std::to_string(i), uid = "u" + name;
    h.rec->on_event(run_kind::task_run, event(run_json(name, uid, "10", true), uid, "10"));
  }
  h.drain();
}

TEST_CASE("a pass waiting on the transparency log gives its slot back: uploads in flight are not capped by max_in_flight") {
  harness h(with_log(), lending(2, 5));
  h.tlog->hold = true;
  feed_finished(h, "w", 8);
  // 5 lent their slots and wait; 2 more hold a slot each (no more lending): 7 uploads waiting.
  CHECK(h.tlog->waiting == 7);
  CHECK(h.rec->in_flight() == 7);
  CHECK(h.cluster.applies.empty());
  h.tlog->release();
  h.drain();
  h.tlog->release();  // the eighth
  h.drain();
  CHECK(h.cluster.applies.size() == 8);
  CHECK(h.signer->calls == 8);
  CHECK(h.tlog->max_waiting == 7);
  CHECK(h.rec->in_flight() == 0);
  CHECK(h.rec->tracked() == 0);
}

TEST_CASE("passes the log answered at once take their slots back before new runs: patches stay within max_in_flight") {
  harness h(with_log(), lending(2, 5));
  h.tlog->hold = true;
  h.cluster.hold_applies = true;
  feed_finished(h, "c", 8);
  CHECK(h.tlog->waiting == 7);
  h.tlog->release();  // one checkpoint answers all seven
  h.drain();
  CHECK(h.cluster.applying == 2);  // two slots: the five others wait for one
  CHECK(h.tlog->uploads == 7);     // and go before the eighth run
  CHECK(h.rec->in_flight() == 7);
  for (int round = 0; round < 20 && h.cluster.applies.size() < 8; ++round) {
    h.cluster.release_applies();
    h.tlog->release();
    h.drain();
    CHECK(h.cluster.applying <= 2);
  }
  CHECK(h.cluster.applies.size() == 8);
  CHECK(h.cluster.max_applying == 2);
  CHECK(h.tlog->uploads == 8);
  CHECK(h.rec->in_flight() == 0);
  CHECK(h.rec->tracked() == 0);
}

TEST_CASE("a pass cut at its deadline while it waits to take its slot back ends as a retryable failure") {
  auto o = lending(1, 1);
  o.pass_timeout = std::chrono::seconds(10);
  harness h(with_log(), o);
  h.tlog->hold = true;
  h.cluster.hold_applies = true;
  feed_finished(h, "d", 2);
  CHECK(h.tlog->waiting == 2);  // one lent its slot, the other holds it
  h.tlog->release();
  h.drain();
  CHECK(h.cluster.applying == 1);  // the other waits for the slot
  h.advance(std::chrono::seconds(11));  // both passes over their deadline
  h.cluster.hold_applies = false;
  h.cluster.release_applies();
  h.drain();
  h.advance(std::chrono::seconds(5));
  CHECK(h.rec->in_flight() == 0);
  h.advance(std::chrono::seconds(120));
  CHECK(h.cluster.applies.size() >= 2);
  CHECK(h.rec->in_flight() == 0);
}

TEST_CASE("annotations over 256 KiB: the run is marked failed with a small patch naming the limit, no loop") {
  harness_options ho;
  ho.storage = true;
  ho.log = true;
  harness h(ho);
  h.storage->annotation_size = 300 * 1024;
  h.feed(run_json("big", "u6", "10", true), "u6", "10");
  h.advance(120s);
  REQUIRE(h.cluster.applies.size() == 1);
  const auto& a = h.cluster.applies[0];
  CHECK(a.at("chains.tekton.dev/signed") == "failed");
  CHECK(annotation_bytes(a) < 2048);
  CHECK_THAT(a.at("chains.tekton.dev/error"), Catch::Contains("262144") && Catch::Contains("artifacts.taskrun.storage"));
  CHECK(a.at("chains.tekton.dev/error").size() <= 512);
  CHECK(h.tlog->uploads == 1);
  CHECK(h.signer->calls == 1);
  REQUIRE(h.cluster.events.size() == 1);
  CHECK_THAT(h.cluster.events[0].second, Catch::Contains("would total"));
}

TEST_CASE("a patch the API server rejects (422) ends with a small failure patch, not a retry") {
  harness_options ho;
  ho.storage = true;
  harness h(ho);
  h.storage->annotation_size = 5000;
  h.cluster.reject_over = 4000;  // a server with a stricter limit than we know of
  h.feed(run_json("big", "u6", "10", true), "u6", "10");
  h.advance(120s);
  REQUIRE(h.cluster.applies.size() == 1);
  CHECK(h.cluster.applies[0].at("chains.tekton.dev/signed") == "failed");
  CHECK_THAT(h.cluster.applies[0].at("chains.tekton.dev/error"), Catch::Contains("refused"));
  CHECK(h.signer->calls == 1);
  CHECK(h.storage->calls == 1);
}

TEST_CASE("a signer without a key parks the run, one Warning event, and signs it once the key appears") {
  reconciler_options o;
  o.key_poll = 2s;
  harness h({}, o);
  h.signer->mode = behaviour::no_key;
  h.feed(run_json("k", "u7", "10", true), "u7", "10");
  h.advance(2s);
  h.advance(2s);
  CHECK(h.cluster.applies.empty());  // nothing written while waiting
  CHECK(h.signer->calls == 3);
  REQUIRE(h.cluster.events.size() == 1);
  CHECK(h.cluster.events[0].first == "SigningKeyMissing");
  h.signer->mode = behaviour::ok;
  h.advance(2s);
  REQUIRE(h.cluster.applies.size() == 1);
  CHECK(h.cluster.applies[0].at("chains.tekton.dev/signed") == "true");
  CHECK(h.rec->tracked() == 0);
}

namespace {
// A signer that never answers unless cancelled (a KMS that hangs).
struct hanging_signer final : plugin::signer {
  int calls = 0;
  boost::asio::awaitable<plugin::result<plugin::signature_result>> sign(std::string) override {
    ++calls;
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, boost::asio::steady_timer::time_point::max());
    co_await t.async_wait(boost::asio::use_awaitable);
    co_return plugin::signature_result{};
  }
  std::string public_key_pem() const override { return ""; }
};
}  // namespace

TEST_CASE("a pass is cut at its deadline and counted as a retryable failure; a hanging signer ends failed") {
  reconciler_options o;
  o.pass_timeout = 10s;
  o.max_retries = 1;
  harness h({}, o);
  auto hang = std::make_unique<hanging_signer>();
  auto* hanging = hang.get();
  h.set->signers["x509"] = plugin_host::guard(std::move(hang), info("signer", "x509"));
  h.feed(run_json("h", "u8", "10", true), "u8", "10");
  CHECK(h.rec->in_flight() == 1);
  h.advance(10s);
  REQUIRE(h.cluster.applies.size() == 1);
  CHECK(h.cluster.applies[0].at("chains.tekton.dev/retries") == "0");
  CHECK_THAT(h.cluster.applies[0].at("chains.tekton.dev/error"), Catch::Contains("--pass-timeout"));
  CHECK(h.rec->in_flight() == 0);
  h.advance(1s);   // backoff, then the second pass hangs too
  h.advance(10s);
  h.advance(2s);
  h.advance(10s);
  REQUIRE(h.cluster.applies.size() == 3);
  CHECK(h.cluster.applies[2].at("chains.tekton.dev/signed") == "failed");
  CHECK(hanging->calls == 3);
}

TEST_CASE("cancel() cuts passes in flight and writes nothing to their runs") {
  harness h;
  auto hang = std::make_unique<hanging_signer>();
  h.set->signers["x509"] = plugin_host::guard(std::move(hang), info("signer", "x509"));
  h.feed(run_json("h", "u8", "10", true), "u8", "10");
  REQUIRE(h.rec->in_flight() == 1);
  h.rec->stop();
  h.rec->cancel();
  h.drain();
  CHECK(h.rec->in_flight() == 0);
  CHECK(h.cluster.applies.empty());
  CHECK(h.finished);
}

TEST_CASE("upstream's finalizers go: with the signing patch where apply cannot, and from runs signed before") {
  harness h;
  h.cluster.leave_finalizers = {"chains.tekton.dev/taskrun", "x.io/keep"};
  const std::string fin = R"("finalizers":["chains.tekton.dev/taskrun","x.io/keep"],)";
  h.feed(run_json("f", "u9", "10", true, "{}", "", fin), "u9", "10");
  REQUIRE(h.cluster.applies.size() == 1);
  REQUIRE(h.cluster.finalizer_patches.size() == 1);
  CHECK(h.cluster.finalizer_patches[0] == std::vector<std::string>{"x.io/keep"});
  CHECK(h.cluster.finalizer_preconditions[0] == "101");  // the version the apply made
  // A run Chains signed (or that is still running) that carries the finalizer: only the finalizer goes.
  h.cluster.leave_finalizers.clear();
  h.feed(run_json("s", "u10", "20", true, R"({"chains.tekton.dev/signed":"true"})", "",
                  R"("finalizers":["chains.tekton.dev"],)"),
         "u10", "20");
  h.feed(run_json("r", "u11", "21", false, "{}", "", R"("finalizers":["chains.tekton.dev/taskrun"],)"), "u11", "21");
  CHECK(h.cluster.applies.size() == 1);
  REQUIRE(h.cluster.finalizer_patches.size() == 3);
  CHECK(h.cluster.finalizer_patches[1].empty());
  CHECK(h.cluster.finalizer_preconditions[1] == "20");
  CHECK(h.signer->calls == 1);
  CHECK(h.rec->tracked() == 0);
}

TEST_CASE("a run being deleted with upstream's finalizer is signed first, then released") {
  harness h;
  h.feed(run_json("d", "u12", "10", true, "{}", "",
                  R"("deletionTimestamp":"2026-01-01T00:05:00Z","finalizers":["chains.tekton.dev/taskrun"],)"),
         "u12", "10");
  REQUIRE(h.cluster.applies.size() == 1);
  CHECK(h.cluster.applies[0].at("chains.tekton.dev/signed") == "true");
  REQUIRE(h.cluster.finalizer_patches.size() == 1);
  CHECK(h.cluster.finalizer_patches[0].empty());
  // Without upstream's finalizer a run being deleted is left alone.
  h.feed(run_json("e", "u13", "11", true, "{}", "", R"("deletionTimestamp":"2026-01-01T00:05:00Z",)"), "u13", "11");
  CHECK(h.signer->calls == 1);
}

TEST_CASE("HA: runs of buckets this replica does not hold are skipped before parsing, and released on loss") {
  bool own_all = true;
  reconciler_options o;
  o.owns = [&own_all](run_kind, std::string_view, std::string_view name) { return own_all || name != "theirs"; };
  harness h({}, o);
  auto ev = event("not even JSON", "u14", "10", kube::event_type::added, "theirs");
  own_all = false;
  h.rec->on_event(run_kind::task_run, ev);  // would log "cannot be read" if it were parsed
  h.drain();
  CHECK(h.rec->tracked() == 0);
  h.signer->mode = behaviour::retryable;
  h.rec->on_event(run_kind::task_run, event(run_json("theirs", "u15", "10", true), "u15", "10", kube::event_type::added, "theirs"));
  own_all = true;
  h.rec->on_event(run_kind::task_run, event(run_json("theirs", "u15", "10", true), "u15", "10", kube::event_type::added, "theirs"));
  h.drain();
  REQUIRE(h.cluster.applies.size() == 1);  // retries 0, waiting for its backoff
  CHECK(h.rec->tracked() == 1);
  own_all = false;
  h.rec->drop_unowned();
  CHECK(h.rec->tracked() == 0);
  h.advance(10s);
  CHECK(h.cluster.applies.size() == 1);
}

TEST_CASE("HA: a bucket taken over is re-examined: its runs are listed and the unsigned ones signed") {
  bool own = false;
  reconciler_options o;
  o.owns = [&own](run_kind, std::string_view, std::string_view) { return own; };
  o.rescan_delay = 0ms;
  harness h({}, o);
  auto a = run_json("a", "ua", "10", true), b = run_json("b", "ub", "11", true, R"({"chains.tekton.dev/signed":"true"})");
  h.rec->on_event(run_kind::task_run, event(a, "ua", "10", kube::event_type::added, "a"));
  h.drain();
  CHECK(h.rec->tracked() == 0);  // another replica's bucket
  own = true;
  h.cluster.listed = {a, b};
  h.rec->rescan(run_kind::task_run);
  h.rec->rescan(run_kind::task_run);  // taken together: one more list at most
  h.drain();
  CHECK(h.cluster.lists <= 2);
  REQUIRE(h.cluster.applies.size() == 1);  // a only: b was signed already
  CHECK(h.signer->calls == 1);
}

TEST_CASE("HA: a bucket lost mid-pass cuts the pass; nothing is written") {
  bool own = true;
  reconciler_options o;
  o.owns = [&own](run_kind, std::string_view, std::string_view) { return own; };
  harness h({}, o);
  h.set->signers["x509"] = plugin_host::guard(std::make_unique<hanging_signer>(), info("signer", "x509"));
  h.rec->on_event(run_kind::task_run, event(run_json("c", "uc", "10", true), "uc", "10", kube::event_type::added, "c"));
  h.drain();
  REQUIRE(h.rec->in_flight() == 1);
  own = false;
  h.rec->drop_unowned();
  h.drain();
  CHECK(h.rec->in_flight() == 0);
  CHECK(h.rec->tracked() == 0);
  CHECK(h.cluster.applies.empty());
}

// artifacts.oci.sign-platform-manifests: the plan asks the storage that reads image indexes for
// the manifests under each image the run reported and signs each like the image itself.
namespace {

const std::string index_hex = std::string(64, '1');
const std::string amd64_hex = std::string(64, '2');
const std::string arm64_hex = std::string(64, '3');
const std::string repo = "registry.example.com/team/app";

std::string image_run_json() {
  // IMAGES names the index and (as some build tasks do) one of its platform manifests.
  return R"({"apiVersion":"tekton.dev/v1","kind":"TaskRun","metadata":{"name":"build","namespace":"ns","uid":"u9",)"
         R"("resourceVersion":"10"},"spec":{"serviceAccountName":"builder"},"status":{"startTime":"2026-01-01T00:00:00Z",)"
         R"("completionTime":"2026-01-01T00:01:00Z","conditions":[{"type":"Succeeded","status":"True"}],)"
         R"("taskSpec":{"steps":[{"name":"s","image":"busybox"}]},"steps":[{"name":"s","imageID":"busybox@sha256:)" +
         std::string(64, 'a') + R"("}],"results":[{"name":"IMAGES","type":"string","value":")" + repo + "@sha256:" +
         index_hex + ", " + repo + "@sha256:" + arm64_hex + R"("}]}})";
}

struct index_storage final : plugin::storage {
  bool capable = true;
  std::optional<plugin::error> list_error;
  std::map<std::string, std::vector<std::string>> indexes;  // image → digests it lists
  std::vector<plugin::run_ref> list_calls;
  std::vector<std::string> listed_images;
  std::vector<plugin::store_request> stored;
  boost::asio::awaitable<plugin::result<plugin::store_result>> store(plugin::store_request req) override {
    stored.push_back(std::move(req));
    co_return plugin::store_result{};
  }
  bool reads_image_indexes() const override { return capable; }
  boost::asio::awaitable<plugin::result<std::vector<std::string>>> index_manifests(plugin::run_ref run,
                                                                                   std::string image) override {
    list_calls.push_back(run);
    listed_images.push_back(image);
    if (list_error) co_return *list_error;
    auto it = indexes.find(image);
    co_return it == indexes.end() ? std::vector<std::string>{} : it->second;
  }
};

struct image_harness {
  boost::asio::io_context ctx;
  counting_signer* signer = nullptr;
  index_storage* storage = nullptr;
  std::shared_ptr<plugin_set> set = std::make_shared<plugin_set>();

  explicit image_harness(bool key, bool capable = true) {
    auto cfg = std::make_shared<config::config>(config::default_config());
    cfg->taskrun.storage = {""};  // provenance off: only image signatures
    cfg->oci.storage = {"registry"};
    cfg->oci.sign_platform_manifests = key;
    set->cfg = cfg;
    auto s = std::make_unique<counting_signer>();
    signer = s.get();
    set->signers.emplace("x509", std::move(s));
    auto st = std::make_unique<index_storage>();
    st->capable = capable;
    st->indexes[repo + "@sha256:" + index_hex] = {"sha256:" + amd64_hex, "sha256:" + arm64_hex};
    storage = st.get();
    set->storages.emplace("registry", std::move(st));
    pick_index_reader(*set);
  }
  static boost::asio::awaitable<pass_result> plan_and_sign(std::shared_ptr<plugin_set> set) {
    auto json = image_run_json();
    auto p = co_await make_plan(set, parse_run_meta(json, run_kind::task_run), json, {});
    co_return co_await sign_log_store(set, std::move(p), std::make_shared<run_progress>());
  }
  pass_result sign() {
    auto fut = boost::asio::co_spawn(ctx, plan_and_sign(set), boost::asio::use_future);
    ctx.run();
    return fut.get();
  }
  std::map<std::string, plugin::store_request> stored_by_image() const {
    std::map<std::string, plugin::store_request> m;
    for (const auto& r : storage->stored) m[r.image] = r;
    return m;
  }
};

std::string simplesigning(const std::string& hex) {
  return R"({"critical":{"identity":{"docker-reference":")" + repo +
         R"("},"image":{"docker-manifest-digest":"sha256:)" + hex +
         R"("},"type":"cosign container image signature"},"optional":null})";
}

}  // namespace

TEST_CASE("sign-platform-manifests: every manifest an index lists is signed and stored like the index") {
  image_harness h(true);
  REQUIRE(h.set->index_reader == h.storage);
  CHECK(h.set->index_error.empty());
  auto out = h.sign();
  INFO((out.failures.empty() ? std::string() : out.failures[0].message));
  CHECK(out.failures.empty());
  // The index and its two platform manifests, the arm64 one once although the run reported it too.
  CHECK(h.signer->calls == 3);
  CHECK(out.signed_count == 3);
  CHECK(out.stored_count == 3);
  auto stored = h.stored_by_image();
  REQUIRE(stored.size() == 3);
  for (const auto& hex : {index_hex, amd64_hex, arm64_hex}) {
    INFO(hex);
    const auto& r = stored.at(repo + "@sha256:" + hex);
    CHECK(r.kind == plugin::artifact_kind::oci);
    CHECK(r.payload == simplesigning(hex));
    CHECK_THAT(r.signature, Catch::StartsWith("sig:" + std::to_string(r.payload.size()) + ":"));  // raw signature
    CHECK(r.short_key == hex.substr(0, 12));
    CHECK(r.full_key == r.image);
    CHECK(r.run.service_account == "builder");
  }
  // Each reported image was asked about once (the platform manifests themselves are not).
  CHECK(h.storage->listed_images ==
        std::vector<std::string>{repo + "@sha256:" + index_hex, repo + "@sha256:" + arm64_hex});
  REQUIRE(!h.storage->list_calls.empty());
  CHECK(h.storage->list_calls[0].service_account == "builder");
  CHECK(h.storage->list_calls[0].namespace_name == "ns");
}

TEST_CASE("sign-platform-manifests off: indexes are not read, only the reported images are signed") {
  image_harness h(false);
  CHECK(h.set->index_reader == nullptr);
  CHECK(h.set->index_error.empty());
  auto out = h.sign();
  CHECK(out.failures.empty());
  CHECK(h.storage->listed_images.empty());
  CHECK(h.stored_by_image().size() == 2);
}

TEST_CASE("sign-platform-manifests without a storage that reads indexes: a config error naming the key") {
  image_harness h(true, false);
  CHECK(h.set->index_reader == nullptr);
  CHECK_THAT(h.set->index_error, Catch::Contains("artifacts.oci.sign-platform-manifests is true") &&
                                     Catch::Contains("artifacts.oci.storage (registry)"));
  auto out = h.sign();
  REQUIRE(out.failures.size() == 2);  // one per reported image
  CHECK_THAT(out.failures[0].message, Catch::Contains(repo + "@sha256:" + index_hex) && Catch::Contains("ns/build") &&
                                          Catch::Contains("artifacts.oci.sign-platform-manifests"));
  CHECK(out.failures[0].type == "payload_creation");
  // Retrying cannot help until the config changes: the run fails now (bad_config).
  CHECK(out.failures[0].cls == plugin::errc::bad_config);
  CHECK(dispose(out.failures[0]) == disposition::fail);
  // What could be signed still is.
  CHECK(h.stored_by_image().size() == 2);
  CHECK(h.storage->listed_images.empty());
}

TEST_CASE("sign-platform-manifests: a failed index read fails the pass naming the image, with the storage's class") {
  image_harness h(true);
  h.storage->list_error = plugin::fail(plugin::errc::retryable, "registry.example.com unreachable");
  auto out = h.sign();
  REQUIRE(out.failures.size() == 2);
  CHECK_THAT(out.failures[0].message,
             Catch::Contains("listing the manifests of image index " + repo + "@sha256:" + index_hex) &&
                 Catch::Contains("registry.example.com unreachable"));
  CHECK(out.failures[0].cls == plugin::errc::retryable);
  CHECK(h.stored_by_image().size() == 2);
}

TEST_CASE("sign-platform-manifests: a malformed digest from the storage is an error, not a signature") {
  image_harness h(true);
  h.storage->indexes[repo + "@sha256:" + index_hex] = {"sha256:XYZ", "sha256:" + amd64_hex};
  auto out = h.sign();
  REQUIRE(out.failures.size() == 1);
  CHECK_THAT(out.failures[0].message, Catch::Contains("\"sha256:XYZ\" is not a manifest digest"));
  auto stored = h.stored_by_image();
  CHECK(stored.size() == 3);
  CHECK(stored.count(repo + "@sha256:" + amd64_hex) == 1);
}
