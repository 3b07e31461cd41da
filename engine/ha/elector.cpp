#include "ha/elector.hpp"

#include "ha/election_config.hpp"

#include "runtime/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>

namespace chainsd::ha {
namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace {

// `op`, cancelled at `deadline`: nullopt when the deadline came first. Exceptions of op pass.
template <class T>
asio::awaitable<std::optional<T>> within(asio::awaitable<T> op, steady::time_point deadline) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
  // Bound to a variable first: g++ 12 mishandles temporaries built inside co_await expressions.
  auto race = std::move(op) || timer.async_wait(asio::use_awaitable);
  auto r = co_await std::move(race);
  if (r.index() == 0) co_return std::optional<T>(std::move(std::get<0>(r)));
  co_return std::nullopt;
}

std::string wall_now() { return kube::format_micro_time(std::chrono::system_clock::now()); }

std::string status_text(const kube::lease_result& r) {
  auto st = r.raw.error();
  return std::to_string(st.code) + " " + st.reason + (st.message.empty() ? "" : ": " + st.message);
}

}  // namespace

elector::elector(kube::client& c, elector_options o, elector_callbacks cb)
    : leases_(c),
      opts_(std::move(o)),
      cb_(std::move(cb)),
      state_(opts_.identity, opts_.timing),
      wake_(c.get_executor()),
      rng_(opts_.seed ? opts_.seed : std::random_device{}()) {}

void elector::stop() {
  if (stopping_) return;
  stopping_ = true;
  wake_.cancel();
}

void elector::relinquish() {
  if (!leading_) return;
  relinquish_ = true;
  wake_.cancel();
}

asio::awaitable<bool> elector::cancelled() {
  auto cs = co_await asio::this_coro::cancellation_state;
  co_return cs.cancelled() != asio::cancellation_type::none;
}

asio::awaitable<bool> elector::sleep_until(time_point t) {
  if (co_await cancelled()) stopping_ = true;
  if (stopping_) co_return false;
  wake_.expires_at(t);
  auto [ec] = co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
  if (co_await cancelled()) stopping_ = true;
  co_return !ec && !stopping_;
}

asio::awaitable<bool> elector::try_acquire_or_renew(time_point deadline) {
  ++stats_.attempts;
  const time_point now = steady::now();
  const std::string wall = wall_now();
  const std::string lease = opts_.namespace_name + "/" + opts_.lease_name;
  try {
    // 1. The leader renews over what it wrote last, without reading first.
    if (state_.fast_path(now) && written_) {
      kube::lease_spec spec = state_.renewal(wall);
      uncertain_ = true;
      auto r = co_await within(leases_.update(*written_, spec), deadline);
      if (r && r->ok()) {
        uncertain_ = false;
        written_ = std::move(r->value);
        state_.written(steady::now(), spec);
        last_write_sent_ = now;
        co_return true;
      }
      if (!r) {
        ++stats_.failures;
        log::warn("lease renewal timed out", {{"lease", lease}});
        co_return false;
      }
      uncertain_ = false;  // any answer (409 included) settles it: nothing was written
      log::debug("optimistic lease renewal failed, reading the lease", {{"lease", lease}, {"status", status_text(*r)}});
    }
    // 2. Read (or create) the record.
    auto got = co_await within(leases_.get(opts_.namespace_name, opts_.lease_name), deadline);
    if (!got) {
      ++stats_.failures;
      log::warn("reading lease timed out", {{"lease", lease}});
      co_return false;
    }
    if (!got->ok() && !got->not_found()) {
      ++stats_.failures;
      log::warn("reading lease failed", {{"lease", lease}, {"status", status_text(*got)}});
      co_return false;
    }
    const time_point observed_at = steady::now();
    const kube::lease* current = got->value ? &*got->value : nullptr;
    auto d = state_.decide(now, observed_at, wall, current);
    if (current) uncertain_ = false;  // whatever we sent before is settled by what we just read
    if (d.what == elector_state::step::held_elsewhere) co_return false;
    const time_point sent = steady::now();
    uncertain_ = true;
    std::optional<kube::lease_result> w;
    if (d.what == elector_state::step::create)
      w = co_await within(leases_.create(opts_.namespace_name, opts_.lease_name, d.spec), deadline);
    else
      w = co_await within(leases_.update(*got->value, d.spec), deadline);
    if (!w) {
      ++stats_.failures;
      log::warn("writing lease timed out", {{"lease", lease}});
      co_return false;
    }
    if (!w->ok()) {
      uncertain_ = false;
      // 409: another candidate wrote first (AlreadyExists or Conflict), the normal loss of a race.
      if (!w->conflict()) {
        ++stats_.failures;
        log::warn("writing lease failed", {{"lease", lease}, {"status", status_text(*w)}});
      }
      co_return false;
    }
    uncertain_ = false;
    written_ = std::move(w->value);
    state_.written(steady::now(), d.spec);
    last_write_sent_ = sent;
    co_return true;
  } catch (const std::exception& e) {
    ++stats_.failures;
    log::warn("lease request failed", {{"lease", lease}, {"error", e.what()}});
    co_return false;
  }
}

