#pragma once
// Encodings plugins and the engine share, so every component writes byte-identical values.

#include <array>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace chainsd::plugin {

namespace detail {
inline constexpr char base64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
// Two output characters per 12 input bits: half the table lookups of the textbook loop.
inline constexpr auto base64_pairs = [] {
  std::array<char, 8192> t{};
  for (unsigned v = 0; v < 4096; ++v) {
    t[2 * v] = base64_alphabet[v >> 6];
    t[2 * v + 1] = base64_alphabet[v & 63];
  }
  return t;
}();
}  // namespace detail

// Standard padded base64 (RFC 4648 §4), as Go's base64.StdEncoding.
inline std::string base64_encode(std::string_view in) {
  const char* tbl = detail::base64_alphabet;
  const char* pairs = detail::base64_pairs.data();
  // Sized once and written through a pointer: payloads are 5-50 KB and encoded on every run.
  std::string out((in.size() + 2) / 3 * 4, '\0');
  char* o = out.data();
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3, o += 4) {
    unsigned v = unsigned{p[i]} << 16 | unsigned{p[i + 1]} << 8 | p[i + 2];
    std::memcpy(o, pairs + 2 * (v >> 12), 2);
    std::memcpy(o + 2, pairs + 2 * (v & 4095), 2);
  }
  if (in.size() - i == 1) {
    unsigned v = unsigned{p[i]} << 16;
    o[0] = tbl[v >> 18];
    o[1] = tbl[(v >> 12) & 63];
    o[2] = '=';
    o[3] = '=';
  } else if (in.size() - i == 2) {
    unsigned v = unsigned{p[i]} << 16 | unsigned{p[i + 1]} << 8;
    o[0] = tbl[v >> 18];
    o[1] = tbl[(v >> 12) & 63];
    o[2] = tbl[(v >> 6) & 63];
    o[3] = '=';
  }
  return out;
}

// Standard base64; padding optional, ASCII whitespace ignored. Throws std::invalid_argument.
inline std::string base64_decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  bool padding = false;
  for (char c : in) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    int v = val(c);
    if (v < 0 || padding) throw std::invalid_argument("invalid base64");
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (bits >= 6) throw std::invalid_argument("invalid base64 length");
  return out;
}

}  // namespace chainsd::plugin
