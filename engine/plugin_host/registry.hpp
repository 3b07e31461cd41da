#pragma once
// The plugins chainsd may use, keyed by (kind, name) as users write them in chains-config.
// Instantiation calls the plugin's factory; an exception escaping a plugin becomes a
// `permanent` error naming the plugin and its version.

#include "plugin_host/loader.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace chainsd::plugin_host {

class registry {
 public:
  registry() = default;
  explicit registry(scan_result scanned);

  const plugin_info* find(std::string_view kind, std::string_view name) const;
  // Installed names of one kind, sorted ("oci, tekton").
  std::vector<std::string> names(std::string_view kind) const;
  const std::vector<rejected_plugin>& rejected() const { return rejected_; }
  const std::vector<plugin_info>& accepted() const { return accepted_; }

  // Builds an instance. not_found (with the list of installed plugins of that kind) when no
  // plugin has that name.
  plugin::result<std::unique_ptr<plugin::signer>> make_signer(std::string_view name, plugin::host& h,
                                                               const plugin::config_map& cfg) const;
  plugin::result<std::unique_ptr<plugin::storage>> make_storage(std::string_view name, plugin::host& h,
                                                                const plugin::config_map& cfg) const;

 private:
  std::vector<plugin_info> accepted_;
  std::vector<rejected_plugin> rejected_;
};

// "x509, kms" style list for error messages; "none" when empty.
std::string join_names(const std::vector<std::string>& names);

}  // namespace chainsd::plugin_host
