#include "provenance/encoding.hpp"

#include "runtime/json_escape.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>

namespace chainsd::provenance {
namespace {
// Go durations are int64 nanoseconds; a wider accumulator detects overflow the way Go does.
__extension__ typedef unsigned __int128 u128;
bool digits(std::string_view s, std::size_t pos, std::size_t n, int& value) {
  if (pos + n > s.size()) return false;
  value = 0;
  for (std::size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return true;
}

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp + (mp < 10 ? 3 : -9);
  y += m <= 2;
}

unsigned days_in_month(std::int64_t y, int m) {
  static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : dm[m - 1];
}
}  // namespace

void append_go_json_string(std::string& out, std::string_view s) {
  runtime::append_json_quoted(out, s, runtime::json_escape::go_json);
}
void append_json_string(std::string& out, std::string_view s) {
  runtime::append_json_quoted(out, s, runtime::json_escape::protojson);
}

std::string base64_encode(std::string_view in) { return plugin::base64_encode(in); }

std::optional<std::string> normalize_rfc3339(std::string_view s) {
  int year, month, day, hour, minute, second;
  if (!digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, month) || s[7] != '-' ||
      !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, hour) || s[13] != ':' ||
      !digits(s, 14, 2, minute) || s[16] != ':' || !digits(s, 17, 2, second))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || static_cast<unsigned>(day) > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 59)
    return std::nullopt;
  std::size_t pos = 19;
  std::string fraction;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') fraction += s[pos++];
    if (fraction.empty() || fraction.size() > 9) return std::nullopt;
  }
  int offset_minutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(s, pos + 4, 2, om) ||
        oh > 23 || om > 59)
      return std::nullopt;
    offset_minutes = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  std::int64_t t = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
                   hour * 3600 + minute * 60 + second - static_cast<std::int64_t>(offset_minutes) * 60;
  std::int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  std::int64_t rem = t - days * 86400;
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  if (y < 0 || y > 9999) return std::nullopt;
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(y), m, d,
                static_cast<int>(rem / 3600), static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60));
  std::string out = buf;
  if (!fraction.empty()) out += "." + fraction;
  return out + "Z";
}

std::optional<std::string> normalize_go_duration(std::string_view s) {
  // time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+, or "0".
  if (s.empty()) return std::nullopt;
  bool neg = false;
  std::size_t i = 0;
  if (s[0] == '-' || s[0] == '+') {
    neg = s[0] == '-';
    ++i;
  }
  if (s.substr(i) == "0") return std::string("0s");
  if (i == s.size()) return std::nullopt;
  // Nanoseconds, accumulated in a wide integer to detect overflow like Go.
  u128 total = 0;
  while (i < s.size()) {
    u128 whole = 0;
    std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      whole = whole * 10 + static_cast<unsigned>(s[i] - '0');
      if (whole > (static_cast<u128>(1) << 63)) return std::nullopt;
      ++i;
    }
    bool had_whole = i > start;
    u128 frac = 0, scale = 1;
    bool had_frac = false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      std::size_t fs = i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (scale < static_cast<u128>(1000000000000000000ULL)) {
          frac = frac * 10 + static_cast<unsigned>(s[i] - '0');
          scale *= 10;
        }
        ++i;
      }
      had_frac = i > fs;
    }
    if (!had_whole && !had_frac) return std::nullopt;
    std::size_t us = i;
    while (i < s.size() && s[i] != '.' && (s[i] < '0' || s[i] > '9')) ++i;
    auto unit = s.substr(us, i - us);
    unsigned long long mult;
    if (unit == "ns") mult = 1;
    else if (unit == "us" || unit == "\xc2\xb5s" || unit == "\xce\xbcs") mult = 1000;
    else if (unit == "ms") mult = 1000000;
    else if (unit == "s") mult = 1000000000ULL;
    else if (unit == "m") mult = 60ULL * 1000000000ULL;
    else if (unit == "h") mult = 3600ULL * 1000000000ULL;
    else return std::nullopt;
    total += whole * mult + frac * mult / scale;
    if (total > (static_cast<u128>(1) << 63)) return std::nullopt;
  }
  if (total == (static_cast<u128>(1) << 63) && !neg) return std::nullopt;
  auto u = static_cast<std::uint64_t>(total);
  // time.Duration.String
  std::string out;
  if (u == 0) return std::string("0s");
  auto frac_digits = [](std::uint64_t v, int prec, std::string& o) {  // v / 10^prec with trimmed fraction
    std::string f;
    bool print = false;
    for (int k = 0; k < prec; ++k) {
      int digit = static_cast<int>(v % 10);
      print = print || digit != 0;
      if (print) f.insert(f.begin(), static_cast<char>('0' + digit));
      v /= 10;
    }
    if (print) f.insert(f.begin(), '.');
    o = f;
    return v;
  };
  std::string f;
  if (u < 1000000000ULL) {
    int prec;
    const char* unit;
    if (u < 1000) {
      out = std::to_string(u) + "ns";
      return (neg ? "-" : "") + out;
    } else if (u < 1000000) {
      prec = 3;
      unit = "\xc2\xb5s";
    } else {
      prec = 6;
      unit = "ms";
    }
    auto w = frac_digits(u, prec, f);
    out = std::to_string(w) + f + unit;
  } else {
    auto secs = frac_digits(u, 9, f);
    out = std::to_string(secs % 60) + f + "s";
    secs /= 60;
    if (secs > 0) {
      out = std::to_string(secs % 60) + "m" + out;
      secs /= 60;
      if (secs > 0) out = std::to_string(secs) + "h" + out;
    }
  }
  return (neg ? "-" : "") + out;
}

}  // namespace chainsd::provenance
