#include "runtime/process_metrics.hpp"

#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

namespace chainsd::metrics {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// /proc/self/limits: "Max open files            1024                 1048576              files".
std::optional<double> soft_limit(const std::string& limits, std::string_view name) {
  auto at = limits.find(name);
  if (at == std::string::npos) return std::nullopt;
  std::istringstream line(limits.substr(at + name.size(), limits.find('\n', at) - at - name.size()));
  std::string soft;
  line >> soft;
  if (soft.empty()) return std::nullopt;
  if (soft == "unlimited") return 18446744073709551615.0;  // as Go's procfs reads it (max uint64)
  double v = 0;
  auto [p, ec] = std::from_chars(soft.data(), soft.data() + soft.size(), v);
  if (ec != std::errc()) return std::nullopt;
  return v;
}

std::string number(double v) {
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, p) : std::string("NaN");
}

}  // namespace

std::optional<process_sample> sample_process(const std::string& proc_root) {
  const auto stat = slurp(proc_root + "/self/stat");
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses; fields resume after the last ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(stat.substr(close + 1));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  for (std::string s; in >> s;) f.push_back(s);
  if (f.size() < 22) return std::nullopt;
  auto field = [&f](int n) { return std::stod(f[static_cast<std::size_t>(n - 3)]); };  // 1-based as in proc(5)
  static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  static const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  process_sample s;
  s.cpu_seconds = (field(14) + field(15)) / ticks;  // utime + stime
  s.virtual_bytes = field(23);
  s.resident_bytes = field(24) * page;
  const auto proc_stat = slurp(proc_root + "/stat");
  if (auto b = proc_stat.find("\nbtime "); b != std::string::npos)
    s.start_time_seconds = std::stod(proc_stat.substr(b + 7)) + field(22) / ticks;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(proc_root + "/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    s.open_fds += 1;
  const auto limits = slurp(proc_root + "/self/limits");
  s.max_fds = soft_limit(limits, "Max open files");
  s.max_virtual_bytes = soft_limit(limits, "Max address space");
  return s;
}

std::string render_process(const std::string& proc_root) {
  auto s = sample_process(proc_root);
  if (!s) return {};
  std::string out;
  auto add = [&out](const char* name, const char* type, const char* help, double v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
           number(v) + "\n";
  };
  add("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", s->cpu_seconds);
  add("process_max_fds", "gauge", "Maximum number of open file descriptors.", s->max_fds.value_or(-1));
  add("process_open_fds", "gauge", "Number of open file descriptors.", s->open_fds);
  add("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", s->resident_bytes);
  add("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
      s->start_time_seconds);
  add("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", s->virtual_bytes);
  add("process_virtual_memory_max_bytes", "gauge", "Maximum amount of virtual memory available in bytes.",
      s->max_virtual_bytes.value_or(-1));
  return out;
}

}  // namespace chainsd::metrics
