#pragma once
// Which bucket a run is in, and what the buckets' Leases are called: knative.dev/pkg exactly, so
// that a Tekton Chains replica and a chainsd replica contend for the same Leases and put every
// run in the same bucket.
//
// Lease names (knative leaderelection.standardBucketName):
//   lower("<component>.<queue>.<i, 2 digits>-of-<buckets, 2 digits>")
// with component "watcher" (Chains' sharedmain.MainWithConfig(ctx, "watcher", ...)) and the queue
// name its generated reconcilers derive from the Reconciler type:
// "github.com.tektoncd.chains.pkg.reconciler.taskrun.Reconciler" (and .pipelinerun.): e.g.
// "watcher.github.com.tektoncd.chains.pkg.reconciler.taskrun.reconciler.00-of-01".
// `map-lease-prefix.<component>.<queue>` replaces "<component>.<queue>".
//
// Bucket of a key (knative hash.BucketSet.Owner → ChooseSubset(bucket names, 1, key)), key =
// types.NamespacedName.String() = "namespace/name": every bucket name f gets the angle
// FNV-1a-64(f + key) mod 2048 (on a clash with an earlier name, in sorted order, the hash's hex
// digits are appended and hashed again); the key starts at FNV-1a-64(key + "start-angle-salt")
// mod 2048; the owner is the first bucket at or after that angle, wrapping around. The bucket
// names take part in the hash, so the TaskRun and PipelineRun reconcilers split keys differently.
//
// Cost: owner() allocates nothing; the hash state after each bucket name is computed once, so a
// lookup hashes the key once, advancing one FNV state per bucket in the same pass (10 buckets,
// a 45-byte key: ~1.3 µs at -O2 on this shared 2-core machine; a standby answers in ~10 ns).

#include "ha/election_config.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chainsd::ha {

inline constexpr std::string_view chains_component = "watcher";
inline constexpr std::string_view taskrun_queue = "github.com.tektoncd.chains.pkg.reconciler.taskrun.Reconciler";
inline constexpr std::string_view pipelinerun_queue = "github.com.tektoncd.chains.pkg.reconciler.pipelinerun.Reconciler";

// The config.buckets Lease names of one reconciler, ordinal order.
std::vector<std::string> lease_names(std::string_view component, std::string_view queue, const election_config& c);

// FNV-1a 64-bit, continuing from `state` (start with fnv_offset), as Go's hash/fnv New64a.
inline constexpr std::uint64_t fnv_offset = 14695981039346656037ull;
inline constexpr std::uint64_t fnv_prime = 1099511628211ull;
constexpr std::uint64_t fnv1a(std::string_view s, std::uint64_t state = fnv_offset) noexcept {
  for (unsigned char c : s) {
    state ^= c;
    state *= fnv_prime;
  }
  return state;
}

class bucket_set {
 public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_size = 64;  // held sets are 64-bit masks

  // The names are sorted and de-duplicated (knative sets.List); indexes below are into that
  // order. Throws std::invalid_argument when empty or larger than max_size.
  explicit bucket_set(std::vector<std::string> names);

  std::size_t size() const noexcept { return names_.size(); }
  const std::string& name(std::size_t i) const { return names_.at(i); }
  const std::vector<std::string>& names() const noexcept { return names_; }
  std::size_t index_of(std::string_view lease_name) const noexcept;

  // Index of the bucket that owns namespace/name.
  std::size_t owner(std::string_view ns, std::string_view name) const noexcept;
  // Same for a key already joined as "namespace/name".
  std::size_t owner(std::string_view key) const noexcept;

 private:
  // The key is a + b + c (namespace, "/", name) without joining them.
  std::size_t owner_of(std::string_view a, std::string_view b, std::string_view c) const noexcept;

  std::vector<std::string> names_;
  std::vector<std::uint64_t> after_name_;  // FNV state after each name's bytes
};

}  // namespace chainsd::ha
