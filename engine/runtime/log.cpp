#include "runtime/log.hpp"

#include "runtime/json_escape.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

namespace chainsd::log {
namespace {
std::atomic<level> g_level{level::info};
std::mutex g_mutex;
// Buffered mode: debug/info lines wait here for flush() (the app calls it every 100 ms and on
// exit); a warning or an error, or 64 KB of lines, writes everything at once.
bool g_buffered = false;
std::string g_pending;
constexpr std::size_t pending_limit = 64 * 1024;

void write_out(std::string_view s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

constexpr std::string_view level_name(level l) {
  switch (l) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
    case level::off: return "off";
  }
  return "info";
}

void append_time(std::string& out) {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = time_point_cast<seconds>(now);
  auto ms = duration_cast<milliseconds>(now - secs).count();
  std::time_t t = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  out.append(buf, n);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms));
  out += frac;
}
}  // namespace

bool parse_level(std::string_view text, level& out) {
  std::string lower;
  for (char c : text) lower += static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  if (lower == "debug") out = level::debug;
  else if (lower == "info") out = level::info;
  else if (lower == "warn" || lower == "warning") out = level::warn;
  else if (lower == "error") out = level::error;
  else return false;
  return true;
}

void set_level(level l) { g_level.store(l, std::memory_order_relaxed); }
level current_level() { return g_level.load(std::memory_order_relaxed); }

void json_escape(std::string& out, std::string_view s) {
  runtime::append_json_escaped(out, s, runtime::json_escape::minimal);
}

void write(level l, std::string_view msg, std::initializer_list<field> fields) {
  if (l < current_level()) return;
  std::string line;
  line.reserve(128 + msg.size());
  line += "{\"ts\":\"";
  append_time(line);
  line += "\",\"level\":\"";
  line += level_name(l);
  line += "\",\"msg\":\"";
  json_escape(line, msg);
  line += '"';
  for (const auto& [k, v] : fields) {
    line += ",\"";
    json_escape(line, k);
    line += "\":\"";
    json_escape(line, v);
    line += '"';
  }
  line += "}\n";
  std::lock_guard lock(g_mutex);
  if (g_buffered) {
    g_pending += line;
    if (l < level::warn && g_pending.size() < pending_limit) return;
    write_out(g_pending);
    g_pending.clear();
    return;
  }
  write_out(line);
}

void set_buffered(bool on) {
  std::lock_guard lock(g_mutex);
  g_buffered = on;
  if (!on && !g_pending.empty()) {
    write_out(g_pending);
    g_pending.clear();
  }
}

void flush() {
  std::lock_guard lock(g_mutex);
  if (g_pending.empty()) return;
  write_out(g_pending);
  g_pending.clear();
}

}  // namespace chainsd::log
