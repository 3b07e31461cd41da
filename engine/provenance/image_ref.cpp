#include "provenance/image_ref.hpp"

#include <algorithm>
#include <vector>

namespace chainsd::provenance {
namespace {

constexpr std::string_view default_registry = "index.docker.io";
constexpr std::string_view repository_chars = "abcdefghijklmnopqrstuvwxyz0123456789_-./";
constexpr std::string_view tag_chars = "abcdefghijklmnopqrstuvwxyz0123456789_-.ABCDEFGHIJKLMNOPQRSTUVWXYZ";

void set(std::string* error, std::string text) {
  if (error) *error = std::move(text);
}

bool only(std::string_view s, std::string_view allowed) {
  return std::all_of(s.begin(), s.end(), [&](char c) { return allowed.find(c) != std::string_view::npos; });
}

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Go's url.Parse("//" + name).Host == name, approximated: an authority with an optional numeric port.
bool valid_registry(std::string_view r) {
  if (r.empty()) return true;
  for (char c : r) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '/' || c == '?' || c == '#' || c == '@' || c == '\\' || c == '%') return false;
  }
  std::string_view host = r;
  if (r.front() == '[') {
    auto close = r.find(']');
    if (close == std::string_view::npos) return false;
    auto rest = r.substr(close + 1);
    if (!rest.empty() && (rest[0] != ':' || !std::all_of(rest.begin() + 1, rest.end(), ::isdigit))) return false;
    return true;
  }
  auto colon = host.rfind(':');
  if (colon != std::string_view::npos) {
    auto port = host.substr(colon + 1);
    if (!std::all_of(port.begin(), port.end(), ::isdigit)) return false;
    if (host.substr(0, colon).find(':') != std::string_view::npos) return false;
  }
  return true;
}

std::size_t rune_count(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xc0) != 0x80; }));
}

}  // namespace

std::optional<std::string> normalize_repository(std::string_view name, std::string* error) {
  if (name.empty()) {
    set(error, "a repository name must be specified");
    return std::nullopt;
  }
  std::string_view registry;
  std::string_view repo = name;
  auto slash = name.find('/');
  if (slash != std::string_view::npos) {
    auto maybe = name.substr(0, slash);
    if (maybe == "localhost" || maybe.find_first_of(".:") != std::string_view::npos) {
      registry = maybe;
      repo = name.substr(slash + 1);
    }
  }
  auto n = rune_count(repo);
  if (n < 1 || n > 255) {
    set(error, "repository must be between 1 and 255 characters in length: " + std::string(repo));
    return std::nullopt;
  }
  if (!only(repo, repository_chars)) {
    set(error, "repository can only contain the characters `" + std::string(repository_chars) +
                   "`: " + std::string(repo));
    return std::nullopt;
  }
  if (!valid_registry(registry)) {
    set(error, "registries must be valid RFC 3986 URI authorities: " + std::string(registry));
    return std::nullopt;
  }
  std::string reg = registry.empty() || registry == "docker.io" ? std::string(default_registry) : std::string(registry);
  std::string path(repo);
  if (reg == default_registry && path.find('/') == std::string::npos) path = "library/" + path;
  return reg + "/" + path;
}

std::optional<digest_ref> parse_digest_ref(std::string_view text, std::string* error) {
  auto at = text.find('@');
  if (at == std::string_view::npos || text.find('@', at + 1) != std::string_view::npos) {
    set(error, "a digest must contain exactly one '@' separator (e.g. registry/repository@digest) saw: " +
                   std::string(text));
    return std::nullopt;
  }
  auto base = text.substr(0, at);
  auto dig = text.substr(at + 1);
  if (dig.substr(0, 7) != "sha256:") {
    set(error, "unsupported digest algorithm: " + std::string(dig));
    return std::nullopt;
  }
  auto hex = dig.substr(7);
  if (hex.size() != 64) {
    set(error, "invalid checksum digest length: " + std::string(dig));
    return std::nullopt;
  }
  if (!is_lower_hex(hex)) {
    set(error, "invalid checksum digest format: " + std::string(dig));
    return std::nullopt;
  }
  // name.NewTag: a trailing ":tag" (not containing '/') is split off; when it parses, only its
  // repository is kept.
  std::string base_str(base);
  auto colon = base.rfind(':');
  if (colon != std::string_view::npos && base.substr(colon + 1).find('/') == std::string_view::npos) {
    auto tag = base.substr(colon + 1);
    if (!tag.empty() && tag.size() <= 128 && only(tag, tag_chars)) {
      if (auto repo = normalize_repository(base.substr(0, colon))) base_str = *repo;
    }
  }
  auto repo = normalize_repository(base_str, error);
  if (!repo) return std::nullopt;
  return digest_ref{*repo, std::string(dig)};
}

std::optional<parsed_digest> parse_digest(std::string_view text, std::string* error) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos) {
    set(error, "digest string " + std::string(text) + ", not in the format of <algorithm>:<digest>");
    return std::nullopt;
  }
  auto trim = [](std::string_view s) {
    // strings.TrimSpace (ASCII whitespace is all that matters here)
    while (!s.empty() && std::string_view(" \t\n\r\v\f").find(s.front()) != std::string_view::npos) s.remove_prefix(1);
    while (!s.empty() && std::string_view(" \t\n\r\v\f").find(s.back()) != std::string_view::npos) s.remove_suffix(1);
    return s;
  };
  std::string alg(trim(text.substr(0, colon)));
  std::transform(alg.begin(), alg.end(), alg.begin(), [](char c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; });
  std::string hex(trim(text.substr(colon + 1)));
  std::size_t want = alg == "sha256" ? 64 : alg == "sha384" ? 96 : alg == "sha512" ? 128 : alg == "sha1" ? 40 : 0;
  if (want == 0) {
    set(error, "unsupported digest algorithm: " + std::string(text));
    return std::nullopt;
  }
  if (hex.size() != want || !is_lower_hex(hex)) {
    set(error, "invalid " + alg + " digest \"" + hex + "\": want " + std::to_string(want) + " lower-case hex characters");
    return std::nullopt;
  }
  return parsed_digest{alg, hex};
}

}  // namespace chainsd::provenance
