// process_* metrics (issue 19 item 11): read from a /proc laid out by the test (exact values) and
// from the real /proc (plausible, and following what the process does).
#include <catch2/catch.hpp>

#include "runtime/process_metrics.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>

using namespace chainsd;
namespace fs = std::filesystem;

namespace {

fs::path fake_proc() {
  auto root = fs::temp_directory_path() / ("chainsd-proc-" + std::to_string(::getpid()));
  fs::create_directories(root / "self" / "fd");
  for (int i = 0; i < 5; ++i) std::ofstream(root / "self" / "fd" / std::to_string(i)) << "";
  // comm holds a space and parentheses; utime 250, stime 150 ticks, starttime 1000 ticks,
  // vsize 123456789, rss 1000 pages.
  std::ofstream(root / "self" / "stat")
      << "4242 (chainsd (x) y) S 1 4242 4242 0 -1 4194560 1 0 0 0 250 150 0 0 20 0 3 0 1000 123456789 1000 "
         "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
  std::ofstream(root / "stat") << "cpu  1 2 3 4\ncpu0 1 2 3 4\nintr 0\nctxt 1\nbtime 1700000000\nprocesses 9\n";
  std::ofstream(root / "self" / "limits")
      << "Limit                     Soft Limit           Hard Limit           Units     \n"
         "Max cpu time              unlimited            unlimited            seconds   \n"
         "Max open files            1024                 524288               files     \n"
         "Max address space         unlimited            unlimited            bytes     \n";
  return root;
}

double value_of(const std::string& text, const std::string& name) {
  auto at = text.find("\n" + name + " ");
  REQUIRE(at != std::string::npos);
  return std::stod(text.substr(at + name.size() + 2));
}

}  // namespace

TEST_CASE("process metrics are read from /proc as Go's process collector reads them") {
  auto root = fake_proc();
  auto s = metrics::sample_process(root.string());
  REQUIRE(s);
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  CHECK(s->cpu_seconds == Approx(400 / ticks));
  CHECK(s->virtual_bytes == 123456789);
  CHECK(s->resident_bytes == 1000.0 * static_cast<double>(::sysconf(_SC_PAGESIZE)));
  CHECK(s->start_time_seconds == Approx(1700000000 + 1000 / ticks));
  CHECK(s->open_fds == 5);
  CHECK(s->max_fds == 1024);
  CHECK(s->max_virtual_bytes == 18446744073709551615.0);
  auto text = metrics::render_process(root.string());
  for (auto [name, type] : {std::pair{"process_cpu_seconds_total", "counter"}, {"process_open_fds", "gauge"},
                            {"process_max_fds", "gauge"}, {"process_resident_memory_bytes", "gauge"},
                            {"process_virtual_memory_bytes", "gauge"}, {"process_virtual_memory_max_bytes", "gauge"},
                            {"process_start_time_seconds", "gauge"}}) {
    INFO(name);
    CHECK_THAT(text, Catch::Contains(std::string("# TYPE ") + name + " " + type + "\n"));
  }
  CHECK(value_of(text, "process_open_fds") == 5);
  CHECK(value_of(text, "process_virtual_memory_bytes") == 123456789);
  CHECK(value_of(text, "process_max_fds") == 1024);
  fs::remove_all(root);
  CHECK(metrics::render_process(root.string()).empty());  // no /proc: nothing rather than zeros
}

TEST_CASE("the real /proc: values follow what the process does") {
  auto before = metrics::sample_process();
  REQUIRE(before);
  CHECK(before->resident_bytes > 1 << 20);
  CHECK(before->virtual_bytes >= before->resident_bytes);
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(before->start_time_seconds <= now + 1);
  CHECK(before->start_time_seconds > now - 3600);  // this test process started within the hour
  int fds[8];
  for (int& fd : fds) fd = ::open("/dev/null", O_RDONLY);
  auto opened = metrics::sample_process();
  CHECK(opened->open_fds == before->open_fds + 8);
  for (int fd : fds) ::close(fd);
  // Burn 300 ms of CPU (as std::clock counts it, however busy the machine is): the counter moves
  // by that much, within the kernel's tick.
  const std::clock_t c0 = std::clock();
  volatile unsigned long x = 0;
  while (static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC < 0.3) x = x + 1;
  const double burnt = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  auto after = metrics::sample_process();
  const double tick = 1.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
  CHECK(after->cpu_seconds - before->cpu_seconds >= burnt - 2 * tick);
  CHECK(after->cpu_seconds - before->cpu_seconds <= burnt + 0.1);
}
