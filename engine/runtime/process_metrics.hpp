#pragma once
// The process_* metrics every Go controller exports (prometheus/client_golang's process
// collector), read from /proc at each scrape: process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes, process_virtual_memory_max_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds. Same names, types, help and
// units, so existing dashboards and alerts work on chainsd unchanged.

#include <optional>
#include <string>

namespace chainsd::metrics {

struct process_sample {
  double cpu_seconds = 0;          // utime + stime of /proc/self/stat, in seconds
  double resident_bytes = 0;       // rss pages × page size
  double virtual_bytes = 0;        // vsize
  double start_time_seconds = 0;   // boot time (/proc/stat btime) + starttime / CLK_TCK
  double open_fds = 0;             // entries of /proc/self/fd
  // Soft limits of /proc/self/limits ("Max open files", "Max address space"); "unlimited" reads
  // as 2^64-1, as Go's procfs has it; none when the line is missing.
  std::optional<double> max_fds;
  std::optional<double> max_virtual_bytes;
};

// Reads /proc (`proc_root`, for tests: a directory laid out as /proc). Nullopt when /proc/self/stat
// cannot be read (not Linux, /proc not mounted).
std::optional<process_sample> sample_process(const std::string& proc_root = "/proc");

// The sample in Prometheus text format (# HELP, # TYPE, value); "" when there is none.
std::string render_process(const std::string& proc_root = "/proc");

}  // namespace chainsd::metrics
