#include "ha/coordinator.hpp"

#include "runtime/async_event.hpp"
#include "runtime/log.hpp"
#include "runtime/metrics.hpp"
#include "kube/json_scan.hpp"
#include "runtime/task_group.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <stdexcept>

namespace chainsd::ha {
namespace asio = boost::asio;
namespace {
constexpr std::string_view presence_prefix = "chainsd-replica-";
}
using steady = std::chrono::steady_clock;

struct coordinator::slot {
  reconciler_kind kind;
  std::size_t bucket;
  std::unique_ptr<elector> e;
  metrics::gauge* since_renew = nullptr;
  metrics::counter* acquired = nullptr;
  metrics::counter* lost = nullptr;
  metrics::counter* released = nullptr;
};

struct coordinator::timers {
  explicit timers(asio::any_io_executor e) : ex(e), stop(e), tick(e) {
    stop.expires_at(steady::time_point::max());
  }
  asio::any_io_executor ex;
  asio::steady_timer stop;  // wakes stopper() when stop() is called
  asio::steady_timer tick;
  runtime::async_event first_round;  // set once every bucket's first acquire attempt was answered
};

// The presence Lease of a replica: a DNS-1123 name from its identity (which has a '_').
std::string presence_lease_name(std::string_view identity) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : identity) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return std::string(presence_prefix) + hex;
}

coordinator::coordinator(kube::client& c, ownership& own, coordinator_options o, bucket_handler acquired,
                         bucket_handler lost)
    : own_(own),
      opts_(std::move(o)),
      on_acquired_(std::move(acquired)),
      on_lost_(std::move(lost)),
      client_(c),
      timers_(std::make_unique<timers>(c.get_executor())) {
  if (own_.disabled()) throw std::invalid_argument("ha::coordinator: ownership is everything() (--disable-ha)");
  metrics::registry& reg = opts_.metrics ? *opts_.metrics : metrics::global();
  elector_timing t{opts_.config.lease_duration, opts_.config.renew_deadline, opts_.config.retry_period};
  std::uint64_t seed = opts_.seed;
  for (reconciler_kind k : all_reconcilers) {
    const std::string rk(to_string(k));
    const bucket_set& b = own_.buckets(k);
    reg.get_gauge("chainsd_ha_buckets", "buckets (leases) of each reconciler", {{"reconciler", rk}})
        .set(static_cast<double>(b.size()));
    for (std::size_t i = 0; i < b.size(); ++i) {
      auto s = std::make_unique<slot>();
      s->kind = k;
      s->bucket = i;
      const metrics::labels bl{{"reconciler", rk}, {"bucket", std::to_string(i)}};
      s->since_renew = &reg.get_gauge("chainsd_ha_seconds_since_renew",
                                      "seconds since the last successful write of a held lease (0: not held)", bl);
      const char* help = "lease holder changes made or suffered by this replica";
      s->acquired = &reg.get_counter("chainsd_ha_lease_transitions_total", help,
                                     {{"reconciler", rk}, {"transition", "acquired"}});
      s->lost = &reg.get_counter("chainsd_ha_lease_transitions_total", help, {{"reconciler", rk}, {"transition", "lost"}});
      s->released = &reg.get_counter("chainsd_ha_lease_transitions_total", help,
                                     {{"reconciler", rk}, {"transition", "released"}});
      elector_options eo{opts_.namespace_name, b.name(i), opts_.identity, t, seed ? seed + slots_.size() : 0};
      slot* raw = s.get();
      elector_callbacks cb;
      cb.acquired = [this, raw] { on_acquired(*raw); };
      cb.lost = [this, raw] { on_lost(*raw); };
      cb.renewed = [this, raw] { raw->since_renew->set(0); };
      cb.released = [raw] { raw->released->inc(); };
      cb.decided = [this] {
        if (!timers_->first_round.is_set() && first_round_done()) timers_->first_round.set();
      };
      cb.may_acquire = [this, k] { return may_acquire(k); };
      s->e = std::make_unique<elector>(c, std::move(eo), std::move(cb));
      slots_.push_back(std::move(s));
    }
  }
  elector_options po{opts_.namespace_name, presence_lease_name(opts_.identity), opts_.identity, t,
                     seed ? seed + slots_.size() : 0};
  presence_ = std::make_unique<elector>(c, std::move(po), elector_callbacks{});
  refresh_metrics();
}

