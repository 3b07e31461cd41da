// Integration tests of engine/kube against tests/support/kube-testserver (a real HTTP API server
// with fault injection). Each test case starts its own server process.
#include <catch2/catch.hpp>

#include "kube/client.hpp"
#include "kube/json_scan.hpp"
#include "kube/watcher.hpp"
#include "../../support/testserver_process.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <functional>
#include <map>
#include <memory>
#include <set>

namespace asio = boost::asio;
using namespace chainsd::kube;
using chainsd::kube::test::testserver_process;
using namespace std::chrono_literals;

namespace {

const resource cm = configmaps_v1();
const resource namespaces{"", "v1", "namespaces", false};

std::string configmap(const std::string& ns, const std::string& name, const std::string& value) {
  return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name + R"(","namespace":")" +
         ns + R"("},"data":{"k":")" + value + R"("}})";
}

// Runs a coroutine to completion on `io`, rethrowing its exception.
void run(asio::io_context& io, std::function<asio::awaitable<void>()> body) {
  std::exception_ptr err;
  bool done = false;
  auto handler = [&](std::exception_ptr e) {
    err = e;
    done = true;
  };
  asio::co_spawn(io, body(), handler);
  io.restart();
  io.run();
  REQUIRE(done);
  if (err) std::rethrow_exception(err);
}

asio::awaitable<void> sleep(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

// Polls `cond` until true or the deadline; returns its final value.
asio::awaitable<bool> eventually(std::function<bool()> cond, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) co_return false;
    co_await sleep(10ms);
  }
  co_return true;
}

asio::awaitable<void> ensure_namespace(client* c, std::string ns) {
  auto r = co_await c->create(namespaces, "", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + ns + R"("}})");
  REQUIRE((r.ok() || r.conflict()));
}

// Fails the test with the server's answer unless the request succeeded.
void require_ok(const result& r) {
  INFO(r.status << " " << r.body);
  REQUIRE(r.ok());
}

void check_ok(const result& r) {
  INFO(r.status << " " << r.body);
  CHECK(r.ok());
}

// Stops a watcher when the scenario ends, also by a failed REQUIRE, so io.run() can return.
struct stop_on_exit {
  watcher* w;
  ~stop_on_exit() { w->stop(); }
};

// Creates an object, failing the test with the server's answer when it is refused.
asio::awaitable<void> must_create(client* c, std::string ns, std::string body) {
  auto r = co_await c->create(cm, ns, std::move(body));
  INFO(r.status << " " << r.body);
  REQUIRE(r.ok());
}

asio::awaitable<void> set_faults(client* c, std::string json) {
  auto r = co_await c->request("POST", "/testserver/faults", std::move(json), "application/json", false);
  REQUIRE(r.ok());
}

// What the consumer saw, with duplicate detection.
struct recorder {
  std::map<std::string, std::string> rv;         // key → last rv seen (absent after delete)
  std::map<std::string, int> added, modified, deleted;
  std::set<std::string> seen;                    // type|key|rv, to catch duplicates
  int duplicates = 0;
  int events = 0;
  bool synced = false;

  void operator()(watch_event e) {
    ++events;
    std::string key = e.namespace_name + "/" + e.name;
    std::string t = e.type == event_type::added ? "A" : e.type == event_type::modified ? "M" : "D";
    if (!seen.insert(t + "|" + key + "|" + e.resource_version).second) ++duplicates;
    switch (e.type) {
      case event_type::added:
        CHECK_FALSE(rv.count(key));
        ++added[key];
        rv[key] = e.resource_version;
        CHECK_FALSE(e.object.empty());
        break;
      case event_type::modified:
        CHECK(rv.count(key));
        ++modified[key];
        rv[key] = e.resource_version;
        break;
      case event_type::deleted:
        CHECK(rv.count(key));
        ++deleted[key];
        rv.erase(key);
        break;
    }
  }
};

