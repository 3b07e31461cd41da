#include "settings.hpp"

#include <chainsd/plugin/parse_bool.hpp>

#include <cstdlib>
#include <stdexcept>

namespace storage_oci {

namespace {

std::string config_value(const plugin::config_map& cfg, std::string_view key) {
  auto it = cfg.find(key);
  return it == cfg.end() ? std::string() : it->second;
}

bool is_loopback(std::string_view registry) {
  std::string_view host = registry;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(0, host.find(']') + 1);
  } else if (auto colon = host.find(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  return host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

// A mounted docker config: the key names a file; else $DOCKER_CONFIG/config.json when present.
// Read once through the host (a regular file of at most 1 MiB: the factory may block only
// briefly); a config change rebuilds the instance.
plugin::result<credential_set> docker_config_credentials(plugin::host& h, const plugin::config_map& cfg) {
  credential_set creds;
  std::string path = config_value(cfg, "storage.oci.docker-config");
  const bool from_key = !path.empty();
  if (!from_key)
    if (const char* d = std::getenv("DOCKER_CONFIG"); d && *d) path = std::string(d) + "/config.json";
  if (path.empty()) return creds;
  constexpr std::size_t docker_config_limit = 1024 * 1024;
  const char* key = from_key ? "storage.oci.docker-config" : "DOCKER_CONFIG";
  auto text = h.read_file(path, docker_config_limit, key);
  if (!text && (from_key || text.error().code != plugin::errc::not_found))
    return plugin::fail(plugin::errc::bad_config, text.error().message);
  if (text) {
    try {
      creds.add_docker_config(*text);
    } catch (const std::invalid_argument& e) {
      return plugin::fail(plugin::errc::bad_config, std::string(key) + ": " + path + ": " + e.what());
    }
  }
  return creds;
}

}  // namespace

bool settings::allow_http(std::string_view registry) const { return insecure || is_loopback(registry); }

plugin::result<settings> parse_settings(plugin::host& h, const plugin::config_map& cfg) {
  settings s;
  if (auto r = config_value(cfg, "storage.oci.repository"); !r.empty()) {
    try {
      s.repository = parse_reference(r, false);
    } catch (const std::invalid_argument& e) {
      return plugin::fail(plugin::errc::bad_config, std::string("storage.oci.repository: ") + e.what());
    }
    if (!s.repository->digest.empty())
      return plugin::fail(plugin::errc::bad_config, "storage.oci.repository: \"" + r + "\" must not have a digest");
  }
  // Go's strconv.ParseBool spellings, as the engine's config layer; anything else is false with a
  // warning there and here (upstream ignores it too).
  auto insecure_value = config_value(cfg, "storage.oci.repository.insecure");
  const auto insecure = plugin::parse_go_bool(insecure_value);
  s.insecure = insecure.value_or(false);
  if (!insecure && !insecure_value.empty())
    h.log(plugin::log_level::warn, "not a boolean; plain HTTP stays off except for loopback registries",
          {{"key", "storage.oci.repository.insecure"}, {"value", insecure_value}});
  auto format = config_value(cfg, "storage.oci.encoding-format");
  if (!format.empty() && format != "dsse" && format != "sigstore-bundle")
    return plugin::fail(plugin::errc::bad_config,
                        "storage.oci.encoding-format: \"" + format + "\" is not dsse or sigstore-bundle");
  s.bundles = format == "sigstore-bundle";
  if (auto c = config_value(cfg, "storage.oci.upload-chunk-size"); !c.empty()) {
    try {
      // stoul accepts "-1" (wrapping) and leading blanks: require plain digits.
      if (c.find_first_not_of("0123456789") != std::string::npos) throw std::invalid_argument(c);
      s.chunk_size = std::stoul(c);
      if (s.chunk_size == 0) throw std::invalid_argument(c);
    } catch (const std::exception&) {
      return plugin::fail(plugin::errc::bad_config,
                          "storage.oci.upload-chunk-size: \"" + c + "\" is not a positive number of bytes");
    }
  }
  auto creds = docker_config_credentials(h, cfg);
  if (!creds) return creds.error();
  s.file_creds = std::move(*creds);
  // A chains-config key the engine knows (engine/config) and forwards like every other.
  if (auto t = config_value(cfg, "storage.oci.credentials-cache-ms"); !t.empty()) {
    if (t.find_first_not_of("0123456789") != std::string::npos || t.size() > 9)
      return plugin::fail(plugin::errc::bad_config,
                          "storage.oci.credentials-cache-ms: \"" + t + "\" is not a number of milliseconds");
    s.credentials_ttl = std::chrono::milliseconds(std::stoll(t));
  }
  return s;
}

}  // namespace storage_oci
