#pragma once
// Go's strconv.ParseBool, as upstream Tekton Chains and the engine's config layer read boolean
// chains-config keys: "1", "t", "T", "TRUE", "true", "True" are true; "0", "f", "F", "FALSE",
// "false", "False" are false; anything else (including "", " true", "yes") is not a boolean.

#include <optional>
#include <string_view>

namespace chainsd::plugin {

inline std::optional<bool> parse_go_bool(std::string_view s) {
  for (std::string_view t : {"1", "t", "T", "TRUE", "true", "True"})
    if (s == t) return true;
  for (std::string_view f : {"0", "f", "F", "FALSE", "false", "False"})
    if (s == f) return false;
  return std::nullopt;
}

}  // namespace chainsd::plugin