// The server's view: key → rv, via a paginated list.
asio::awaitable<std::map<std::string, std::string>> server_state(client* c, std::string ns) {
  std::map<std::string, std::string> out;
  json_scanner s;
  std::string cont;
  do {
    list_options o;
    o.limit = 50;
    o.continue_token = cont;
    auto r = co_await c->list(cm, ns, o);
    REQUIRE(r.ok());
    auto on_item = [&](const object_meta& m, std::string_view) {
      out[m.namespace_name + "/" + m.name] = m.resource_version;
    };
    cont = s.scan_list(r.body, on_item).continue_token;
  } while (!cont.empty());
  co_return out;
}

struct fixture {
  explicit fixture(std::vector<std::string> server_args = {}, client_options o = {})
      : server(std::move(server_args)), c(io.get_executor(), load_kubeconfig(server.kubeconfig()), o) {}
  testserver_process server;
  asio::io_context io;
  client c;
};

// The setup every watch scenario shares: its own server, one watcher on configmaps with the
// scenario's options, a recorder of what it delivers. Coroutines get the fixture by pointer.
struct watch_fixture : fixture {
  explicit watch_fixture(watcher_options wo, std::vector<std::string> server_args = {})
      : fixture(std::move(server_args)), w(c, cm, std::move(wo)) {}
  watcher w;
  recorder rec;
  std::shared_ptr<bool> finished = std::make_shared<bool>(true);  // run() has returned
};

// Starts f->w.run() recording into f->rec; f->finished is set once run() has returned.
void start_watch(watch_fixture* f) {
  auto finished = f->finished = std::make_shared<bool>(false);
  recorder* rp = &f->rec;
  auto done = [finished](std::exception_ptr e) {
    *finished = true;
    if (e) std::rethrow_exception(e);
  };
  auto on_event = [rp](watch_event e) { (*rp)(std::move(e)); };
  auto on_synced = [rp]() { rp->synced = true; };
  asio::co_spawn(f->io, f->w.run(on_event, on_synced), done);
}

// Whether the watcher delivered its first list within `limit`.
asio::awaitable<bool> synced(watch_fixture* f, std::chrono::milliseconds limit = 10s) {
  recorder* rp = &f->rec;
  auto is_synced = [rp] { return rp->synced; };
  co_return co_await eventually(is_synced, limit);
}

// Stops the watcher; whether its run() returned within 5 s.
asio::awaitable<bool> stop_watch(watch_fixture* f) {
  f->w.stop();
  auto finished = f->finished;
  auto is_finished = [finished] { return *finished; };
  co_return co_await eventually(is_finished, 5s);
}

using watch_scenario = std::function<asio::awaitable<void>(watch_fixture*)>;

asio::awaitable<void> stopping_watcher(watch_fixture* f, watch_scenario body) {
  stop_on_exit guard{&f->w};
  co_await body(f);
}

// Runs a scenario on f's loop; the watcher is stopped when it ends (also by a failed REQUIRE) so
// io.run() returns.
void run_watch(watch_fixture& f, watch_scenario body) {
  watch_fixture* fp = &f;
  run(f.io, [fp, body]() { return stopping_watcher(fp, body); });
}

}  // namespace

