#pragma once
// One Lease, contended for as knative runs client-go's LeaderElector for a bucket
// (ReleaseOnCancel, restarted after each term until stopped):
//   acquire: tryAcquireOrRenew now, then every retry-period + jitter (up to 1.2 x) until it wins;
//   lead:    `acquired`, then renew every retry-period; a renewal that has not succeeded by
//            elector_state::give_up_at (renew-deadline after the poll began, at most
//            lease-duration - retry-period after the last write was sent) ends the term: `lost`,
//            then a release attempt, then back to acquiring;
//   stop():  a candidate returns at once; a leader calls `lost`, releases the Lease (empty
//            holder, leaseDurationSeconds 1: another replica takes it at its next retry instead
//            of after lease-duration) and returns.
// Deadlines: every attempt is bounded (renewals by the give-up time, acquisitions and the release
// by renew-deadline); a request still running at its deadline is cancelled. A write whose outcome
// is unknown (cancelled, transport error) is settled by reading the Lease back: the next attempt or
// the release sees who holds it.
//
// Callbacks run synchronously on the executor thread: `lost` is called before the give-up time
// passes, so work stopped inside it stops before anyone else can hold the Lease. `renewed` after
// each successful renewal and `released` after a release write (metrics). They must not throw.
//
// Ownership: the kube::client outlives the elector; run() must have returned before the elector is
// destroyed. One run() at a time. Cancellation: a cancelled run() (its slot) behaves as stop(): it
// still releases the Lease (the release ignores the cancellation) and returns normally.

#include "ha/elector_state.hpp"
#include "kube/client.hpp"
#include "kube/lease.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>

namespace chainsd::ha {

struct elector_options {
  std::string namespace_name;   // the Lease's namespace (the controller's)
  std::string lease_name;
  std::string identity;         // identity.hpp
  elector_timing timing;
  std::uint64_t seed = 0;       // jitter; 0 = random
};

struct elector_callbacks {
  std::function<void()> acquired;
  std::function<void()> lost;
  std::function<void()> renewed;
  std::function<void()> released;   // a release write succeeded
  std::function<void()> decided;    // an acquire attempt was answered (stats().decided grew)
  // Asked before each attempt to take a Lease this replica does not hold (not before renewals):
  // false skips the attempt (the coordinator's fair share, coordinator.hpp). Null: always.
  std::function<bool()> may_acquire;
};

struct elector_stats {
  std::size_t attempts = 0;     // tryAcquireOrRenew calls
  std::size_t decided = 0;      // acquire attempts answered (won, held elsewhere, failed, or not ours to take)
  std::size_t failures = 0;     // of which failed by error or deadline (not "held elsewhere")
  std::size_t acquired = 0;
  std::size_t lost = 0;
  std::size_t released = 0;     // successful release writes
};

class elector {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  elector(kube::client& c, elector_options o, elector_callbacks cb);
  elector(const elector&) = delete;
  elector& operator=(const elector&) = delete;

  boost::asio::awaitable<void> run();
  void stop();
  // Ends the current term as if renewal had failed, at once: `lost`, release, then back to
  // acquiring (subject to may_acquire). No effect when not leading.
  void relinquish();

  bool leading() const noexcept { return leading_; }
  bool stopping() const noexcept { return stopping_; }
  // When the last successful write of our record was sent (meaningful while leading).
  time_point last_write_sent() const noexcept { return last_write_sent_; }
  std::string observed_holder() const { return state_.observed_holder(); }
  const elector_options& options() const noexcept { return opts_; }
  const elector_stats& stats() const noexcept { return stats_; }

 private:
  boost::asio::awaitable<bool> try_acquire_or_renew(time_point deadline);
  boost::asio::awaitable<bool> acquire();
  boost::asio::awaitable<void> renew();
  boost::asio::awaitable<void> release();
  // Sleeps until `t`, stop() or cancellation; false when interrupted.
  boost::asio::awaitable<bool> sleep_until(time_point t);
  boost::asio::awaitable<bool> cancelled();

  kube::lease_client leases_;
  elector_options opts_;
  elector_callbacks cb_;
  elector_state state_;
  std::optional<kube::lease> written_;   // the object our last write returned (fast path)
  boost::asio::steady_timer wake_;
  std::mt19937_64 rng_;
  time_point last_write_sent_{};
  bool leading_ = false;
  bool stopping_ = false;
  bool relinquish_ = false;
  bool uncertain_ = false;   // a write was sent whose outcome we do not know
  elector_stats stats_;
};

}  // namespace chainsd::ha
