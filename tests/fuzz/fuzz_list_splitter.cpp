// Arbitrary bytes → list_splitter, fed in pieces whose sizes come from the input too. Only
// json_error may escape; every item handed out lies within the input and is under the limit; and
// the body fed whole gives the same items, oversize reports, metadata and error as fed in pieces
// (the block scan must not depend on where the pieces end).
#include "kube/list_splitter.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

std::string split(std::string_view body, std::size_t piece, std::size_t max_item) {
  std::string seen;  // everything handed out, in order
  std::size_t handed = 0;
  try {
    chainsd::kube::list_splitter s(
        max_item,
        [&](const chainsd::kube::object_meta& m, std::string_view raw) {
          if (raw.size() > max_item || raw.size() > body.size()) std::abort();
          handed += raw.size();
          seen.append("item ").append(m.namespace_name).append("/").append(m.name).append("/").append(m.uid);
          seen.append("/").append(m.resource_version).append(" ").append(raw).append("\n");
        },
        [&](const chainsd::kube::object_meta& m, std::size_t bytes) {
          if (bytes <= max_item || bytes > body.size()) std::abort();
          seen.append("oversize ").append(m.namespace_name).append("/").append(m.name);
          seen.append(" ").append(std::to_string(bytes)).append("\n");
        });
    for (std::size_t i = 0; i < body.size(); i += piece) s.feed(body.substr(i, piece));
    const auto lm = s.finish();
    if (handed > body.size() || s.bytes_seen() != body.size()) std::abort();
    seen.append("list ").append(lm.resource_version).append(" ").append(lm.continue_token).append(" ");
    seen.append(std::to_string(lm.items));
  } catch (const chainsd::kube::json_error& e) {
    seen.append("error ").append(e.what());
  }
  return seen;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t piece = 1 + data[0] % 64;
  const std::size_t max_item = 1 + data[1] * 4u;
  std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);
  if (split(body, piece, max_item) != split(body, body.size() + 1, max_item)) std::abort();
  return 0;
}
