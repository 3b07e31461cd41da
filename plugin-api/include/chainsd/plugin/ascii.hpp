#pragma once
// ASCII case folding for protocol tokens (HTTP header names, auth schemes, registry hosts):
// locale-independent, bytes >= 0x80 unchanged. Not for human text.

#include <algorithm>
#include <string>
#include <string_view>

namespace chainsd::plugin {

inline char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string to_lower_ascii(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = ascii_lower(c);
  return out;
}

// Case-insensitive equality (ASCII), e.g. HTTP header names.
inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

}  // namespace chainsd::plugin