coordinator::~coordinator() = default;

bool coordinator::may_acquire(reconciler_kind k) const {
  return !stopping_ && own_.held_count(k) < fair_[static_cast<std::size_t>(k)];
}

asio::awaitable<void> coordinator::balancer() {
  asio::steady_timer t(co_await asio::this_coro::executor);
  const auto period = std::chrono::duration_cast<steady::duration>(opts_.config.retry_period);
  const auto ttl = std::chrono::duration_cast<std::chrono::system_clock::duration>(opts_.config.lease_duration);
  kube::json_scanner scanner;
  while (!finished_ && !stopping_) {
    t.expires_after(period);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    if (finished_ || stopping_) break;
    std::size_t live = 0;
    bool self = false;
    try {
      auto r = co_await client_.list(kube::leases_v1(), opts_.namespace_name);
      if (!r.ok()) continue;  // keep the last count: the electors decide safety, this only balances
      const auto now = std::chrono::system_clock::now();
      scanner.scan_list(r.body, [&](const kube::object_meta& m, std::string_view raw) {
        if (m.name.rfind(presence_prefix, 0) != 0) return;
        auto l = kube::parse_lease(std::string(raw));
        if (!l.spec.holder_identity || l.spec.holder_identity->empty() || !l.spec.renew_time) return;
        auto renewed = kube::parse_micro_time(*l.spec.renew_time);
        if (!renewed || *renewed + ttl < now) return;  // gone without releasing
        ++live;
        self = self || *l.spec.holder_identity == opts_.identity;
      });
    } catch (const std::exception& e) {
      log::debug("counting replicas failed", {{"error", e.what()}});
      continue;
    }
    if (!self) ++live;
    if (live != replicas_) log::info("ha replicas", {{"identity", opts_.identity}, {"replicas", std::to_string(live)}});
    replicas_ = live;
    for (reconciler_kind k : all_reconcilers) {
      const std::size_t total = own_.buckets(k).size();
      const std::size_t fair = (total + live - 1) / live;
      fair_[static_cast<std::size_t>(k)] = fair;
      std::size_t held = own_.held_count(k);
      // Hand over the excess, highest buckets first.
      for (auto it = slots_.rbegin(); it != slots_.rend() && held > fair; ++it) {
        if ((*it)->kind != k || !own_.holds(k, (*it)->bucket) || !(*it)->e->leading()) continue;
        (*it)->e->relinquish();
        --held;
      }
    }
  }
}

const elector& coordinator::elector_for(reconciler_kind k, std::size_t bucket) const {
  for (const auto& s : slots_)
    if (s->kind == k && s->bucket == bucket) return *s->e;
  throw std::out_of_range("ha::coordinator: no such bucket");
}

std::size_t coordinator::held() const noexcept {
  return own_.held_count(reconciler_kind::task_run) + own_.held_count(reconciler_kind::pipeline_run);
}

void coordinator::on_acquired(slot& s) {
  if (stopping_) {
    // Won during shutdown: give it straight back (the elector releases it).
    s.e->stop();
    return;
  }
  s.acquired->inc();
  own_.set_held(s.kind, s.bucket, true);
  refresh_metrics();
  schedule_log();
  if (on_acquired_) on_acquired_(s.kind, s.bucket);
}

void coordinator::on_lost(slot& s) {
  if (!own_.holds(s.kind, s.bucket)) return;
  s.lost->inc();
  own_.set_held(s.kind, s.bucket, false);
  refresh_metrics();
  schedule_log();
  if (on_lost_) on_lost_(s.kind, s.bucket);
}

