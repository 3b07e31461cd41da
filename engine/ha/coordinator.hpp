#pragma once
// A replica's whole election: one elector (elector.hpp) per Lease of each reconciler's buckets
// (TaskRuns and PipelineRuns: 2 x `buckets` Leases, Tekton Chains' names), all in the
// controller's namespace under one identity. It keeps `ownership` (ownership.hpp) in step with
// the Leases held and tells the reconciler:
//   on_acquired(kind, bucket) after the bit is set: re-examine that bucket's runs (knative's
//       Promote enqueues every key of the bucket; events skipped while another replica held it
//       are not replayed by the watch);
//   on_lost(kind, bucket) after the bit is cleared: stop working on that bucket's runs now; it is
//       called before the Lease can expire for anyone else (elector.hpp).
// Both run synchronously on the executor thread and must not throw.
//
// Balance (beyond knative, which lets the first replica take every Lease): each replica also
// holds a Lease of its own, `chainsd-replica-<hash of its identity>`, renewed like the others and
// released on stop — its presence. Every retry period the coordinator counts the replicas whose
// presence Lease is current and takes at most its fair share, ceil(buckets / replicas), of each
// reconciler's Leases: beyond it, it does not try to acquire free ones and hands over the excess
// (relinquish: work stopped, Lease released, taken by another at its next retry). Tekton Chains
// replicas have no presence Lease and take free Leases as knative does; nothing they do changes.
//
// Shutdown: stop(quiesced) ends elections at once for buckets not held; held Leases keep being
// renewed until quiesced() is true (polled every 20 ms; e.g. "no pass in flight"), then each is
// given up (on_lost) and released, and run() returns. So the runs in flight finish under the
// Lease and the next replica takes the bucket within a retry period instead of lease-duration.
// A cancelled run() (its slot) does the same without waiting for quiesced().
//
// Metrics (process registry unless options say otherwise):
//   chainsd_ha_buckets{reconciler}                    buckets configured
//   chainsd_ha_buckets_held{reconciler}               buckets this replica holds
//   chainsd_ha_lease_transitions_total{reconciler,transition="acquired|lost|released"}
//   chainsd_ha_seconds_since_renew{reconciler,bucket} age of the last successful write of a held
//                                                     Lease (0 when not held), refreshed every second
// and a log line "ha buckets held" with the buckets per reconciler whenever the set changes (one
// line per turn of the event loop, however many buckets moved in it).
//
// Ownership: the client and `own` outlive the coordinator; run() must have returned before it is
// destroyed. Threading: the executor's thread only.

#include "ha/election_config.hpp"
#include "ha/elector.hpp"
#include "ha/ownership.hpp"
#include "kube/client.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include <array>

namespace chainsd::metrics {
class registry;
}

namespace chainsd::ha {

struct coordinator_options {
  std::string namespace_name;   // where the Leases live: the controller's namespace
  std::string identity;         // unique_identity()
  election_config config;
  std::uint64_t seed = 0;       // jitter of the electors; 0 = random
  metrics::registry* metrics = nullptr;  // nullptr: metrics::global(); tests pass their own
};

class coordinator {
 public:
  using bucket_handler = std::function<void(reconciler_kind, std::size_t bucket)>;

  // `own` must have been built from the same config (ownership(const election_config&)).
  coordinator(kube::client& c, ownership& own, coordinator_options o, bucket_handler on_acquired,
              bucket_handler on_lost);
  ~coordinator();
  coordinator(const coordinator&) = delete;
  coordinator& operator=(const coordinator&) = delete;

  boost::asio::awaitable<void> run();
  void stop(std::function<bool()> quiesced);
  void stop() { stop(nullptr); }
  // Every bucket's first acquire attempt has been answered: the buckets held now are what this
  // replica starts with (the controller starts its watches then, so their first list already
  // sees them and no bucket needs a second list).
  bool first_round_done() const;
  // True once first_round_done(), false at `deadline`; honours cancellation (throws).
  boost::asio::awaitable<bool> wait_first_round(std::chrono::steady_clock::time_point deadline);

  const std::string& identity() const noexcept { return opts_.identity; }
  const ownership& owner() const noexcept { return own_; }
  const elector& elector_for(reconciler_kind k, std::size_t bucket) const;
  std::size_t replicas() const noexcept { return replicas_; }
  std::size_t held() const noexcept;

 private:
  struct slot;
  void on_acquired(slot& s);
  void on_lost(slot& s);
  void schedule_log();
  void log_held() const;
  void refresh_metrics();
  boost::asio::awaitable<void> stopper();
  boost::asio::awaitable<void> ticker();
  boost::asio::awaitable<void> balancer();
  bool may_acquire(reconciler_kind k) const;

  ownership& own_;
  coordinator_options opts_;
  bucket_handler on_acquired_, on_lost_;
  std::vector<std::unique_ptr<slot>> slots_;
  kube::client& client_;
  std::unique_ptr<elector> presence_;
  std::size_t replicas_ = 1;                       // with a current presence Lease, this one included
  std::array<std::size_t, 2> fair_{64, 64};        // Leases of each reconciler this replica may hold
  std::function<bool()> quiesced_;
  bool stopping_ = false;
  bool finished_ = false;
  bool log_pending_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // guards posted log lines
  struct timers;
  std::unique_ptr<timers> timers_;
};

}  // namespace chainsd::ha
