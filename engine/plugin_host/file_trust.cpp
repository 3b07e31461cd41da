#include "plugin_host/file_trust.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace fs = std::filesystem;

namespace chainsd::plugin_host {

std::string untrusted_because(const struct stat& st, trust_role role) {
  const uid_t self = ::geteuid();
  if (st.st_uid != 0 && st.st_uid != self)
    return "owned by uid " + std::to_string(st.st_uid) + " (chainsd runs as uid " + std::to_string(self) +
           ": root or that uid only)";
  const bool sticky_ok = role == trust_role::parent_dir && (st.st_mode & S_ISVTX);
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !sticky_ok) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return std::string("writable by group or others (mode ") + mode + ")" +
           (role == trust_role::parent_dir ? " without the sticky bit" : "") +
           "; anyone who can write it could run code in chainsd";
  }
  return {};
}

std::string untrusted_dir_chain(const fs::path& dir) {
  std::error_code ec;
  const fs::path real = fs::canonical(dir, ec);
  if (ec) return "plugin directory " + dir.string() + ": " + ec.message();
  bool first = true;
  for (fs::path p = real;; p = p.parent_path()) {
    struct stat st{};
    if (::stat(p.c_str(), &st) != 0)
      return (first ? "plugin directory " : "parent directory ") + p.string() + ": cannot stat: " + std::strerror(errno);
    if (auto why = untrusted_because(st, first ? trust_role::plugin_dir : trust_role::parent_dir); !why.empty()) {
      // Nobody writes through a read-only mount: a Kubernetes emptyDir's root is 0777 without
      // the sticky bit, and the Deployment mounts it read-only into chainsd (config/README.md).
      struct statvfs vfs{};
      const bool owner_ok = st.st_uid == 0 || st.st_uid == ::geteuid();
      if (!first && owner_ok && ::statvfs(p.c_str(), &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) {
        first = false;
        if (p == p.root_path() || p.parent_path() == p) break;
        continue;
      }
      return first ? "plugin directory is " + why : "parent directory " + p.string() + " is " + why;
    }
    first = false;
    if (p == p.root_path() || p.parent_path() == p) break;
  }
  return {};
}

}  // namespace chainsd::plugin_host
