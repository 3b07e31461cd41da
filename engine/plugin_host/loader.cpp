#include "plugin_host/loader.hpp"

#include "runtime/log.hpp"

#include <boost/dll/shared_library.hpp>

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>

namespace fs = std::filesystem;

namespace chainsd::plugin_host {
namespace {

// Libraries stay loaded for the life of the process.
std::vector<std::unique_ptr<boost::dll::shared_library>>& loaded_libraries() {
  static std::vector<std::unique_ptr<boost::dll::shared_library>> libs;
  return libs;
}

bool writable_by_others(const fs::path& p, std::string& why) {
  struct stat st{};
  if (::stat(p.c_str(), &st) != 0) {
    why = std::string("cannot stat: ") + std::strerror(errno);
    return true;
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    why = std::string("writable by group or others (mode ") + mode +
          "); anyone who can write it could run code in chainsd";
    return true;
  }
  return false;
}

// Reads a C string from the descriptor defensively (a bogus pointer is not our problem to
// survive, but an empty one is).
std::string str(const char* s) { return s ? std::string(s) : std::string(); }

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
  std::string why;
  if (writable_by_others(dir, why)) {
    reject(dir.string(), "plugin directory is " + why);
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
    if (!fs::is_regular_file(file, ec)) {
      reject(path, "not a regular file");
      continue;
    }
    if (writable_by_others(file, why)) {
      reject(path, "file is " + why);
      continue;
    }
    auto lib = std::make_unique<boost::dll::shared_library>();
    boost::dll::fs::error_code load_ec;
    lib->load(file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, load_ec);
    if (load_ec) {
      // Boost.DLL folds the loader's message into a generic code: ask dlopen for the reason.
      std::string reason = load_ec.message();
      if (void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
        ::dlclose(h);
      } else if (const char* err = ::dlerror()) {
        reason = err;
      }
      reject(path, "cannot load: " + reason);
      continue;
    }
    if (!lib->has(CHAINSD_PLUGIN_DESCRIPTOR_SYMBOL)) {
      reject(path, "no chainsd_plugin_descriptor symbol: not a chainsd plugin");
      continue;
    }
    const auto& d = lib->get<const chainsd_plugin_descriptor_t>(CHAINSD_PLUGIN_DESCRIPTOR_SYMBOL);
    if (d.magic != CHAINSD_PLUGIN_MAGIC) {
      reject(path, "bad descriptor magic: not a chainsd plugin");
      continue;
    }
    if (d.descriptor_version != CHAINSD_PLUGIN_DESCRIPTOR_VERSION) {
      reject(path, "descriptor version " + std::to_string(d.descriptor_version) + ", chainsd reads version " +
                       std::to_string(CHAINSD_PLUGIN_DESCRIPTOR_VERSION));
      continue;
    }
    plugin_info info{str(d.kind), str(d.name), str(d.version), path};
    const std::string build_id = str(d.build_id);
    if (build_id != CHAINSD_PLUGIN_BUILD_ID) {
      reject(path, "plugin " + info.name + " " + info.version + " was built against other plugin-api headers, compiler or Boost (build id " +
                       build_id + ", chainsd has " + CHAINSD_PLUGIN_BUILD_ID + "): rebuild it against this chainsd's plugin-api");
      continue;
    }
    if (info.kind != "signer" && info.kind != "storage") {
      reject(path, "unknown plugin kind \"" + info.kind + "\" (signer or storage)");
      continue;
    }
    if (info.name.empty()) {
      reject(path, "plugin has an empty name");
      continue;
    }
    auto key = std::make_pair(info.kind, info.name);
    if (auto it = seen.find(key); it != seen.end()) {
      reject(path, info.kind + " plugin \"" + info.name + "\" is already provided by " + it->second);
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
    out.accepted.push_back(std::move(info));
  }
  return out;
}

}  // namespace chainsd::plugin_host
