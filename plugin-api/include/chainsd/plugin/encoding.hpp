#pragma once
// Encodings plugins and the engine share, so every component writes byte-identical values.

#include <array>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CHAINSD_PLUGIN_BASE64_AVX2 1
#include <immintrin.h>
#endif

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

#ifdef CHAINSD_PLUGIN_BASE64_AVX2
// 24 bytes to 32 characters per step with AVX2 (Wojciech Muła's method: move each 6-bit group
// into its own byte with two multiplies, then add the offset of its alphabet range). Returns how
// many input bytes it encoded (a multiple of 3); the caller encodes the rest. ~3x the scalar loop.
__attribute__((target("avx2"))) inline std::size_t base64_encode_avx2(const unsigned char* p, std::size_t n,
                                                                      char* o) {
  const __m256i shuffle = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10,  //
                                           1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
  // Offsets from a 6-bit value to its character: A-Z, a-z, 0-9 (ten entries), '+', '/'.
  const __m256i offsets = _mm256_setr_epi8(65, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 0, 0,  //
                                           65, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 0, 0);
  std::size_t i = 0;
  for (; i + 28 <= n; i += 24, o += 32) {  // the second 16-byte load reads up to p[i + 27]
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 12));
    __m256i in = _mm256_shuffle_epi8(_mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1), shuffle);
    const __m256i t0 = _mm256_mulhi_epu16(_mm256_and_si256(in, _mm256_set1_epi32(0x0fc0fc00)),
                                          _mm256_set1_epi32(0x04000040));
    const __m256i t1 = _mm256_mullo_epi16(_mm256_and_si256(in, _mm256_set1_epi32(0x003f03f0)),
                                          _mm256_set1_epi32(0x01000010));
    const __m256i sextets = _mm256_or_si256(t0, t1);
    __m256i index = _mm256_subs_epu8(sextets, _mm256_set1_epi8(51));  // 52..63 -> 1..12, else 0
    index = _mm256_sub_epi8(index, _mm256_cmpgt_epi8(sextets, _mm256_set1_epi8(25)));  // +1 from 26 up
    const __m256i chars = _mm256_add_epi8(sextets, _mm256_shuffle_epi8(offsets, index));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o), chars);
  }
  return i;
}

inline bool base64_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif
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
#ifdef CHAINSD_PLUGIN_BASE64_AVX2
  if (in.size() >= 64 && detail::base64_has_avx2()) {
    i = detail::base64_encode_avx2(p, in.size(), o);
    o += i / 3 * 4;
  }
#endif
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
  // -1: invalid, -2: whitespace, -3: '='.
  static constexpr auto values = [] {
    std::array<signed char, 256> t{};
    for (auto& v : t) v = -1;
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(detail::base64_alphabet[i])] = static_cast<signed char>(i);
    t[' '] = t['\n'] = t['\r'] = t['\t'] = -2;
    t['='] = -3;
    return t;
  }();
  std::string out(in.size() / 4 * 3 + 3, '\0');
  char* o = out.data();
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  unsigned acc = 0;
  int bits = 0;
  bool padding = false;
  std::size_t i = 0;
  while (i < n) {
    // Whole groups of four alphabet characters (the bulk of any payload), three bytes at a time.
    if (bits == 0 && !padding) {
      for (; i + 4 <= n; i += 4) {
        const int a = values[p[i]], b = values[p[i + 1]], c = values[p[i + 2]], d = values[p[i + 3]];
        if ((a | b | c | d) < 0) break;
        const unsigned v = unsigned(a) << 18 | unsigned(b) << 12 | unsigned(c) << 6 | unsigned(d);
        o[0] = static_cast<char>(v >> 16);
        o[1] = static_cast<char>(v >> 8);
        o[2] = static_cast<char>(v);
        o += 3;
      }
      if (i >= n) break;
    }
    const int v = values[p[i++]];
    if (v == -2) continue;
    if (v == -3) {
      padding = true;
      continue;
    }
    if (v < 0 || padding) throw std::invalid_argument("invalid base64");
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *o++ = static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (bits >= 6) throw std::invalid_argument("invalid base64 length");
  out.resize(static_cast<std::size_t>(o - out.data()));
  return out;
}

}  // namespace chainsd::plugin
