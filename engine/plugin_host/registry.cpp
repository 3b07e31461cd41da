#include "plugin_host/registry.hpp"

#include "plugin_host/guard.hpp"

#include <algorithm>
#include <exception>

namespace chainsd::plugin_host {

registry::registry(scan_result scanned)
    : accepted_(std::move(scanned.accepted)), rejected_(std::move(scanned.rejected)) {}

const plugin_info* registry::find(std::string_view kind, std::string_view name) const {
  for (const auto& p : accepted_)
    if (p.kind == kind && p.name == name) return &p;
  return nullptr;
}

std::vector<std::string> registry::names(std::string_view kind) const {
  std::vector<std::string> out;
  for (const auto& p : accepted_)
    if (p.kind == kind) out.push_back(p.name);
  std::sort(out.begin(), out.end());
  return out;
}

std::string join_names(const std::vector<std::string>& names) {
  if (names.empty()) return "none";
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

namespace {
// Factories are plugin code too: an exception becomes a `permanent` error naming the plugin, and
// the instance handed out is guarded (guard.hpp) so that every later call is as well.
template <class T, class Factory>
plugin::result<std::unique_ptr<T>> call_factory(const plugin_info& p, Factory* f, plugin::host& h,
                                                const plugin::config_map& cfg) {
  try {
    auto r = f(h, cfg);
    if (!r) return r;
    if (!*r) return plugin::fail(plugin::errc::permanent, describe(p) + " returned no instance");
    return guard(std::move(*r), p);
  } catch (const std::exception& e) {
    return plugin::fail(plugin::errc::permanent, describe(p) + " threw: " + e.what());
  } catch (...) {
    return plugin::fail(plugin::errc::permanent, describe(p) + " threw a non-standard exception");
  }
}
}  // namespace

plugin::result<std::unique_ptr<plugin::signer>> registry::make_signer(std::string_view name, plugin::host& h,
                                                                      const plugin::config_map& cfg) const {
  const auto* p = find("signer", name);
  if (!p)
    return plugin::fail(plugin::errc::not_found, "no signer plugin \"" + std::string(name) +
                                                     "\" is installed (installed: " + join_names(names("signer")) + ")");
  return call_factory<plugin::signer>(*p, p->make_signer, h, cfg);
}

plugin::result<std::unique_ptr<plugin::storage>> registry::make_storage(std::string_view name, plugin::host& h,
                                                                        const plugin::config_map& cfg) const {
  const auto* p = find("storage", name);
  if (!p)
    return plugin::fail(plugin::errc::not_found, "no storage plugin \"" + std::string(name) +
                                                     "\" is installed (installed: " + join_names(names("storage")) + ")");
  return call_factory<plugin::storage>(*p, p->make_storage, h, cfg);
}

}  // namespace chainsd::plugin_host
