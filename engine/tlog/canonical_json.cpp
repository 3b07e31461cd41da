#include "tlog/canonical_json.hpp"

#include "runtime/json_escape.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace chainsd::tlog {
namespace {

// JCS orders keys by UTF-16 code units, not by UTF-8 bytes: the two differ for characters above
// U+FFFF versus U+E000..U+FFFF, so convert rather than compare bytes.
std::u16string utf16(std::string_view s) {
  std::u16string out;
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    std::uint32_t cp = c;
    std::size_t n = 1;
    if (c >= 0xf0) { cp = c & 0x07u; n = 4; }
    else if (c >= 0xe0) { cp = c & 0x0fu; n = 3; }
    else if (c >= 0xc0) { cp = c & 0x1fu; n = 2; }
    for (std::size_t k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3fu);
    i += n;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out += static_cast<char16_t>(0xd800 + (cp >> 10));
      out += static_cast<char16_t>(0xdc00 + (cp & 0x3ff));
    } else {
      out += static_cast<char16_t>(cp);
    }
  }
  return out;
}

void put_string(std::string& out, std::string_view s) {
  runtime::append_json_quoted(out, s, runtime::json_escape::jcs);
}

// ECMAScript Number::toString for a finite double: shortest round-trip digits, then placed as
// fixed notation for exponents in [-6, 21) and as d.ddde±x otherwise.
void put_double(std::string& out, double d) {
  if (!std::isfinite(d)) throw std::invalid_argument("canonical json: NaN or infinity");
  if (d == 0) {
    out += '0';
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  auto e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  int exp10 = std::stoi(sci.substr(e + 1));
  int k = static_cast<int>(digits.size());
  int n = exp10 + 1;  // position of the decimal point relative to the digits
  if (neg) out += '-';
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<std::size_t>(n));
    out += '.';
    out += digits.substr(static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out += digits.substr(1);
    }
    out += 'e';
    out += n - 1 >= 0 ? '+' : '-';
    out += std::to_string(std::abs(n - 1));
  }
}

void put(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: out += "null"; break;
    case boost::json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
    case boost::json::kind::int64: {
      auto i = v.get_int64();
      // Beyond 2^53 a JavaScript number would not hold the value; Rekor's Go canonicalizer goes
      // through float64 too, so such a value could never verify.
      if (i > (std::int64_t{1} << 53) || i < -(std::int64_t{1} << 53))
        throw std::invalid_argument("canonical json: integer beyond 2^53");
      out += std::to_string(i);
      break;
    }
    case boost::json::kind::uint64: {
      auto u = v.get_uint64();
      if (u > (std::uint64_t{1} << 53)) throw std::invalid_argument("canonical json: integer beyond 2^53");
      out += std::to_string(u);
      break;
    }
    case boost::json::kind::double_: put_double(out, v.get_double()); break;
    case boost::json::kind::string: put_string(out, v.get_string()); break;
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        put(out, e);
      }
      out += ']';
      break;
    }
    case boost::json::kind::object: {
      const auto& o = v.get_object();
      std::vector<std::pair<std::u16string, const boost::json::key_value_pair*>> members;
      members.reserve(o.size());
      for (const auto& kv : o) members.emplace_back(utf16(kv.key()), &kv);
      std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      out += '{';
      bool first = true;
      for (const auto& [k, kv] : members) {
        if (!first) out += ',';
        first = false;
        put_string(out, kv->key());
        out += ':';
        put(out, kv->value());
      }
      out += '}';
      break;
    }
  }
}

}  // namespace

std::string canonical_json(const boost::json::value& v) {
  std::string out;
  put(out, v);
  return out;
}

std::string canonicalize(std::string_view json) { return canonical_json(boost::json::parse(json)); }

}  // namespace chainsd::tlog