TEST_CASE("requests: create, get, conflict, patches, apply, update, delete, Status decoding") {
  fixture f;
  client* c = &f.c;
  run(f.io, [c]() -> asio::awaitable<void> {
    co_await ensure_namespace(c, "crud");
    auto r = co_await c->create(cm, "crud", configmap("crud", "one", "v1"));
    REQUIRE(r.status == 201);
    json_scanner s;
    auto created = s.scan_object(r.body);
    CHECK(created.name == "one");
    CHECK_FALSE(created.uid.empty());

    auto dup = co_await c->create(cm, "crud", configmap("crud", "one", "v1"));
    CHECK(dup.conflict());
    CHECK(dup.error().reason == "AlreadyExists");
    CHECK(dup.error().code == 409);

    auto missing = co_await c->get(cm, "crud", "absent");
    CHECK(missing.not_found());
    auto st = missing.error();
    CHECK(st.reason == "NotFound");
    CHECK(st.message.find("absent") != std::string::npos);
    // Catch's CHECK_THROWS inside a coroutine trips g++ 12; a plain try/catch does not.
    bool threw = false;
    try {
      std::move(missing).value();
    } catch (const kube_error& e) {
      threw = e.code() == 404;
    }
    CHECK(threw);

    auto merged = co_await c->patch(cm, "crud", "one", patch_type::merge, R"({"data":{"m":"merged"}})");
    REQUIRE(merged.ok());
    CHECK(merged.body.find(R"("m":"merged")") != std::string::npos);
    CHECK(merged.body.find(R"("k":"v1")") != std::string::npos);

    auto jp = co_await c->patch(cm, "crud", "one", patch_type::json,
                                R"([{"op":"replace","path":"/data/k","value":"v2"}])");
    REQUIRE(jp.ok());
    CHECK(jp.body.find(R"("k":"v2")") != std::string::npos);

    // Server-side apply, JSON is valid YAML; creates when absent.
    auto applied = co_await c->apply(cm, "crud", "two",
        R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"two","namespace":"crud"},"data":{"a":"1"}})",
        "chainsd-test", true);
    REQUIRE(applied.ok());
    auto again = co_await c->apply(cm, "crud", "two",
        R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"two","namespace":"crud"},"data":{"a":"2"}})",
        "chainsd-test", true);
    REQUIRE(again.ok());
    auto got = co_await c->get(cm, "crud", "two");
    REQUIRE(got.ok());
    CHECK(got.body.find(R"("a":"2")") != std::string::npos);
    CHECK(got.body.find("chainsd-test") != std::string::npos);  // managedFields records the manager

    // Update with a stale resourceVersion → 409 Conflict.
    auto stale = configmap("crud", "one", "v3");
    stale.insert(stale.find(R"("namespace")"), R"("resourceVersion":")" + created.resource_version + R"(",)");
    auto upd = co_await c->update(cm, "crud", "one", stale);
    CHECK(upd.conflict());
    CHECK(upd.error().reason == "Conflict");

    auto del = co_await c->remove(cm, "crud", "one");
    CHECK(del.ok());
    auto gone = co_await c->get(cm, "crud", "one");
    CHECK(gone.not_found());
    auto del2 = co_await c->remove(cm, "crud", "one");
    CHECK(del2.not_found());
  });
}

TEST_CASE("list pagination with limit and continue") {
  fixture f;
  client* c = &f.c;
  run(f.io, [c]() -> asio::awaitable<void> {
    co_await ensure_namespace(c, "pages");
    for (int i = 0; i < 25; ++i)
      co_await must_create(c, "pages", configmap("pages", "cm-" + std::to_string(i), "x"));
    json_scanner s;
    std::set<std::string> names;
    std::string cont;
    int pages = 0;
    std::size_t total = 0;
    do {
      list_options o;
      o.limit = 10;
      o.continue_token = cont;
      auto r = co_await c->list(cm, "pages", o);
      REQUIRE(r.ok());
      ++pages;
      auto on_item = [&](const object_meta& m, std::string_view) { names.insert(m.name); };
      auto lm = s.scan_list(r.body, on_item);
      CHECK(lm.items <= 10);
      total += lm.items;
      cont = lm.continue_token;
    } while (!cont.empty());
    CHECK(pages == 3);
    CHECK(total == 25);
    CHECK(names.size() == 25);
  });
}

