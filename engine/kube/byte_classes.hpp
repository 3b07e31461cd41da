#pragma once
// The bytes of a block of JSON text that a structural scan stops at, as bitmasks (bit i = byte i of
// the block): quotes, backslashes, brackets ({ [ } ]) and commas. A scanner classifies 64 bytes at
// once and then visits only the bits its state cares about, instead of testing every byte.
// SSE2 (part of the x86-64 baseline, no -march flag needed); a portable loop elsewhere.

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace chainsd::kube {

struct byte_classes {
  static constexpr std::size_t block = 64;

  std::uint64_t quote = 0;
  std::uint64_t backslash = 0;
  std::uint64_t bracket = 0;
  std::uint64_t comma = 0;

  // The first n (<= block) bytes at p; bits from n on are 0. Reads only [p, p + n).
  static byte_classes of(const char* p, std::size_t n) {
    if (n == block) return of_block(p);
    char padded[block] = {};  // NUL is none of the classes
    std::memcpy(padded, p, n);
    return of_block(padded);
  }

 private:
#if defined(__SSE2__)
  static std::uint64_t bits(__m128i eq) { return static_cast<std::uint16_t>(_mm_movemask_epi8(eq)); }

  static byte_classes of_block(const char* p) {
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), cm = _mm_set1_epi8(',');
    // '[' and ']' differ from '{' and '}' only in bit 0x20: with it set, two compares find all four.
    const __m128i case_bit = _mm_set1_epi8(0x20), lb = _mm_set1_epi8('{'), rb = _mm_set1_epi8('}');
    byte_classes c;
    for (unsigned k = 0; k < block / 16; ++k) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
      const unsigned shift = 16 * k;
      c.quote |= bits(_mm_cmpeq_epi8(v, q)) << shift;
      c.backslash |= bits(_mm_cmpeq_epi8(v, bs)) << shift;
      c.comma |= bits(_mm_cmpeq_epi8(v, cm)) << shift;
      const __m128i folded = _mm_or_si128(v, case_bit);
      c.bracket |= bits(_mm_or_si128(_mm_cmpeq_epi8(folded, lb), _mm_cmpeq_epi8(folded, rb))) << shift;
    }
    return c;
  }
#else
  static byte_classes of_block(const char* p) {
    byte_classes c;
    for (unsigned i = 0; i < block; ++i) {
      const std::uint64_t bit = std::uint64_t{1} << i;
      switch (p[i]) {
        case '"': c.quote |= bit; break;
        case '\\': c.backslash |= bit; break;
        case ',': c.comma |= bit; break;
        case '{': case '}': case '[': case ']': c.bracket |= bit; break;
        default: break;
      }
    }
    return c;
  }
#endif
};

}  // namespace chainsd::kube
