#include "config/unselected_storage.hpp"

#include <array>

namespace chainsd::config {
namespace {

struct backend {
  std::string_view key_prefix;  // storage keys of the backend start with it
  std::string_view names[2];    // artifacts.*.storage values that select it
};

// storage.oci.* has keys of its own that tune image storage (encoding, credentials): only the
// repository says "store here".
constexpr std::array<backend, 6> backends{{
    {"storage.pubsub.", {"kafka", "pubsub"}},
    {"storage.oci.repository", {"oci", ""}},
    {"storage.gcs.", {"gcs", ""}},
    {"storage.docdb.", {"docdb", ""}},
    {"storage.grafeas.", {"grafeas", ""}},
    {"storage.archivista.", {"archivista", ""}},
}};

bool selects(const artifact_config& a, const backend& b) {
  if (!a.enabled()) return false;
  for (auto n : b.names)
    if (!n.empty() && a.storage.count(std::string(n))) return true;
  return false;
}

// "tekton,kafka": the taskrun storage in force with the backend added.
std::string with_added(const artifact_config& a, std::string_view name) {
  std::string out;
  for (const auto& s : a.storage)
    if (!s.empty()) out += s + ",";
  return out + std::string(name);
}

}  // namespace

void warn_unselected_storage(const data_map& data, const config& cfg, parse_result& result) {
  for (const auto& b : backends) {
    std::vector<std::string> set_keys;
    for (auto it = data.lower_bound(std::string(b.key_prefix));
         it != data.end() && it->first.compare(0, b.key_prefix.size(), b.key_prefix) == 0; ++it)
      if (!it->second.empty()) set_keys.push_back(it->first);
    if (set_keys.empty()) continue;
    if (selects(cfg.taskrun, b) || selects(cfg.pipelinerun, b) || selects(cfg.oci, b)) continue;
    // The name users know from upstream's docs (pub/sub with provider kafka is "kafka").
    const std::string_view name = b.names[0];
    std::string keys;
    for (std::size_t i = 0; i < set_keys.size() && i < 3; ++i) keys += (i ? ", " : "") + set_keys[i];
    if (set_keys.size() > 3) keys += " (and " + std::to_string(set_keys.size() - 3) + " more)";
    const bool image = name == "oci";
    const artifact_config& example = image ? cfg.oci : cfg.taskrun;
    const std::string example_key = image ? "artifacts.oci.storage" : "artifacts.taskrun.storage";
    result.warnings.push_back(keys + (set_keys.size() == 1 ? " is" : " are") + " set but no artifacts.*.storage selects " +
                              std::string(name) + ", so nothing is stored there; add " + std::string(name) +
                              " to the storage of the artifacts to send (e.g. " + example_key + ": " +
                              with_added(example, name) + ")");
  }
}

}  // namespace chainsd::config
