#include "plugin_host/loader.hpp"

#include "runtime/log.hpp"

#include <boost/dll/shared_library.hpp>

#include "plugin_host/elf_symbol.hpp"
#include "plugin_host/file_trust.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <optional>

namespace fs = std::filesystem;

namespace chainsd::plugin_host {
namespace {

// Libraries stay loaded for the life of the process.
std::vector<std::unique_ptr<boost::dll::shared_library>>& loaded_libraries() {
  static std::vector<std::unique_ptr<boost::dll::shared_library>> libs;
  return libs;
}

// A fixed-size field of the descriptor as a string: it must hold its terminating NUL.
std::optional<std::string> field(const char* f, std::size_t n) {
  const std::size_t len = ::strnlen(f, n);
  if (len == n) return std::nullopt;
  return std::string(f, len);
}

struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

// The descriptor as read from the file, checked. Returns the reason for a refusal, "" if good.
std::string check_descriptor(const elf_symbol& sym, chainsd_plugin_descriptor_t& d, plugin_info& info) {
  // Magic and descriptor version sit at the same place in every version (two uint32 first).
  if (sym.bytes.size() < 8) return "descriptor too small (" + std::to_string(sym.size) + " bytes): not a chainsd plugin";
  std::uint32_t head[2];
  std::memcpy(head, sym.bytes.data(), sizeof head);
  if (head[0] != CHAINSD_PLUGIN_MAGIC) return "bad descriptor magic: not a chainsd plugin";
  if (head[1] == 1)
    return "descriptor version 1 (pointer fields, readable only by loading the plugin) is no longer accepted: "
           "chainsd reads version " + std::to_string(CHAINSD_PLUGIN_DESCRIPTOR_VERSION) +
           " from the file before loading it; rebuild the plugin against this chainsd's plugin-api";
  if (head[1] != CHAINSD_PLUGIN_DESCRIPTOR_VERSION)
    return "descriptor version " + std::to_string(head[1]) + ", chainsd reads version " +
           std::to_string(CHAINSD_PLUGIN_DESCRIPTOR_VERSION);
  if (sym.size != sizeof d || sym.bytes.size() != sizeof d)
    return "descriptor of " + std::to_string(sym.size) + " bytes, version " + std::to_string(head[1]) + " has " +
           std::to_string(sizeof d);
  std::memcpy(&d, sym.bytes.data(), sizeof d);
  if (d.size != sizeof d) return "descriptor says it has " + std::to_string(d.size) + " bytes, not " + std::to_string(sizeof d);
  auto kind = field(d.kind, sizeof d.kind);
  auto name = field(d.name, sizeof d.name);
  auto version = field(d.version, sizeof d.version);
  auto build_id = field(d.build_id, sizeof d.build_id);
  if (!kind || !name || !version || !build_id) return "descriptor has a string field without its terminating NUL";
  info.kind = *kind;
  info.name = *name;
  info.version = *version;
  if (*build_id != CHAINSD_PLUGIN_BUILD_ID)
    return "plugin " + info.name + " " + info.version + " was built against other plugin-api headers, compiler or Boost (build id " +
           *build_id + ", chainsd has " + CHAINSD_PLUGIN_BUILD_ID + "): rebuild it against this chainsd's plugin-api";
  if (info.kind != "signer" && info.kind != "storage") return "unknown plugin kind \"" + info.kind + "\" (signer or storage)";
  if (info.name.empty()) return "plugin has an empty name";
  return {};
}

}  // namespace

scan_result scan_plugins(const fs::path& dir) {
  scan_result out;
  auto reject = [&out](std::string path, std::string reason) {
    log::warn("plugin rejected", {{"path", path}, {"reason", reason}});
    out.rejected.push_back({std::move(path), std::move(reason)});
  };

  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    reject(dir.string(), "plugin directory does not exist (--plugin-dir)");
    return out;
  }
  if (auto why = untrusted_dir_chain(dir); !why.empty()) {
    reject(dir.string(), why);
    return out;
  }

  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".so") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());

  std::map<std::pair<std::string, std::string>, std::string> seen;  // (kind,name) → path
  for (const auto& file : files) {
    const std::string path = file.string();
    // Everything is checked on this one open file, and it is what gets loaded (through
    // /proc/self/fd), so the file cannot be swapped between the checks and dlopen.
    fd_guard f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)};
    struct stat st{};
    if (f.fd < 0) {
      reject(path, errno == ELOOP ? "a symbolic link (install the file itself)" : std::string("cannot open: ") + std::strerror(errno));
      continue;
    }
    if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      reject(path, "not a regular file");
      continue;
    }
    if (auto why = untrusted_because(st, trust_role::plugin_file); !why.empty()) {
      reject(path, "file is " + why);
      continue;
    }
    std::string why;
    auto sym = read_elf_symbol(f.fd, CHAINSD_PLUGIN_DESCRIPTOR_SYMBOL, sizeof(chainsd_plugin_descriptor_t), why);
    if (!sym) {
      reject(path, why.rfind("no symbol", 0) == 0 ? "no chainsd_plugin_descriptor symbol: not a chainsd plugin"
                                                   : why + ": not a chainsd plugin");
      continue;
    }
    chainsd_plugin_descriptor_t d{};
    plugin_info info;
    info.path = path;
    if (auto bad = check_descriptor(*sym, d, info); !bad.empty()) {
      reject(path, bad);
      continue;
    }
    auto key = std::make_pair(info.kind, info.name);
    if (auto it = seen.find(key); it != seen.end()) {
      reject(path, info.kind + " plugin \"" + info.name + "\" is already provided by " + it->second);
      continue;
    }
    if (std::string no; !read_elf_symbol(f.fd, CHAINSD_PLUGIN_FACTORY_SYMBOL, 8, no)) {
      reject(path, "plugin " + info.name + " exports no chainsd_plugin_factory");
      continue;
    }
    // Only now does any of the plugin's code run (its static initializers, at dlopen).
    const std::string fd_path = "/proc/self/fd/" + std::to_string(f.fd);
    auto lib = std::make_unique<boost::dll::shared_library>();
    boost::dll::fs::error_code load_ec;
    lib->load(fd_path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, load_ec);
    if (load_ec) {
      // Boost.DLL folds the loader's message into a generic code: ask dlopen for the reason.
      std::string reason = load_ec.message();
      if (void* h = ::dlopen(fd_path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
        ::dlclose(h);
      } else if (const char* err = ::dlerror()) {
        reason = err;
      }
      reject(path, "cannot load: " + reason);
      continue;
    }
    if (!lib->has(CHAINSD_PLUGIN_DESCRIPTOR_SYMBOL) ||
        std::memcmp(&lib->get<const chainsd_plugin_descriptor_t>(CHAINSD_PLUGIN_DESCRIPTOR_SYMBOL), &d, sizeof d) != 0) {
      reject(path, "the loaded descriptor differs from the one in the file");
      continue;
    }
    if (!lib->has(CHAINSD_PLUGIN_FACTORY_SYMBOL)) {
      reject(path, "plugin " + info.name + " exports no chainsd_plugin_factory");
      continue;
    }
    // The alias is a pointer to the factory function (BOOST_DLL_ALIAS).
    void* fn = lib->get<void*>(CHAINSD_PLUGIN_FACTORY_SYMBOL);
    if (!fn) {
      reject(path, "plugin " + info.name + " has a null factory");
      continue;
    }
    if (info.kind == "signer")
      info.make_signer = reinterpret_cast<plugin::signer_factory*>(fn);
    else
      info.make_storage = reinterpret_cast<plugin::storage_factory*>(fn);
    seen.emplace(key, path);
    log::info("plugin loaded", {{"path", path}, {"kind", info.kind}, {"name", info.name}, {"version", info.version}});
    loaded_libraries().push_back(std::move(lib));
    // glibc knows the library by its name, /proc/self/fd/N: the descriptor stays open so N is
    // never reused for another plugin (dlopen would hand back this one).
    f.fd = -1;
    out.accepted.push_back(std::move(info));
  }
  return out;
}

}  // namespace chainsd::plugin_host
