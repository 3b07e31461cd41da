#pragma once
// Which runs this replica may work on: the buckets it holds, per reconciler. The reconciler asks
// owns() on every event and before every pass; the coordinator (coordinator.hpp) flips the held
// bits as leases are acquired and lost. `everything()` is `--disable-ha`: every run is ours, no
// Lease is read or written.
//
// Cost: owns() allocates nothing; a replica that holds no bucket of a reconciler (a hot standby)
// or all of them answers without hashing.
//
// Threading: the executor's thread only (no locks). Ownership: plain value; the coordinator keeps
// a reference to the one the controller owns, which must outlive it.

#include "ha/buckets.hpp"
#include "ha/election_config.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace chainsd::ha {

// Tekton Chains runs two leader-aware reconcilers, each with its own set of Leases.
enum class reconciler_kind : std::uint8_t { task_run = 0, pipeline_run = 1 };
inline constexpr std::array<reconciler_kind, 2> all_reconcilers{reconciler_kind::task_run,
                                                                reconciler_kind::pipeline_run};
std::string_view to_string(reconciler_kind k);  // "taskrun", "pipelinerun"

class ownership {
 public:
  // --disable-ha: owns every run; no buckets (bucket_of() answers 0).
  static ownership everything();
  // Chains' lease names for `c` (buckets.hpp), nothing held yet.
  explicit ownership(const election_config& c);
  ownership(bucket_set taskruns, bucket_set pipelineruns);

  bool owns(reconciler_kind k, std::string_view ns, std::string_view name) const noexcept {
    if (all_) return true;
    const std::uint64_t held = held_[index(k)];
    if (held == 0) return false;
    const bucket_set& b = sets_[index(k)];
    if (held == full(b.size())) return true;
    return (held >> b.owner(ns, name)) & 1u;
  }
  std::size_t bucket_of(reconciler_kind k, std::string_view ns, std::string_view name) const noexcept {
    return all_ ? 0 : sets_[index(k)].owner(ns, name);
  }
  bool holds(reconciler_kind k, std::size_t bucket) const noexcept { return all_ || ((held_[index(k)] >> bucket) & 1u); }
  std::size_t held_count(reconciler_kind k) const noexcept;
  // "0,3,5" (sorted bucket indexes), "all" in --disable-ha mode, "" when none.
  std::string held_list(reconciler_kind k) const;
  bool disabled() const noexcept { return all_; }
  const bucket_set& buckets(reconciler_kind k) const noexcept { return sets_[index(k)]; }

  // For the coordinator.
  void set_held(reconciler_kind k, std::size_t bucket, bool held) noexcept;

 private:
  struct everything_tag {};
  explicit ownership(everything_tag);
  static std::size_t index(reconciler_kind k) noexcept { return static_cast<std::size_t>(k); }
  static std::uint64_t full(std::size_t n) noexcept { return n >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1; }

  bool all_ = false;
  std::array<bucket_set, 2> sets_;
  std::array<std::uint64_t, 2> held_{};
};

}  // namespace chainsd::ha
