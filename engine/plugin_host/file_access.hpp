#pragma once
// The host's file reads for plugins (read_secret, read_file) as classified results: the bounded
// reader of runtime/ with its errors mapped to plugin error classes (absent: not_found; not a
// regular file, too big, unreadable: bad_config). Test hosts use it too, so they refuse what
// the engine refuses.

#include <chainsd/plugin/errors.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace chainsd::plugin_host {

inline constexpr std::size_t secret_file_limit = 1024 * 1024;  // any one signing-secrets file

plugin::result<std::string> read_plugin_file(std::string_view path, std::size_t max_bytes, std::string_view config_key);

// A file of the signing-secrets directory `dir`; `file_name` must be a plain name.
plugin::result<std::string> read_secret_file(const std::string& dir, std::string_view file_name);

}  // namespace chainsd::plugin_host