TEST_CASE("429 and 5xx are retried for idempotent verbs only; transport failures surface") {
  client_options o;
  o.retry_initial = 5ms;
  o.retry_max = 50ms;
  o.max_retries = 8;
  fixture f({}, o);
  client* c = &f.c;
  run(f.io, [c]() -> asio::awaitable<void> {
    co_await ensure_namespace(c, "retry");
    co_await must_create(c, "retry", configmap("retry", "x", "1"));

    // 429 carries Retry-After: 1 from the test server; the retry waits for it.
    co_await set_faults(c, R"({"fail_nth_request":{"n":1,"status":429}})");
    auto t0 = std::chrono::steady_clock::now();
    check_ok(co_await c->get(cm, "retry", "x"));
    CHECK(std::chrono::steady_clock::now() - t0 >= 900ms);

    co_await set_faults(c, R"({"fail_nth_request":{"n":1,"status":503}})");
    check_ok(co_await c->get(cm, "retry", "x"));

    // A non-idempotent create is not retried on 5xx: the caller sees the 500.
    co_await set_faults(c, R"({"fail_nth_request":{"n":1,"status":500}})");
    auto cr = co_await c->create(cm, "retry", configmap("retry", "y", "1"));
    CHECK(cr.status == 500);
    // ...but it is on 429 (the server did not act on it).
    co_await set_faults(c, R"({"fail_nth_request":{"n":1,"status":429}})");
    check_ok(co_await c->create(cm, "retry", configmap("retry", "z", "1")));

    co_await set_faults(c, R"({"fail_fraction":{"fraction":0.3,"status":500}})");
    int ok = 0;
    for (int i = 0; i < 40; ++i) ok += (co_await c->get(cm, "retry", "x")).ok() ? 1 : 0;
    co_await set_faults(c, R"({"clear":true})");
    CHECK(ok == 40);
  });
}

TEST_CASE("watch: every create seen exactly once while the server drops watches every 7 events") {
  watcher_options wo;
  wo.namespace_name = "drops";
  wo.backoff_initial = 5ms;
  wo.backoff_max = 50ms;
  wo.page_size = 20;
  watch_fixture f(wo);
  run_watch(f, [](watch_fixture* f) -> asio::awaitable<void> {
    client* c = &f->c;
    recorder* rp = &f->rec;
    co_await ensure_namespace(c, "drops");
    for (int i = 0; i < 30; ++i)  // some objects before the first list
      co_await must_create(c, "drops", configmap("drops", "pre-" + std::to_string(i), "x"));
    start_watch(f);
    REQUIRE(co_await synced(f));
    CHECK(rp->added.size() == 30);

    co_await set_faults(c, R"({"drop_watch_after_events":7})");
    for (int i = 0; i < 200; ++i) {
      co_await must_create(c, "drops", configmap("drops", "cm-" + std::to_string(i), "x"));
      if (i % 3 == 0)
        require_ok(co_await c->patch(cm, "drops", "cm-" + std::to_string(i), patch_type::merge,
                                   R"({"data":{"k":"changed"}})"));
      if (i % 10 == 0) require_ok(co_await c->remove(cm, "drops", "pre-" + std::to_string(i / 10)));
    }
    auto want = co_await server_state(c, "drops");
    auto caught_up = [rp, &want] { return rp->rv == want; };
    CHECK(co_await eventually(caught_up, 20s));
    co_await set_faults(c, R"({"clear":true})");
    CHECK(co_await stop_watch(f));
  });
  CHECK(f.rec.duplicates == 0);
  CHECK(f.rec.added.size() == 230);
  for (auto& [k, n] : f.rec.added) CHECK(n == 1);
  CHECK(f.rec.deleted.size() == 20);
  CHECK(f.rec.modified.size() == 67);
  CHECK(f.w.stats().watches > 20);  // the drops really happened
  CHECK(f.w.stats().lists == 1);    // ...and each was resumed, not relisted
  CHECK(f.w.known_objects() == 210);
}

