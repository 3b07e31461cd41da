#include "runtime/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace chainsd::log {
namespace {
std::atomic<level> g_level{level::info};
std::mutex g_mutex;

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
  static constexpr char hex[] = "0123456789abcdef";
  // Copy runs of characters that need no escaping in bulk: annotation values are mostly base64.
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0xf];
    }
  }
  out.append(s.data() + run, s.size() - run);
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
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

}  // namespace chainsd::log
