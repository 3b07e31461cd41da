#include "plugin_host/file_access.hpp"

#include "runtime/bounded_file.hpp"

namespace chainsd::plugin_host {

plugin::result<std::string> read_plugin_file(std::string_view path, std::size_t max_bytes, std::string_view config_key) {
  try {
    return runtime::read_bounded_file(std::string(path), max_bytes, std::string(config_key));
  } catch (const runtime::file_error& e) {
    return plugin::fail(e.which() == runtime::file_error::kind::missing ? plugin::errc::not_found
                                                                         : plugin::errc::bad_config,
                        e.what());
  }
}

plugin::result<std::string> read_secret_file(const std::string& dir, std::string_view file_name) {
  if (file_name.find('/') != std::string_view::npos || file_name == ".." || file_name == "." || file_name.empty())
    return plugin::fail(plugin::errc::permanent, "secret name must be a plain file name: " + std::string(file_name));
  std::string path = dir;
  if (!path.empty() && path.back() != '/') path += '/';
  path += file_name;
  return read_plugin_file(path, secret_file_limit, "signing-secrets");
}

}  // namespace chainsd::plugin_host
