#include "ha/ownership.hpp"

#include <bit>

namespace chainsd::ha {

std::string_view to_string(reconciler_kind k) {
  return k == reconciler_kind::task_run ? "taskrun" : "pipelinerun";
}

ownership ownership::everything() { return ownership(everything_tag{}); }

ownership::ownership(everything_tag)
    : all_(true), sets_{bucket_set({"all"}), bucket_set({"all"})} {}

ownership::ownership(const election_config& c)
    : ownership(bucket_set(lease_names(chains_component, taskrun_queue, c)),
                bucket_set(lease_names(chains_component, pipelinerun_queue, c))) {}

ownership::ownership(bucket_set taskruns, bucket_set pipelineruns)
    : sets_{std::move(taskruns), std::move(pipelineruns)} {}

std::size_t ownership::held_count(reconciler_kind k) const noexcept {
  if (all_) return sets_[index(k)].size();
  return static_cast<std::size_t>(std::popcount(held_[index(k)]));
}

std::string ownership::held_list(reconciler_kind k) const {
  if (all_) return "all";
  std::string out;
  for (std::size_t i = 0; i < sets_[index(k)].size(); ++i)
    if ((held_[index(k)] >> i) & 1u) out += (out.empty() ? "" : ",") + std::to_string(i);
  return out;
}

void ownership::set_held(reconciler_kind k, std::size_t bucket, bool held) noexcept {
  if (all_ || bucket >= sets_[index(k)].size()) return;
  const std::uint64_t bit = std::uint64_t{1} << bucket;
  if (held) held_[index(k)] |= bit;
  else held_[index(k)] &= ~bit;
}

}  // namespace chainsd::ha
