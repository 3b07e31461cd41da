#include "app/memory_budget.hpp"

#include "runtime/log.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <vector>

namespace chainsd::app {
namespace {

constexpr std::uint64_t mib = 1u << 20;
// Values at or past this are "no limit" (cgroup v1 writes 9223372036854771712 for none).
constexpr std::uint64_t unlimited = std::uint64_t{1} << 60;

std::optional<std::uint64_t> read_number_file(const std::string& path, bool& present) {
  std::ifstream in(path);
  present = static_cast<bool>(in);
  if (!in) return std::nullopt;
  std::string text;
  std::getline(in, text);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v >= unlimited) return std::nullopt;  // "max"
  return v;
}

// This process's cgroup path in /proc/self/cgroup: v2's line "0::/kubepods/…", v1's
// "4:memory:/kubepods/…" (the controller list may hold others: "5:cpu,memory:/…"). "" if none.
std::string cgroup_path(const std::string& self_cgroup, bool v2) {
  std::istringstream in(self_cgroup);
  std::string line;
  while (std::getline(in, line)) {
    const auto a = line.find(':');
    const auto b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = "," + line.substr(a + 1, b - a - 1) + ",";
    if (v2 ? controllers == ",," : controllers.find(",memory,") != std::string::npos) return line.substr(b + 1);
  }
  return {};
}

std::string mb(std::size_t bytes) { return std::to_string(bytes / mib); }

}  // namespace

memory_limit read_cgroup_limit(const std::string& root, const std::string& self_cgroup) {
  // v2: our own cgroup's memory.max (inside a container's cgroup namespace that is the root
  // one), then the mount's root.
  // v1 likewise, under the memory controller's mount.
  std::vector<std::string> candidates;
  if (auto p = cgroup_path(self_cgroup, true); !p.empty() && p != "/") candidates.push_back(root + p + "/memory.max");
  candidates.push_back(root + "/memory.max");
  if (auto p = cgroup_path(self_cgroup, false); !p.empty() && p != "/")
    candidates.push_back(root + "/memory" + p + "/memory.limit_in_bytes");
  candidates.push_back(root + "/memory/memory.limit_in_bytes");
  for (const auto& path : candidates) {
    bool present = false;
    if (auto v = read_number_file(path, present)) return {*v, path};
    if (present) return {0, "none (" + path + " is unlimited)"};
  }
  return {0, "none"};
}

memory_budget size_budget(memory_limit limit) {
  memory_budget b;
  b.limit = std::move(limit);
  if (b.limit.bytes == 0) return b;
  // Aim at 60 % of the limit (the tests hold it under 75 %); about 24 MiB is the process itself
  // (binary, plugins, allocator, TLS, known_set).
  const std::uint64_t target = b.limit.bytes * 6 / 10;
  const std::uint64_t usable = target > 32 * mib ? target - 24 * mib : 8 * mib;
  // Whole MiB, as the flags carry them.
  auto clamp = [](std::uint64_t v, std::uint64_t lo, std::uint64_t hi) {
    return static_cast<std::size_t>(std::clamp(v / mib * mib, lo, hi));
  };
  // A run in flight holds its document, payload, envelope and patch: ~1 MiB for the large runs
  // (130 KB documents) that matter here. Half the usable memory goes to runs in flight.
  b.max_in_flight = static_cast<std::size_t>(std::clamp<std::uint64_t>(usable / 2 / mib, 2, 64));
  // Runs waiting on the log give their slot back (Rekor v2 answers at its next checkpoint, ~1 s):
  // an eighth of the usable memory, in units of what one such run was measured to hold.
  b.max_log_waiting =
      static_cast<std::size_t>(std::clamp<std::uint64_t>(usable / 8 / log_waiting_run_bytes, 16, 8192));
  b.max_queued_bytes = clamp(usable / 4, 2 * mib, 64 * mib);
  b.max_progress_bytes = clamp(usable / 8, 1 * mib, 64 * mib);
  b.list_page_bytes = clamp(usable / 8, 1 * mib, 64 * mib);
  b.list_item_bytes = clamp(usable / 8, 1 * mib, 32 * mib);
  return b;
}

memory_budget apply_memory_budget(flags& f) {
  memory_limit limit;
  const long flag_mb = f.get_int("memory-limit-mb", 0, 1'000'000'000);
  if (flag_mb > 0) {
    limit = {static_cast<std::uint64_t>(flag_mb) * mib, "--memory-limit-mb"};
  } else {
    std::ifstream in("/proc/self/cgroup");
    std::stringstream text;
    text << in.rdbuf();
    limit = read_cgroup_limit("/sys/fs/cgroup", text.str());
  }
  auto b = size_budget(std::move(limit));
  if (b.limit.bytes) {
    f.set_default("max-in-flight", std::to_string(b.max_in_flight));
    f.set_default("max-log-waiting", std::to_string(b.max_log_waiting));
    f.set_default("max-queued-mb", mb(b.max_queued_bytes));
    f.set_default("max-progress-mb", mb(b.max_progress_bytes));
  }
  // What is in force: a flag given on the command line wins over the budget.
  b.max_in_flight = static_cast<std::size_t>(f.get_int("max-in-flight", 1, 100'000));
  b.max_log_waiting = static_cast<std::size_t>(f.get_int("max-log-waiting", 0, 100'000));
  b.max_queued_bytes = static_cast<std::size_t>(f.get_int("max-queued-mb", 0, 1'000'000)) * mib;
  b.max_progress_bytes = static_cast<std::size_t>(f.get_int("max-progress-mb", 0, 1'000'000)) * mib;
  log::info("memory budget",
            {{"limit_mb", b.limit.bytes ? mb(b.limit.bytes) : "none"}, {"source", b.limit.source},
             {"max_in_flight", std::to_string(b.max_in_flight)},
             {"max_log_waiting", std::to_string(b.max_log_waiting)},
             {"log_waiting_run_kib", std::to_string(log_waiting_run_bytes >> 10)},
             {"max_queued_mb", mb(b.max_queued_bytes)},
             {"max_progress_mb", mb(b.max_progress_bytes)}, {"list_page_mb", mb(b.list_page_bytes)},
             {"list_item_mb", mb(b.list_item_bytes)},
             {"list_page_size", f.get("list-page-size")}});
  return b;
}

}  // namespace chainsd::app
