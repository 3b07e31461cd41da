// Arbitrary bytes → list_splitter, fed in pieces whose sizes come from the input too. Only
// json_error may escape; every item handed out lies within the input and is under the limit.
#include "kube/list_splitter.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t piece = 1 + data[0] % 64;
  const std::size_t max_item = 1 + data[1] * 4u;
  std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::size_t handed = 0;
  try {
    chainsd::kube::list_splitter s(
        max_item,
        [&](const chainsd::kube::object_meta&, std::string_view raw) {
          if (raw.size() > max_item || raw.size() > body.size()) std::abort();
          handed += raw.size();
        },
        [&](const chainsd::kube::object_meta&, std::size_t bytes) {
          if (bytes <= max_item || bytes > body.size()) std::abort();
        });
    for (std::size_t i = 0; i < body.size(); i += piece) s.feed(body.substr(i, piece));
    s.finish();
    if (handed > body.size() || s.bytes_seen() != body.size()) std::abort();
  } catch (const chainsd::kube::json_error&) {
  }
  return 0;
}