void coordinator::schedule_log() {
  // One line for the changes of one turn of the loop (a start or a stop moves many buckets at once).
  if (log_pending_) return;
  log_pending_ = true;
  std::weak_ptr<int> alive = alive_;
  asio::post(timers_->ex, [this, alive] {
    if (alive.expired()) return;
    log_pending_ = false;
    log_held();
  });
}

void coordinator::log_held() const {
  log::info("ha buckets held", {{"identity", opts_.identity},
                                {"taskrun", own_.held_list(reconciler_kind::task_run)},
                                {"pipelinerun", own_.held_list(reconciler_kind::pipeline_run)},
                                {"held", std::to_string(held())},
                                {"leases", std::to_string(slots_.size())}});
}

void coordinator::refresh_metrics() {
  metrics::registry& reg = opts_.metrics ? *opts_.metrics : metrics::global();
  for (reconciler_kind k : all_reconcilers)
    reg.get_gauge("chainsd_ha_buckets_held", "buckets (leases) this replica holds", {{"reconciler", std::string(to_string(k))}})
        .set(static_cast<double>(own_.held_count(k)));
  const auto now = steady::now();
  for (const auto& s : slots_) {
    if (own_.holds(s->kind, s->bucket))
      s->since_renew->set(std::chrono::duration<double>(now - s->e->last_write_sent()).count());
    else
      s->since_renew->set(0);
  }
}

void coordinator::stop(std::function<bool()> quiesced) {
  if (stopping_) return;
  stopping_ = true;
  quiesced_ = std::move(quiesced);
  // No more acquisitions; leaders go on renewing until stopper() lets them go.
  for (auto& s : slots_)
    if (!s->e->leading()) s->e->stop();
  timers_->stop.cancel();
  timers_->tick.cancel();
}

asio::awaitable<void> coordinator::stopper() {
  while (!stopping_ && !finished_) {
    co_await timers_->stop.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  asio::steady_timer poll(co_await asio::this_coro::executor);
  while (quiesced_ && !quiesced_() && !finished_) {
    poll.expires_after(std::chrono::milliseconds(20));
    co_await poll.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  for (auto& s : slots_) s->e->stop();
  presence_->stop();
}

asio::awaitable<void> coordinator::ticker() {
  while (!finished_) {
    refresh_metrics();
    timers_->tick.expires_after(std::chrono::seconds(1));
    co_await timers_->tick.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

bool coordinator::first_round_done() const {
  for (const auto& s : slots_)
    if (s->e->stats().decided == 0) return false;
  return true;
}

asio::awaitable<bool> coordinator::wait_first_round(steady::time_point deadline) {
  if (first_round_done()) co_return true;
  co_return co_await timers_->first_round.wait_until(deadline);
}

asio::awaitable<void> coordinator::run() {
  auto ex = co_await asio::this_coro::executor;
  log::info("leader election", {{"identity", opts_.identity},
                                {"namespace", opts_.namespace_name},
                                {"buckets", std::to_string(opts_.config.buckets)},
                                {"lease_duration", format_go_duration(opts_.config.lease_duration)},
                                {"renew_deadline", format_go_duration(opts_.config.renew_deadline)},
                                {"retry_period", format_go_duration(opts_.config.retry_period)},
                                {"first_lease", own_.buckets(reconciler_kind::task_run).name(0)}});
  runtime::task_group electors(ex);
  for (auto& s : slots_) electors.spawn(s->e->run());
  electors.spawn(presence_->run());
  runtime::task_group helpers(ex);
  helpers.spawn(stopper());
  helpers.spawn(ticker());
  helpers.spawn(balancer());
  for (;;) {
    try {
      co_await electors.wait();
      break;
    } catch (const boost::system::system_error& e) {
      if (e.code() != asio::error::operation_aborted) throw;
      // Our own slot fired (SIGTERM through the caller): release everything now.
      stop();
    }
    co_await asio::this_coro::reset_cancellation_state();
  }
  finished_ = true;
  timers_->stop.cancel();
  timers_->tick.cancel();
  co_await helpers.wait();
  refresh_metrics();
}

}  // namespace chainsd::ha
