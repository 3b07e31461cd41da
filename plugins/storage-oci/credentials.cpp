#include "credentials.hpp"

#include <chainsd/plugin/ascii.hpp>
#include <chainsd/plugin/encoding.hpp>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace storage_oci {
namespace json = boost::json;

std::string normalise_registry_key(std::string_view key) {
  if (auto p = key.find("://"); p != std::string_view::npos) key = key.substr(p + 3);
  if (auto p = key.find('/'); p != std::string_view::npos) key = key.substr(0, p);
  std::string k = chainsd::plugin::to_lower_ascii(key);
  if (k == "docker.io" || k == "registry-1.docker.io") k = "index.docker.io";
  return k;
}

void credential_set::add_docker_config(std::string_view json_text) {
  json::value v;
  try {
    v = json::parse(json_text);
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("docker config is not JSON: ") + e.what());
  }
  if (!v.is_object()) throw std::invalid_argument("docker config is not a JSON object");
  const json::object* auths = &v.get_object();
  if (auto it = auths->find("auths"); it != auths->end()) {
    if (!it->value().is_object()) throw std::invalid_argument("docker config: \"auths\" is not an object");
    auths = &it->value().get_object();
  }
  for (const auto& [key, entry] : *auths) {
    if (!entry.is_object()) continue;
    const auto& e = entry.get_object();
    basic_credentials c;
    auto str = [&e](std::string_view k) {
      auto it = e.find(k);
      return it != e.end() && it->value().is_string() ? std::string(it->value().get_string()) : std::string();
    };
    if (auto auth = str("auth"); !auth.empty()) {
      std::string decoded;
      try {
        decoded = chainsd::plugin::base64_decode(auth);
      } catch (const std::exception&) {
        throw std::invalid_argument("docker config: \"auth\" of " + std::string(key) + " is not base64");
      }
      auto colon = decoded.find(':');
      if (colon == std::string::npos)
        throw std::invalid_argument("docker config: \"auth\" of " + std::string(key) + " is not user:password");
      c.username = decoded.substr(0, colon);
      c.password = decoded.substr(colon + 1);
    } else {
      c.username = str("username");
      c.password = str("password");
    }
    // identitytoken (OAuth2 refresh token) entries are not supported: skipped, see README.
    if (c.username.empty() && c.password.empty()) continue;
    entries_.try_emplace(normalise_registry_key(key), std::move(c));
  }
}

std::optional<basic_credentials> credential_set::find(std::string_view registry) const {
  auto it = entries_.find(normalise_registry_key(registry));
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void credential_set::merge(const credential_set& lower_priority) {
  for (const auto& [k, v] : lower_priority.entries_) entries_.try_emplace(k, v);
}

}  // namespace storage_oci
