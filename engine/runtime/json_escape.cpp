#include "runtime/json_escape.hpp"

#include <cstdint>
#include <cstring>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace chainsd::runtime {
namespace {

constexpr char hex[] = "0123456789abcdef";

void append_u00(std::string& out, unsigned c) {
  out += "\\u00";
  out += hex[(c >> 4) & 0xf];
  out += hex[c & 0xf];
}

// Length of the valid UTF-8 sequence at s[i], or 0 when invalid (overlong forms, surrogates and
// code points above U+10FFFF are invalid, as Go's utf8.DecodeRuneInString has it).
std::size_t utf8_len(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  std::uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
  for (std::size_t k = 1; k < n; ++k) {
    auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3f);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

struct rules {
  bool short_bf;  // \b and \f in their short forms
  bool utf8;      // bytes >= 0x80 are checked as UTF-8 (invalid ones replaced)
  bool html;      // < > & U+2028 U+2029 escaped, invalid UTF-8 as the escape \ufffd
};

// Length of the prefix of s[i..] that needs no escape: 16 bytes at a time where SSE2 is there
// (every x86-64), then 8 at a time (SWAR). Annotation values and digests are mostly base64.
template <rules R>
std::size_t plain_prefix(std::string_view s, std::size_t i) {
  const std::size_t start = i;
#ifdef __SSE2__
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x1f);
  while (i + 16 <= s.size()) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    __m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                               _mm_cmpeq_epi8(_mm_min_epu8(v, space), v));  // v <= 0x1f, unsigned
    if constexpr (R.html)
      bad = _mm_or_si128(bad, _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('<')),
                                                         _mm_cmpeq_epi8(v, _mm_set1_epi8('>'))),
                                           _mm_cmpeq_epi8(v, _mm_set1_epi8('&'))));
    int mask = _mm_movemask_epi8(bad);
    if constexpr (R.utf8) mask |= _mm_movemask_epi8(v);  // any byte >= 0x80
    if (mask) break;
    i += 16;
  }
#endif
  constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  auto has_zero = [](std::uint64_t x) { return (x - ones) & ~x & highs; };
  while (i + 8 <= s.size()) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    // A byte < 0x20 has a zero after masking off 0xe0; '"' and '\\' become zero after XOR.
    std::uint64_t bad = has_zero(w & (0xe0 * ones)) | has_zero(w ^ ('"' * ones)) | has_zero(w ^ ('\\' * ones));
    if constexpr (R.utf8) bad |= w & highs;
    if constexpr (R.html)
      bad |= has_zero(w ^ ('<' * ones)) | has_zero(w ^ ('>' * ones)) | has_zero(w ^ ('&' * ones));
    if (bad) break;
    i += 8;
  }
  return i - start;
}

template <rules R>
void escape(std::string& out, std::string_view s) {
  std::size_t run = 0;  // start of the bytes not yet copied
  std::size_t i = 0;
  for (;;) {
    i += plain_prefix<R>(s, i);
    if (i >= s.size()) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if constexpr (!R.utf8) {
        ++i;
        continue;
      } else {
        const std::size_t n = utf8_len(s, i);
        const bool separator = R.html && n == 3 && c == 0xe2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                               (static_cast<unsigned char>(s[i + 2]) & 0xfe) == 0xa8;
        if (n != 0 && !separator) {
          i += n;
          continue;
        }
        out.append(s.data() + run, i - run);
        if (n == 0) {  // Go replaces each invalid byte with U+FFFD
          out += R.html ? "\\ufffd" : "\xef\xbf\xbd";
          ++i;
        } else {  // U+2028 / U+2029 break JavaScript string literals; Go escapes them
          out += static_cast<unsigned char>(s[i + 2]) == 0xa8 ? "\\u2028" : "\\u2029";
          i += 3;
        }
        run = i;
        continue;
      }
    }
    const bool html_char = R.html && (c == '<' || c == '>' || c == '&');
    if (c >= 0x20 && c != '"' && c != '\\' && !html_char) {
      ++i;
      continue;
    }
    out.append(s.data() + run, i - run);
    run = ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b':
        if (R.short_bf) out += "\\b";
        else append_u00(out, c);
        break;
      case '\f':
        if (R.short_bf) out += "\\f";
        else append_u00(out, c);
        break;
      default: append_u00(out, c);
    }
  }
  out.append(s.data() + run, s.size() - run);
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view s, json_escape mode) {
  switch (mode) {
    case json_escape::minimal: return escape<rules{false, false, false}>(out, s);
    case json_escape::jcs: return escape<rules{true, false, false}>(out, s);
    case json_escape::protojson: return escape<rules{true, true, false}>(out, s);
    case json_escape::go_json: return escape<rules{true, true, true}>(out, s);
  }
}

void append_json_quoted(std::string& out, std::string_view s, json_escape mode) {
  out += '"';
  append_json_escaped(out, s, mode);
  out += '"';
}

}  // namespace chainsd::runtime
