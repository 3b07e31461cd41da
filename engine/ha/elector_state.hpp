#pragma once
// client-go's LeaderElector bookkeeping (k8s.io/client-go/tools/leaderelection), without I/O or
// clocks: the caller passes every time point, so tests drive it with any clock.
//
// As client-go:
//   - A candidate never trusts the times written in the Lease (other nodes' clocks). It keeps the
//     record it last observed and WHEN it observed it (its own steady clock); the lease is valid
//     while observed_time + the record's leaseDurationSeconds is in the future.
//   - tryAcquireOrRenew: (1) a leader whose lease is still valid renews optimistically, PUTting
//     over the object it wrote last; (2) otherwise GET: 404 → create; (3) a changed record is
//     observed now; held by someone else and still valid → wait; (4) else write our record: a
//     renewal keeps acquireTime and leaseTransitions, a takeover adds one transition.
//   - Release (ReleaseOnCancel): holderIdentity "", leaseDurationSeconds 1, acquireTime =
//     renewTime = now, transitions kept, so candidates take over at their next retry.
// Deliberate differences (both only ever make us more careful):
//   - A record counts as changed when any spec field differs at the Lease's microsecond
//     precision; client-go compares its JSON with times cut to seconds, so several renewals in
//     one second (sub-second retry periods) look like none and the lease seems older than it is.
//   - release() writes only when the Lease just read names us (client-go checks its cached
//     record, which can be stale) and give_up_at() also caps leadership by the last write: see
//     there.

#include "kube/lease.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace chainsd::ha {

struct elector_timing {
  std::chrono::nanoseconds lease_duration{std::chrono::seconds(60)};
  std::chrono::nanoseconds renew_deadline{std::chrono::seconds(40)};
  std::chrono::nanoseconds retry_period{std::chrono::seconds(10)};
};

class elector_state {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  elector_state(std::string identity, elector_timing t);

  const std::string& identity() const noexcept { return identity_; }
  const elector_timing& timing() const noexcept { return timing_; }

  // The observed record names us.
  bool is_leader() const noexcept;
  // observed_time + observed leaseDurationSeconds > now.
  bool lease_valid(time_point now) const noexcept;
  // Step 1's condition: renew without reading first.
  bool fast_path(time_point now) const noexcept { return is_leader() && lease_valid(now); }
  // The record a fast-path renewal writes: acquireTime and transitions of our own last record.
  kube::lease_spec renewal(const std::string& wall_now) const;

  enum class step { create, update, held_elsewhere };
  struct decision {
    step what = step::held_elsewhere;
    kube::lease_spec spec;  // what to write (create/update)
  };
  // Steps 2-4 after the GET. `current` null: 404. `now`: when this attempt began (client-go's
  // `now`, also the record's times as `wall_now`); `observed_at`: when the GET answered.
  decision decide(time_point now, time_point observed_at, const std::string& wall_now, const kube::lease* current);

  // A write of `spec` succeeded (client-go's setObservedRecord): observed at `at`.
  void written(time_point at, const kube::lease_spec& spec);

  // The release record for `current` if it names us, else nullopt (nothing to release).
  std::optional<kube::lease_spec> release(const kube::lease& current, const std::string& wall_now) const;

  // When a leader that cannot renew gives the bucket up. client-go: renew-deadline after the
  // renewal poll began (`poll_start`). Capped here at lease-duration - retry-period after the
  // last successful write was SENT: every other candidate observed that write after it was sent,
  // so none can take over before last_write_sent + lease-duration; the cap keeps a retry period
  // of margin for stopping the bucket's work, even when that write answered late or the
  // configuration has renew-deadline + retry-period > lease-duration (where client-go overlaps).
  time_point give_up_at(time_point poll_start, time_point last_write_sent) const noexcept;

  // wait.JitterUntil's pause between acquisition attempts: retry + u * 1.2 * retry, u in [0, 1).
  std::chrono::nanoseconds acquire_pause(double u) const noexcept;

  const kube::lease_spec& observed() const noexcept { return observed_; }
  time_point observed_time() const noexcept { return observed_time_; }
  std::string observed_holder() const { return observed_.holder_identity.value_or(""); }

 private:
  kube::lease_spec own_record(const std::string& wall_now) const;
  void observe(time_point at, const kube::lease_spec& spec);

  std::string identity_;
  elector_timing timing_;
  kube::lease_spec observed_;                    // client-go's observedRecord
  std::optional<kube::lease_spec> observed_raw_; // what the last GET returned (observedRawRecord)
  time_point observed_time_{};
};

}  // namespace chainsd::ha