TEST_CASE("watch: 410 Gone relists and reconciles without duplicates, deletions detected") {
  watcher_options wo;
  wo.namespace_name = "gone";
  wo.backoff_initial = 5ms;
  wo.backoff_max = 50ms;
  wo.page_size = 7;
  watch_fixture f(wo);
  run_watch(f, [](watch_fixture* f) -> asio::awaitable<void> {
    client* c = &f->c;
    recorder* rp = &f->rec;
    co_await ensure_namespace(c, "gone");
    for (int i = 0; i < 20; ++i)
      co_await must_create(c, "gone", configmap("gone", "cm-" + std::to_string(i), "x"));
    start_watch(f);
    REQUIRE(co_await synced(f));
    REQUIRE(rp->added.size() == 20);

    // Take the watcher away, change things behind its back, forget the history.
    REQUIRE(co_await stop_watch(f));
    for (int i = 0; i < 5; ++i) require_ok(co_await c->remove(cm, "gone", "cm-" + std::to_string(i)));
    for (int i = 5; i < 10; ++i)
      require_ok(co_await c->patch(cm, "gone", "cm-" + std::to_string(i), patch_type::merge,
                                 R"({"data":{"k":"y"}})"));
    for (int i = 20; i < 23; ++i)
      co_await must_create(c, "gone", configmap("gone", "cm-" + std::to_string(i), "x"));
    // Deleted and recreated under the same name: a new uid.
    require_ok(co_await c->remove(cm, "gone", "cm-19"));
    co_await must_create(c, "gone", configmap("gone", "cm-19", "again"));
    co_await set_faults(c, R"({"compact_history":true})");

    rp->added.clear();
    rp->modified.clear();
    rp->deleted.clear();
    start_watch(f);
    auto want = co_await server_state(c, "gone");
    auto caught_up = [rp, &want] { return rp->rv == want; };
    CHECK(co_await eventually(caught_up, 10s));
    CHECK(co_await stop_watch(f));
  });
  CHECK(f.w.stats().gone >= 1);
  CHECK(f.w.stats().lists == 2);
  CHECK(f.rec.duplicates == 0);
  // 5 deleted + cm-19's old uid; 3 new + cm-19's new uid; 5 modified; 10 unchanged → nothing.
  CHECK(f.rec.deleted.size() == 6);
  CHECK(f.rec.added.size() == 4);
  CHECK(f.rec.modified.size() == 5);
  CHECK(f.rec.added.count("gone/cm-19"));
  CHECK(f.rec.deleted.count("gone/cm-19"));
}

TEST_CASE("watch: tiny server history forces relists under load; still exactly once") {
  watcher_options wo;
  wo.namespace_name = "hist";
  wo.backoff_initial = 5ms;
  wo.backoff_max = 50ms;
  wo.page_size = 25;
  watch_fixture f(wo, {"--history", "5"});
  run_watch(f, [](watch_fixture* f) -> asio::awaitable<void> {
    client* c = &f->c;
    recorder* rp = &f->rec;
    co_await ensure_namespace(c, "hist");
    start_watch(f);
    REQUIRE(co_await synced(f));
    co_await set_faults(c, R"({"drop_watch_after_events":3})");
    for (int i = 0; i < 150; ++i) {
      co_await must_create(c, "hist", configmap("hist", "cm-" + std::to_string(i), "x"));
      if (i % 5 == 0) require_ok(co_await c->remove(cm, "hist", "cm-" + std::to_string(i)));
    }
    auto want = co_await server_state(c, "hist");
    auto caught_up = [rp, &want] { return rp->rv == want; };
    CHECK(co_await eventually(caught_up, 20s));
    co_await set_faults(c, R"({"clear":true})");
    CHECK(co_await stop_watch(f));
  });
  CHECK(f.rec.duplicates == 0);
  for (auto& [k, n] : f.rec.added) CHECK(n == 1);
  // Objects created and deleted while the watcher was relisting may never be seen; those that
  // were seen as added and are gone must have been seen deleted (checked by caught_up).
  CHECK(f.w.known_objects() == 120);
  CHECK(f.w.stats().gone >= 1);  // the small history really forced relists
  CHECK(f.w.stats().lists >= 2);
}

