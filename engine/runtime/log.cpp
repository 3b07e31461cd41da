#include "runtime/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
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
  static constexpr char hex[] = "0123456789abcdef";
  // Copy runs of characters that need no escaping in bulk: annotation values are mostly base64.
  // Eight bytes at a time (SWAR): skip words with no control character, quote or backslash.
  std::size_t run = 0;
  std::size_t i = 0;
  constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  auto has_zero = [](std::uint64_t x) { return (x - ones) & ~x & highs; };
  for (;;) {
#ifdef __SSE2__
    // Sixteen bytes at a time where SSE2 is there (every x86-64).
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x1f);
    while (i + 16 <= s.size()) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
      __m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                 _mm_cmpeq_epi8(_mm_min_epu8(v, space), v));  // v <= 0x1f, unsigned
      if (_mm_movemask_epi8(bad)) break;
      i += 16;
    }
#endif
    while (i + 8 <= s.size()) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      // A byte < 0x20 has a zero after masking off 0xe0; '"' and '\\' become zero after XOR.
      if (has_zero(w & (0xe0 * ones)) | has_zero(w ^ ('"' * ones)) | has_zero(w ^ ('\\' * ones))) break;
      i += 8;
    }
    if (i >= s.size()) break;
    auto c = static_cast<unsigned char>(s[i++]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - 1 - run);
    run = i;
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
