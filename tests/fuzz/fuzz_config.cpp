// Fuzzes chains-config parsing: input lines are KEY=VALUE pairs. Checks that a result is either a
// config or errors, never both, and that suggestions are known keys.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config.hpp"

using namespace chainsd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  config::data_map map;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    auto line = text.substr(start, end - start);
    auto eq = line.find('=');
    if (eq != std::string::npos) map[line.substr(0, eq)] = line.substr(eq + 1);
    else map[line] = "";
    start = end + 1;
  }
  auto r = config::parse(map);
  if (r.ok() != r.errors.empty()) std::abort();
  for (const auto& [key, value] : map) {
    auto s = config::suggest_key(key);
    const auto& known = config::known_keys();
    if (!s.empty() && !std::binary_search(known.begin(), known.end(), std::string_view(s))) std::abort();
  }
  return 0;
}