TEST_CASE("watch: a stalled stream (no bytes, no bookmarks) is reconnected") {
  watcher_options wo;
  wo.namespace_name = "stall";
  wo.idle_timeout = 300ms;
  wo.backoff_initial = 5ms;
  wo.backoff_max = 20ms;
  watch_fixture f(wo, {"--bookmark-interval", "3600s"});
  run_watch(f, [](watch_fixture* f) -> asio::awaitable<void> {
    client* c = &f->c;
    recorder* rp = &f->rec;
    watcher* wp = &f->w;
    co_await ensure_namespace(c, "stall");
    start_watch(f);
    REQUIRE(co_await synced(f));
    auto reconnected = [wp] { return wp->stats().watches >= 3; };
    CHECK(co_await eventually(reconnected, 5s));
    co_await must_create(c, "stall", configmap("stall", "late", "x"));
    auto seen = [rp] { return rp->added.count("stall/late") == 1; };
    CHECK(co_await eventually(seen, 5s));
    CHECK(co_await stop_watch(f));
  });
  CHECK(f.w.stats().failures >= 2);
  CHECK(f.rec.duplicates == 0);
}

TEST_CASE("watch: cancellation through the cancellation slot ends run() normally") {
  fixture f;
  client* c = &f.c;
  watcher w(f.c, cm, {});
  watcher* wp = &w;
  bool returned = false;
  bool* rp = &returned;
  run(f.io, [c, wp, rp]() -> asio::awaitable<void> {
    co_await ensure_namespace(c, "default");
    asio::cancellation_signal sig;
    bool synced = false;
    auto on_event = [](watch_event) {};
    auto on_synced = [&synced]() { synced = true; };
    auto done = [rp](std::exception_ptr e) {
      *rp = !e;
    };
    asio::co_spawn(co_await asio::this_coro::executor, wp->run(on_event, on_synced),
                   asio::bind_cancellation_slot(sig.slot(), done));
    auto is_synced = [&synced] { return synced; };
    REQUIRE(co_await eventually(is_synced, 10s));
    co_await sleep(50ms);
    sig.emit(asio::cancellation_type::terminal);
    auto is_returned = [rp] { return *rp; };
    CHECK(co_await eventually(is_returned, 5s));
  });
  CHECK(returned);
}

TEST_CASE("TLS from the kubeconfig's CA, bearer token, 401 and token re-read after a 401") {
  testserver_process server({"--tls-self-signed", "--token", "s3cret"});
  REQUIRE(server.url().rfind("https://", 0) == 0);
  asio::io_context io;
  auto cfg = load_kubeconfig(server.kubeconfig());
  REQUIRE(cfg.token);
  CHECK(cfg.tls.verify);

  SECTION("the kubeconfig works as written") {
    client c(io.get_executor(), cfg);
    client* cp = &c;
    run(io, [cp]() -> asio::awaitable<void> {
      auto r = co_await cp->get(namespaces, "", "default");
      check_ok(r);
    });
  }
  SECTION("no token: 401 Unauthorized as a result") {
    auto anon = cfg;
    anon.token.reset();
    client c(io.get_executor(), anon);
    client* cp = &c;
    run(io, [cp]() -> asio::awaitable<void> {
      auto r = co_await cp->get(namespaces, "", "default");
      CHECK(r.status == 401);
      CHECK(r.error().reason == "Unauthorized");
    });
  }
  SECTION("a rotated token file is re-read after a 401 and the request retried once") {
    auto file = server.dir().write("token", "old-token");
    auto rotated = cfg;
    // Long check interval: only the 401 path can notice the rotation.
    rotated.token = std::make_shared<token_source>(file, std::chrono::hours(1), std::chrono::hours(1));
    client c(io.get_executor(), rotated);
    client* cp = &c;
    run(io, [cp]() -> asio::awaitable<void> {
      auto r = co_await cp->get(namespaces, "", "default");
      CHECK(r.status == 401);  // re-read gave the same wrong token: no endless loop
    });
    server.dir().write("token", "s3cret\n");
    run(io, [cp]() -> asio::awaitable<void> {
      auto r = co_await cp->get(namespaces, "", "default");
      check_ok(r);
    });
  }
  SECTION("a wrong CA fails the handshake as a transport error") {
    auto wrong = cfg;
    wrong.tls.ca_pem.clear();
    wrong.tls.ca_file = "/etc/ssl/certs/ca-certificates.crt";
    client_options o;
    o.max_retries = 1;
    o.retry_initial = 1ms;
    client c(io.get_executor(), wrong, o);
    client* cp = &c;
    bool failed = false;
    bool* fp = &failed;
    run(io, [cp, fp]() -> asio::awaitable<void> {
      try {
        co_await cp->get(namespaces, "", "default");
      } catch (const chainsd::net::http_error& e) {
        *fp = std::string(e.what()).find("certificate") != std::string::npos;
      }
    });
    CHECK(failed);
  }
}

