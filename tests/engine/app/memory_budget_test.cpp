#include <catch2/catch.hpp>

#include "app/memory_budget.hpp"

#include <filesystem>
#include <fstream>
#include <random>

namespace fs = std::filesystem;
using namespace chainsd::app;

namespace {

struct cgroup_root {
  fs::path path = fs::temp_directory_path() / ("chainsd-cgroup-" + std::to_string(std::random_device{}()));
  cgroup_root() { fs::create_directories(path); }
  ~cgroup_root() { fs::remove_all(path); }
  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((path / rel).parent_path());
    std::ofstream(path / rel) << text;
  }
};

constexpr std::uint64_t mib = 1u << 20;

}  // namespace

TEST_CASE("cgroup v2: our own cgroup's memory.max, else the mount's; \"max\" is no limit") {
  cgroup_root r;
  r.write("kubepods/pod1/c1/memory.max", "268435456\n");
  r.write("memory.max", "max\n");
  auto own = read_cgroup_limit(r.path.string(), "0::/kubepods/pod1/c1\n");
  CHECK(own.bytes == 256 * mib);
  CHECK(own.source == r.path.string() + "/kubepods/pod1/c1/memory.max");
  auto root = read_cgroup_limit(r.path.string(), "0::/\n");  // inside a cgroup namespace
  CHECK(root.bytes == 0);
  CHECK_THAT(root.source, Catch::Contains("is unlimited"));
  r.write("memory.max", "134217728\n");
  CHECK(read_cgroup_limit(r.path.string(), "0::/\n").bytes == 128 * mib);
}

TEST_CASE("cgroup v1: memory.limit_in_bytes of our memory cgroup; the huge 'unlimited' value is none") {
  cgroup_root r;
  r.write("memory/memory.limit_in_bytes", "9223372036854771712\n");
  r.write("memory/process_api/abc/memory.limit_in_bytes", "536870912\n");
  auto l = read_cgroup_limit(r.path.string(), "5:cpu,cpuacct:/x\n4:memory:/process_api/abc\n1:name=systemd:/\n");
  CHECK(l.bytes == 512 * mib);
  auto none = read_cgroup_limit(r.path.string(), "4:memory:/\n");
  CHECK(none.bytes == 0);
  CHECK(read_cgroup_limit((r.path / "nothing").string(), "").source == "none");
}

TEST_CASE("budgets grow with the limit, stay within their bounds, and keep today's defaults without one") {
  auto none = size_budget({});
  CHECK(none.max_in_flight == 64);
  CHECK(none.max_log_waiting == 1024);
  CHECK(none.max_queued_bytes == 64 * mib);
  CHECK(none.list_page_bytes == 64 * mib);
  CHECK(none.list_item_bytes == 32 * mib);

  auto small = size_budget({64 * mib, "test"});
  auto mid = size_budget({256 * mib, "test"});
  auto big = size_budget({8192 * mib, "test"});
  CHECK(small.max_in_flight >= 2);
  CHECK(small.max_in_flight < mid.max_in_flight + 1);
  CHECK(mid.max_in_flight == 64);
  CHECK(mid.max_queued_bytes == 32 * mib);
  CHECK(big.max_queued_bytes == 64 * mib);  // capped
  for (const auto* b : {&small, &mid}) {
    // What the budgets may hold (1 MiB a run in flight) plus the process itself stays under 75 %.
    const auto total = b->max_in_flight * mib + b->max_log_waiting * log_waiting_run_bytes + b->max_queued_bytes +
                       b->max_progress_bytes + b->list_page_bytes + 24 * mib;
    CHECK(total < b->limit.bytes * 3 / 4);
  }
}

TEST_CASE("--memory-limit-mb wins over the cgroup; flags given on the command line win over the budget") {
  flags f({{"memory-limit-mb", "", "0"}, {"max-in-flight", "", "64"}, {"max-log-waiting", "", "1024"},
           {"max-queued-mb", "", "64"}, {"max-progress-mb", "", "64"}, {"list-page-size", "", "500"}});
  f.parse({"--memory-limit-mb", "128", "--max-in-flight", "7"});
  auto b = apply_memory_budget(f);
  CHECK(b.limit.bytes == 128 * mib);
  CHECK(b.limit.source == "--memory-limit-mb");
  CHECK(b.max_in_flight == 7);
  CHECK(f.get("max-in-flight") == "7");
  CHECK(b.max_queued_bytes < 64 * mib);
  CHECK(f.get("max-queued-mb") == std::to_string(b.max_queued_bytes / mib));
}

TEST_CASE("runs waiting on the log: an eighth of the usable memory in measured units; the flag wins") {
  auto small = size_budget({64 * mib, "test"});
  auto mid = size_budget({256 * mib, "test"});
  auto big = size_budget({4096 * mib, "test"});
  auto huge = size_budget({1024 * 1024 * mib, "test"});
  CHECK(small.max_log_waiting >= 16);
  CHECK(small.max_log_waiting < mid.max_log_waiting);
  CHECK(mid.max_log_waiting < big.max_log_waiting);
  CHECK(huge.max_log_waiting == 8192);  // capped
  // 256 MiB: 60 % less the process itself is ~129.6 MiB usable, an eighth of it in waiting runs.
  const auto usable = 256 * mib * 6 / 10 - 24 * mib;
  CHECK(mid.max_log_waiting == usable / 8 / log_waiting_run_bytes);
  CHECK(mid.max_log_waiting * log_waiting_run_bytes <= usable / 8);

  auto make = [] {
    return flags({{"memory-limit-mb", "", "0"}, {"max-in-flight", "", "64"}, {"max-log-waiting", "", "1024"},
                  {"max-queued-mb", "", "64"}, {"max-progress-mb", "", "64"}, {"list-page-size", "", "500"}});
  };
  auto sized = make();
  sized.parse({"--memory-limit-mb", "256"});
  CHECK(apply_memory_budget(sized).max_log_waiting == mid.max_log_waiting);
  CHECK(sized.get("max-log-waiting") == std::to_string(mid.max_log_waiting));
  auto given = make();
  given.parse({"--memory-limit-mb", "256", "--max-log-waiting", "0"});
  CHECK(apply_memory_budget(given).max_log_waiting == 0);
  CHECK(given.get("max-log-waiting") == "0");
  auto unlimited = make();
  unlimited.parse({"--memory-limit-mb", "0"});
  // No limit found (this test's own cgroup may have one: only when none, the default stays).
  auto b = apply_memory_budget(unlimited);
  if (b.limit.bytes == 0) CHECK(b.max_log_waiting == 1024);
}