asio::awaitable<bool> elector::acquire() {
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  for (;;) {
    if (stopping_) co_return false;
    bool ok = false;
    if (!cb_.may_acquire || cb_.may_acquire()) {
      ok = co_await try_acquire_or_renew(steady::now() + opts_.timing.renew_deadline);
      ++stats_.decided;
      if (cb_.decided) cb_.decided();
      if (ok) co_return true;
    } else {
      ++stats_.decided;
      if (cb_.decided) cb_.decided();
    }
    if (co_await cancelled()) {
      stopping_ = true;
      co_return false;
    }
    auto pause = state_.acquire_pause(jitter(rng_));
    bool slept = co_await sleep_until(steady::now() + std::chrono::duration_cast<steady::duration>(pause));
    if (!slept) co_return false;
  }
}

asio::awaitable<void> elector::renew() {
  const auto retry = std::chrono::duration_cast<steady::duration>(opts_.timing.retry_period);
  for (;;) {
    if (relinquish_ || !(co_await sleep_until(steady::now() + retry))) {  // stop(), relinquish(): the caller releases
      if (relinquish_)
        log::info("lease handed over for balance", {{"lease", opts_.namespace_name + "/" + opts_.lease_name}});
      relinquish_ = false;
      co_return;
    }
    // wait.PollUntilContextTimeout: try at once, then every retry period, until the give-up time.
    const time_point poll_start = steady::now();
    const time_point give_up = state_.give_up_at(poll_start, last_write_sent_);
    time_point next = poll_start;
    bool ok = false;
    for (;;) {
      if (steady::now() >= give_up) break;
      ok = co_await try_acquire_or_renew(give_up);
      if (ok) break;
      if (co_await cancelled()) {
        stopping_ = true;
        co_return;
      }
      if (stopping_) co_return;
      next += retry;
      if (next < steady::now()) next = steady::now();
      if (next >= give_up) {
        co_await sleep_until(give_up);
        if (stopping_) co_return;
        break;
      }
      if (!(co_await sleep_until(next))) co_return;
    }
    if (!ok) {
      log::warn("lease not renewed in time, giving it up",
                {{"lease", opts_.namespace_name + "/" + opts_.lease_name},
                 {"renew_deadline", format_go_duration(opts_.timing.renew_deadline)}});
      co_return;
    }
    if (cb_.renewed) cb_.renewed();
  }
}

asio::awaitable<void> elector::release() {
  if (!state_.is_leader() && !uncertain_) co_return;
  // The release must happen even when run() was cancelled.
  co_await asio::this_coro::reset_cancellation_state();
  const std::string lease = opts_.namespace_name + "/" + opts_.lease_name;
  const auto deadline = steady::now() + std::chrono::duration_cast<steady::duration>(opts_.timing.renew_deadline);
  try {
    auto got = co_await within(leases_.get(opts_.namespace_name, opts_.lease_name), deadline);
    if (!got || !got->ok()) {
      log::warn("lease not released: cannot read it", {{"lease", lease}, {"status", got ? status_text(*got) : "timeout"}});
      co_return;
    }
    auto spec = state_.release(*got->value, wall_now());
    if (!spec) co_return;  // someone else holds it already
    auto w = co_await within(leases_.update(*got->value, *spec), deadline);
    if (!w || !w->ok()) {
      log::warn("lease not released", {{"lease", lease}, {"status", w ? status_text(*w) : "timeout"}});
      co_return;
    }
    uncertain_ = false;
    written_ = std::move(w->value);
    state_.written(steady::now(), *spec);
    ++stats_.released;
    if (cb_.released) cb_.released();
    log::info("lease released", {{"lease", lease}, {"identity", opts_.identity}});
  } catch (const std::exception& e) {
    log::warn("lease not released", {{"lease", lease}, {"error", e.what()}});
  }
}

asio::awaitable<void> elector::run() {
  // Cancellation is checked where it matters (between attempts, in sleeps) instead of thrown from
  // the next co_await, so a cancelled run still releases its Lease.
  co_await asio::this_coro::throw_if_cancelled(false);
  log::debug("lease election started", {{"lease", opts_.namespace_name + "/" + opts_.lease_name},
                                        {"identity", opts_.identity}});
  while (!stopping_) {
    bool won = co_await acquire();
    if (won && !stopping_) {
      leading_ = true;
      relinquish_ = false;
      ++stats_.acquired;
      log::info("lease acquired", {{"lease", opts_.namespace_name + "/" + opts_.lease_name},
                                   {"identity", opts_.identity}});
      if (cb_.acquired) cb_.acquired();
      co_await renew();
      leading_ = false;
      ++stats_.lost;
      if (cb_.lost) cb_.lost();
    }
    // ReleaseOnCancel: client-go releases after every term, also one ended by a failed renewal
    // (if the API answers again and the Lease still names us, the others need not wait it out).
    co_await release();
  }
}

}  // namespace chainsd::ha