TEST_CASE("watch: a label selector limits list and watch") {
  watcher_options wo;
  wo.namespace_name = "labels";
  wo.label_selector = "app=chains,tier!=skip";
  watch_fixture f(wo);
  run_watch(f, [](watch_fixture* f) -> asio::awaitable<void> {
    client* c = &f->c;
    recorder* rp = &f->rec;
    co_await ensure_namespace(c, "labels");
    auto labelled = [](std::string name, std::string labels) {
      return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
             R"(","namespace":"labels","labels":)" + labels + "}}";
    };
    co_await must_create(c, "labels", labelled("listed", R"({"app":"chains"})"));
    co_await must_create(c, "labels", labelled("other", R"({"app":"other"})"));
    start_watch(f);
    REQUIRE(co_await synced(f));
    co_await must_create(c, "labels", labelled("skipped", R"({"app":"chains","tier":"skip"})"));
    co_await must_create(c, "labels", labelled("watched", R"({"app":"chains"})"));
    auto seen = [rp] { return rp->added.count("labels/watched") == 1; };
    CHECK(co_await eventually(seen, 5s));
    CHECK(co_await stop_watch(f));
  });
  CHECK(f.rec.added.size() == 2);
  CHECK(f.rec.added.count("labels/listed"));
  CHECK(f.rec.added.count("labels/watched"));
}

TEST_CASE("watch: bookmarks advance the resume point past changes the watch does not see") {
  watcher_options wo;
  wo.namespace_name = "quiet";
  watch_fixture f(wo, {"--bookmark-interval", "100ms"});
  run_watch(f, [](watch_fixture* f) -> asio::awaitable<void> {
    client* c = &f->c;
    watcher* wp = &f->w;
    co_await ensure_namespace(c, "quiet");
    co_await ensure_namespace(c, "busy");
    start_watch(f);
    REQUIRE(co_await synced(f));
    std::uint64_t start = std::stoull(wp->resource_version());
    std::string last;
    for (int i = 0; i < 5; ++i) {
      auto r = co_await c->create(cm, "busy", configmap("busy", "b-" + std::to_string(i), "x"));
      require_ok(r);
      last = json_scanner().scan_object(r.body).resource_version;
    }
    std::uint64_t target = std::stoull(last);
    REQUIRE(target > start);
    auto advanced = [wp, target] { return std::stoull(wp->resource_version()) >= target; };
    CHECK(co_await eventually(advanced, 5s));
    CHECK(wp->stats().bookmarks >= 1);
    CHECK(wp->stats().events == 0);
    CHECK(co_await stop_watch(f));
  });
}

