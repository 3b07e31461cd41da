#pragma once
// Who could change a plugin before chainsd loads it. A plugin file, the plugin directory and
// every directory above it must be owned by root or by chainsd's own (effective) uid, and must not
// be writable by group or others; a directory above the plugin directory may be, with the sticky
// bit (like /tmp: others cannot rename or delete what they do not own there) or on a read-only
// mount (a Kubernetes emptyDir's root is 0777, and the Deployment mounts it read-only).

#include <sys/stat.h>

#include <filesystem>
#include <string>

namespace chainsd::plugin_host {

enum class trust_role { plugin_file, plugin_dir, parent_dir };

// "" when trusted, else why not (without the path), e.g. "owned by uid 1000 (chainsd runs as
// uid 0: root or that uid only)" or "writable by group or others (mode 0666); ...".
std::string untrusted_because(const struct stat& st, trust_role role);

// The plugin directory and each directory above it (symbolic links resolved). "" when trusted,
// else the reason naming the directory.
std::string untrusted_dir_chain(const std::filesystem::path& dir);

}  // namespace chainsd::plugin_host
