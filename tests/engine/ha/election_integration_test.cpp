// engine/ha against tests/support/kube-testserver (real Leases, 409 on a stale resourceVersion):
// replicas in one process, each with its own kube::client, on one io_context, with short
// durations (lease 2 s, renew 1.5 s, retry 0.2 s). Every acquired/lost callback is checked at the
// instant it happens: no bucket is ever owned by two replicas.
#include <catch2/catch.hpp>

#include "blackhole_proxy.hpp"
#include "ha/coordinator.hpp"
#include "kube/lease.hpp"
#include "runtime/metrics.hpp"
#include "../../support/testserver_process.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>

namespace asio = boost::asio;
using namespace chainsd;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using ha::reconciler_kind;

namespace {

const std::string lease_ns = "tekton-chains";

ha::election_config short_config(std::uint32_t buckets) {
  ha::election_config c;
  c.buckets = buckets;
  c.lease_duration = 2s;
  c.renew_deadline = 1500ms;
  c.retry_period = 200ms;
  return c;
}

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

asio::awaitable<void> sleep(steady::duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

asio::awaitable<bool> eventually(std::function<bool()> cond, steady::duration limit) {
  auto end = steady::now() + limit;
  for (;;) {
    if (cond()) co_return true;
    if (steady::now() > end) co_return false;
    co_await sleep(10ms);
  }
}

double ms(steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct event {
  std::string replica;
  reconciler_kind kind;
  std::size_t bucket;
  bool acquired;
  steady::time_point at;
  std::chrono::system_clock::time_point wall;
  steady::duration since_write{};  // lost: time since the last successful write was sent
};

// Who holds what, as the callbacks report it; fails the test the moment two replicas own a bucket.
struct ledger {
  std::map<std::pair<int, std::size_t>, std::string> owner;
  std::vector<event> events;
  int double_ownership = 0;

  void acquired(const std::string& who, reconciler_kind k, std::size_t b) {
    auto key = std::make_pair(static_cast<int>(k), b);
    if (owner.count(key)) {
      ++double_ownership;
      UNSCOPED_INFO(who << " acquired " << ha::to_string(k) << "/" << b << " still owned by " << owner[key]);
    }
    owner[key] = who;
    events.push_back({who, k, b, true, steady::now(), std::chrono::system_clock::now()});
  }
  void lost(const std::string& who, reconciler_kind k, std::size_t b, steady::duration since_write) {
    auto key = std::make_pair(static_cast<int>(k), b);
    if (owner.count(key) && owner[key] == who) owner.erase(key);
    events.push_back({who, k, b, false, steady::now(), std::chrono::system_clock::now(), since_write});
  }
};

struct replica {
  replica(asio::any_io_executor ex, kube::client_config cfg, std::string name, const ha::election_config& c, ledger& l,
          std::uint64_t seed)
      : id(std::move(name)), client(ex, std::move(cfg), fast_client()), own(c) {
    ha::coordinator_options o;
    o.namespace_name = lease_ns;
    o.identity = id;
    o.config = c;
    o.seed = seed;
    o.metrics = &reg;
    auto on_acq = [this, &l](reconciler_kind k, std::size_t b) { l.acquired(id, k, b); };
    auto on_lost = [this, &l](reconciler_kind k, std::size_t b) {
      l.lost(id, k, b, steady::now() - coord->elector_for(k, b).last_write_sent());
    };
    coord.emplace(client, own, std::move(o), on_acq, on_lost);
  }

  static kube::client_options fast_client() {
    kube::client_options o;
    o.request_timeout = 1s;
    o.retry_initial = 20ms;
    o.retry_max = 100ms;
    return o;
  }

  void start(asio::io_context& io) {
    auto body = [this]() { return coord->run(); };
    auto done = [this](std::exception_ptr e) {
      finished = true;
      error = e;
    };
    asio::co_spawn(io, body, asio::bind_cancellation_slot(cancel.slot(), done));
  }

  std::size_t held() const { return coord->held(); }

  std::string id;
  metrics::registry reg;
  kube::client client;
  ha::ownership own;
  std::optional<ha::coordinator> coord;
  asio::cancellation_signal cancel;
  bool finished = false;
  std::exception_ptr error;
};

std::size_t total_buckets(const ha::election_config& c) { return 2 * c.buckets; }

bool all_owned_once(const std::vector<std::unique_ptr<replica>>& rs, const ha::election_config& c) {
  for (reconciler_kind k : ha::all_reconcilers)
    for (std::size_t b = 0; b < c.buckets; ++b) {
      int n = 0;
      for (const auto& r : rs)
        if (!r->finished && r->own.holds(k, b)) ++n;
      if (n != 1) return false;
    }
  return true;
}

asio::awaitable<kube::lease> read_lease(kube::client& c, std::string name) {
  kube::lease_client lc(c);
  auto r = co_await lc.get(lease_ns, name);
  INFO(r.raw.status << " " << r.raw.body);
  REQUIRE(r.ok());
  co_return *r.value;
}

kube::client_config config_of(const kube::test::testserver_process& srv) {
  return kube::load_default(srv.kubeconfig().string(), "");
}

}  // namespace

TEST_CASE("lease_client: create, get, update with resourceVersion preconditions") {
  kube::test::testserver_process srv;
  asio::io_context io;
  kube::client c(io.get_executor(), config_of(srv));
  run(io, [&]() -> asio::awaitable<void> {
    kube::lease_client lc(c);
    auto missing = co_await lc.get(lease_ns, "l1");
    CHECK(missing.not_found());
    kube::lease_spec s;
    s.holder_identity = "a";
    s.lease_duration_seconds = 2;
    s.acquire_time = kube::format_micro_time(std::chrono::system_clock::now());
    s.renew_time = s.acquire_time;
    s.lease_transitions = 0;
    auto created = co_await lc.create(lease_ns, "l1", s);
    INFO(created.raw.body);
    REQUIRE(created.ok());
    CHECK(created.value->spec == s);  // MicroTimes kept as written
    auto again = co_await lc.create(lease_ns, "l1", s);
    CHECK(again.conflict());  // AlreadyExists

    kube::lease v1 = *created.value;
    kube::lease_spec s2 = s;
    s2.holder_identity = "b";
    s2.lease_transitions = 1;
    auto updated = co_await lc.update(v1, s2);
    REQUIRE(updated.ok());
    CHECK(updated.value->resource_version != v1.resource_version);
    CHECK(*updated.value->spec.holder_identity == "b");
    // The old resourceVersion is stale now: 409 Conflict, nothing written.
    auto stale = co_await lc.update(v1, s);
    CHECK(stale.conflict());
    CHECK(stale.raw.error().reason == "Conflict");
    auto now = co_await lc.get(lease_ns, "l1");
    REQUIRE(now.ok());
    CHECK(*now.value->spec.holder_identity == "b");
  });
}

TEST_CASE("three replicas share 12 leases; a replica that stops hands its buckets over within a retry period") {
  kube::test::testserver_process srv;
  asio::io_context io;
  const auto cfg = short_config(6);
  ledger l;
  std::vector<std::unique_ptr<replica>> rs;
  for (int i = 0; i < 3; ++i)
    rs.push_back(std::make_unique<replica>(io.get_executor(), config_of(srv), "replica-" + std::to_string(i), cfg, l, 11 + i));
  run(io, [&]() -> asio::awaitable<void> {
    for (auto& r : rs) r->start(io);
    // The controller starts its watches when the first round is answered (an event, not a poll).
    const auto started = steady::now();
    for (auto& r : rs) {
      const bool first = co_await r->coord->wait_first_round(started + 3s);
      CHECK(first);
      CHECK(r->coord->first_round_done());
    }
    std::printf("first election round answered on every replica after %.0f ms\n", ms(steady::now() - started));
    // Each replica ends with its fair share (presence Leases counted: 3 replicas, 6 + 6 buckets).
    auto balanced = [&] {
      if (!all_owned_once(rs, cfg)) return false;
      for (auto& r : rs)
        if (r->held() != total_buckets(cfg) / 3) return false;
      return true;
    };
    bool settled = co_await eventually(balanced, 8s);
    std::string shares;
    for (auto& r : rs) shares += " " + r->id + "=" + std::to_string(r->held());
    std::printf("shares of %zu leases:%s\n", total_buckets(cfg), shares.c_str());
    if (!settled) {
      for (auto& r : rs) r->coord->stop();
      co_await eventually([&] { return rs[0]->finished && rs[1]->finished && rs[2]->finished; }, 3s);
    }
    REQUIRE(settled);
    std::size_t acquired_before = 0;
    for (const auto& e : l.events) acquired_before += e.acquired;
    co_await sleep(1s);  // several renewals: nothing moves while everyone renews
    CHECK(balanced());
    std::size_t acquired_after = 0;
    for (const auto& e : l.events) acquired_after += e.acquired;
    CHECK(acquired_after == acquired_before);  // nobody lost anything while renewing

    // The Leases say the same as the callbacks.
    for (reconciler_kind k : ha::all_reconcilers)
      for (std::size_t b = 0; b < cfg.buckets; ++b) {
        auto lease = co_await read_lease(rs[0]->client, rs[0]->own.buckets(k).name(b));
        CHECK(*lease.spec.holder_identity == l.owner[{static_cast<int>(k), b}]);
        CHECK(*lease.spec.lease_duration_seconds == 2);
      }

    // Stop the replica holding the most; its Leases are released and taken by the others.
    replica* big = rs[0].get();
    for (auto& r : rs)
      if (r->held() > big->held()) big = r.get();
    const std::size_t moved = big->held();
    REQUIRE(moved > 0);
    const auto stopped_at = steady::now();
    big->coord->stop();
    bool done = co_await eventually([&] { return big->finished; }, 3s);
    REQUIRE(done);
    CHECK(big->held() == 0);
    bool taken = co_await eventually([&] { return all_owned_once(rs, cfg); }, 3s);
    REQUIRE(taken);
    steady::duration worst{};
    for (const auto& e : l.events)
      if (e.acquired && e.at > stopped_at) worst = std::max(worst, e.at - stopped_at);
    std::printf("failover of %zu leases after a release: last taken %.0f ms after stop() (lease 2 s, retry 0.2 s)\n",
                moved, ms(worst));
    // Without the release the others would wait out the 2 s lease.
    CHECK(worst < 1500ms);
    CHECK(big->reg.render().find("chainsd_ha_lease_transitions_total{reconciler=\"taskrun\",transition=\"released\"}") !=
          std::string::npos);

    // The rest stop too: every Lease ends released (empty holder, 1 s).
    for (auto& r : rs) r->coord->stop();
    bool all_done = co_await eventually([&] { return rs[0]->finished && rs[1]->finished && rs[2]->finished; }, 3s);
    REQUIRE(all_done);
    for (reconciler_kind k : ha::all_reconcilers)
      for (std::size_t b = 0; b < cfg.buckets; ++b) {
        auto lease = co_await read_lease(rs[0]->client, rs[0]->own.buckets(k).name(b));
        CHECK(*lease.spec.holder_identity == "");
        CHECK(*lease.spec.lease_duration_seconds == 1);
        CHECK(*lease.spec.lease_transitions >= 1);
      }
  });
  CHECK(l.double_ownership == 0);
  for (auto& r : rs) CHECK_FALSE(r->error);
}

TEST_CASE("a partitioned replica gives its buckets up before its leases can expire; nobody owns one twice") {
  kube::test::testserver_process srv;
  asio::io_context io;
  const auto cfg = short_config(6);
  ledger l;
  auto direct = config_of(srv);
  auto port = static_cast<std::uint16_t>(std::stoi(srv.url().substr(srv.url().rfind(':') + 1)));
  ha::test::blackhole_proxy proxy(io.get_executor(), port);
  auto via_proxy = direct;
  via_proxy.server = proxy.url();
  std::vector<std::unique_ptr<replica>> rs;
  rs.push_back(std::make_unique<replica>(io.get_executor(), via_proxy, "partitioned", cfg, l, 21));
  rs.push_back(std::make_unique<replica>(io.get_executor(), direct, "replica-b", cfg, l, 22));
  rs.push_back(std::make_unique<replica>(io.get_executor(), direct, "replica-c", cfg, l, 23));
  replica& p = *rs[0];
  run(io, [&]() -> asio::awaitable<void> {
    // Three replicas share the Leases (fair shares, presence Leases counted).
    for (auto& r : rs) r->start(io);
    auto balanced = [&] {
      if (!all_owned_once(rs, cfg)) return false;
      for (auto& r : rs)
        if (r->held() != total_buckets(cfg) / 3) return false;
      return true;
    };
    bool shared = co_await eventually(balanced, 8s);
    if (!shared) {
      for (auto& r : rs) r->coord->stop();
      co_await eventually([&] { return rs[0]->finished && rs[1]->finished && rs[2]->finished; }, 3s);
    }
    REQUIRE(shared);
    const std::size_t p_held = p.held();

    const auto cut_at = steady::now();
    const auto cut_wall = std::chrono::system_clock::now();
    proxy.black_hole(true);
    bool gone = co_await eventually([&] { return p.held() == 0; }, 3s);
    REQUIRE(gone);
    bool taken = co_await eventually([&] { return all_owned_once(rs, cfg); }, 4s);
    REQUIRE(taken);

    steady::duration last_loss{}, first_take = 1h, worst_since_write{};
    std::map<std::pair<int, std::size_t>, event> lost_by_p;
    for (const auto& e : l.events) {
      if (e.at < cut_at) continue;
      if (!e.acquired && e.replica == p.id) {
        last_loss = std::max(last_loss, e.at - cut_at);
        worst_since_write = std::max(worst_since_write, e.since_write);
        lost_by_p.emplace(std::make_pair(static_cast<int>(e.kind), e.bucket), e);
      }
      if (e.acquired) first_take = std::min(first_take, e.at - cut_at);
    }
    std::printf("partition: last bucket given up %.0f ms after the cut (at most %.0f ms after its last write), first "
                "taken over %.0f ms after the cut (lease 2 s, renew 1.5 s, retry 0.2 s)\n",
                ms(last_loss), ms(worst_since_write), ms(first_take));
    REQUIRE(lost_by_p.size() == p_held);
    // Given up before the lease could expire for anyone: within lease-duration of the last write.
    CHECK(worst_since_write < 2s);
    // And with the Leases' own times: every new holder's acquireTime (its wall clock) is after the
    // partitioned replica stopped working on that bucket, and the record moved on by one transition.
    for (reconciler_kind k : ha::all_reconcilers)
      for (std::size_t b = 0; b < cfg.buckets; ++b) {
        if (!lost_by_p.count({static_cast<int>(k), b})) continue;
        auto lease = co_await read_lease(rs[1]->client, rs[1]->own.buckets(k).name(b));
        CHECK(*lease.spec.holder_identity != p.id);
        auto acquired_wall = kube::parse_micro_time(*lease.spec.acquire_time);
        REQUIRE(acquired_wall);
        const event& loss = lost_by_p.at({static_cast<int>(k), b});
        CHECK(loss.wall < *acquired_wall);
        CHECK(*acquired_wall - cut_wall >= 1500ms);  // nobody took it before the lease ran out
        CHECK(*lease.spec.lease_transitions >= 1);
      }

    // The partition heals: the replica comes back and gets its share again, handed over by the
    // others (never owned twice: checked by the ledger).
    proxy.black_hole(false);
    bool rebalanced = co_await eventually(balanced, 8s);
    CHECK(rebalanced);

    for (auto& r : rs) r->coord->stop();
    bool all_done = co_await eventually([&] { return rs[0]->finished && rs[1]->finished && rs[2]->finished; }, 4s);
    REQUIRE(all_done);
    proxy.stop();
  });
  CHECK(l.double_ownership == 0);
  for (auto& r : rs) CHECK_FALSE(r->error);
}

TEST_CASE("shutdown: leases stay renewed while work drains, then are released; a cancelled run releases too") {
  kube::test::testserver_process srv;
  asio::io_context io;
  const auto cfg = short_config(1);
  ledger l;
  replica a(io.get_executor(), config_of(srv), "a", cfg, l, 31);
  replica b(io.get_executor(), config_of(srv), "b", cfg, l, 32);
  run(io, [&]() -> asio::awaitable<void> {
    a.start(io);
    bool held = co_await eventually([&] { return a.held() == 2; }, 3s);
    REQUIRE(held);
    b.start(io);
    bool drained = false;
    a.coord->stop([&] { return drained; });
    // Longer than the 2 s lease: a keeps renewing while "runs are in flight", b cannot take over.
    co_await sleep(2500ms);
    CHECK(a.held() == 2);
    CHECK(b.held() == 0);
    CHECK_FALSE(a.finished);
    auto lease = co_await read_lease(a.client, a.own.buckets(reconciler_kind::task_run).name(0));
    CHECK(*lease.spec.holder_identity == "a");
    const auto drained_at = steady::now();
    drained = true;
    bool moved = co_await eventually([&] { return b.held() == 2; }, 2s);
    REQUIRE(moved);
    CHECK(a.finished);
    std::printf("drained shutdown: both leases taken %.0f ms after the drain ended\n", ms(steady::now() - drained_at));

    // b is cancelled through its run()'s slot (the way SIGTERM reaches the intake): it releases.
    b.cancel.emit(asio::cancellation_type::terminal);
    bool b_done = co_await eventually([&] { return b.finished; }, 3s);
    REQUIRE(b_done);
    for (reconciler_kind k : ha::all_reconcilers) {
      auto released = co_await read_lease(a.client, a.own.buckets(k).name(0));
      CHECK(*released.spec.holder_identity == "");
    }
  });
  CHECK(l.double_ownership == 0);
  CHECK_FALSE(a.error);
  CHECK_FALSE(b.error);
}