TEST_CASE("watch: a refused watch (429) waits for Retry-After before reconnecting") {
  watcher_options wo;
  wo.namespace_name = "refused";
  wo.backoff_initial = 5ms;
  wo.backoff_max = 5s;
  watch_fixture f(wo);
  run_watch(f, [](watch_fixture* f) -> asio::awaitable<void> {
    client* c = &f->c;
    recorder* rp = &f->rec;
    watcher* wp = &f->w;
    co_await ensure_namespace(c, "refused");
    start_watch(f);
    REQUIRE(co_await synced(f));
    REQUIRE(co_await stop_watch(f));

    // The resumed run's first request is the watch: refused with Retry-After: 1.
    co_await set_faults(c, R"({"fail_nth_request":{"n":1,"status":429}})");
    auto t0 = std::chrono::steady_clock::now();
    start_watch(f);
    co_await sleep(50ms);
    co_await must_create(c, "refused", configmap("refused", "after", "x"));
    auto seen = [rp] { return rp->added.count("refused/after") == 1; };
    CHECK(co_await eventually(seen, 5s));
    CHECK(std::chrono::steady_clock::now() - t0 >= 900ms);
    CHECK(wp->stats().failures == 1);
    CHECK(wp->stats().lists == 1);
    CHECK(co_await stop_watch(f));
  });
  CHECK(f.rec.duplicates == 0);
}

TEST_CASE("watch: list pages stream item by item, get smaller when refused or too big; an oversize object is skipped by name") {
  watcher_options wo;
  wo.namespace_name = "big";
  wo.page_size = 16;
  wo.max_page_bytes = 100'000;        // about 5 objects of 20 KB
  wo.max_list_item_bytes = 200'000;
  wo.backoff_initial = 5ms;
  watch_fixture f(wo);
  run_watch(f, [](watch_fixture* f) -> asio::awaitable<void> {
    client* c = &f->c;
    recorder* rp = &f->rec;
    watcher* wp = &f->w;
    co_await ensure_namespace(c, "big");
    const std::string filler(20'000, 'x');
    for (int i = 0; i < 40; ++i) co_await must_create(c, "big", configmap("big", "cm-" + std::to_string(i), filler));
    co_await must_create(c, "big", configmap("big", "huge", std::string(300'000, 'y')));
    // The first page is refused with a 500 (then asked again, half the size).
    co_await set_faults(c, R"({"fail_nth_request":{"n":1,"status":500}})");
    start_watch(f);
    REQUIRE(co_await synced(f, 20s));
    CHECK(rp->added.size() == 40);
    CHECK(rp->added.count("big/huge") == 0);
    CHECK(wp->stats().oversize == 1);
    CHECK(wp->stats().smaller_pages >= 2);  // the 500, then 16/8 → ~4 per page by size
    CHECK(wp->stats().lists == 1);
    // A change to a listed object still arrives by the watch.
    auto r = co_await c->patch(cm, "big", "cm-3", patch_type::merge, R"({"data":{"k":"changed"}})");
    require_ok(r);
    auto changed = [rp] { return rp->modified.count("big/cm-3") == 1; };
    CHECK(co_await eventually(changed, 5s));
    CHECK(co_await stop_watch(f));
  });
  CHECK(f.rec.duplicates == 0);
}

TEST_CASE("watch: an event over max_event_bytes is skipped and named; the next events still come") {
  watcher_options wo;
  wo.namespace_name = "bigwatch";
  wo.max_event_bytes = 200'000;
  watch_fixture f(wo);
  run_watch(f, [](watch_fixture* f) -> asio::awaitable<void> {
    client* c = &f->c;
    recorder* rp = &f->rec;
    watcher* wp = &f->w;
    co_await ensure_namespace(c, "bigwatch");
    start_watch(f);
    REQUIRE(co_await synced(f));
    co_await must_create(c, "bigwatch", configmap("bigwatch", "huge", std::string(300'000, 'y')));
    co_await must_create(c, "bigwatch", configmap("bigwatch", "after", "x"));
    auto seen = [rp] { return rp->added.count("bigwatch/after") == 1; };
    CHECK(co_await eventually(seen, 10s));
    CHECK(rp->added.count("bigwatch/huge") == 0);
    CHECK(wp->stats().oversize == 1);
    CHECK(wp->stats().failures == 0);  // not a broken stream: no reconnect, no replay
    CHECK(co_await stop_watch(f));
  });
  CHECK(f.rec.duplicates == 0);
}
