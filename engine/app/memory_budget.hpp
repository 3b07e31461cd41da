#pragma once
// Memory budgets sized from the pod's memory limit, so that no workload of valid runs can push
// chainsd past it: the limit is --memory-limit-mb, else the cgroup's (v2 memory.max of our own
// cgroup, v1 memory.limit_in_bytes), else none (the fixed defaults stay). From it come the
// defaults of --max-in-flight, --max-log-waiting, --max-queued-mb and --max-progress-mb (flags
// given on the command line win) and the list page and list item byte limits of the run
// watchers. Logged at start.

#include "app/flags.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace chainsd::app {

struct memory_limit {
  std::uint64_t bytes = 0;  // 0: none found
  std::string source;       // "--memory-limit-mb", the cgroup file read, or "none"
};

// `root` is the cgroup mount (/sys/fs/cgroup) and `self_cgroup` the text of /proc/self/cgroup;
// parameters so tests can hand in a folder of their own. Unlimited ("max", v1's huge values) is
// "none".
memory_limit read_cgroup_limit(const std::string& root, const std::string& self_cgroup);

// What one run waiting on the transparency log (reconciler slot_lender, --max-log-waiting) adds
// to chainsd's RSS: measured with bench C2 (Rekor v2, 1 s checkpoints) as the peak RSS over the
// most runs waiting at once, so it includes the burst when a checkpoint releases them all.
// 117 KiB measured (bench/README.md, C2), rounded up.
constexpr std::size_t log_waiting_run_bytes = std::size_t{128} << 10;

struct memory_budget {
  memory_limit limit;
  std::size_t max_in_flight = 64;
  std::size_t max_log_waiting = 1024;
  std::size_t max_queued_bytes = std::size_t{64} << 20;
  std::size_t max_progress_bytes = std::size_t{64} << 20;
  std::size_t list_page_bytes = std::size_t{64} << 20;
  std::size_t list_item_bytes = std::size_t{32} << 20;
};

// The budgets for a limit (0 = none: today's fixed defaults).
memory_budget size_budget(memory_limit limit);

// Reads the limit (flag or cgroup), sizes the budget, sets the defaults of the budget flags not
// given on the command line, and logs the budget.
memory_budget apply_memory_budget(flags& f);

}  // namespace chainsd::app
