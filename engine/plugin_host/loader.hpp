#pragma once
// Finds plugins in a directory and decides which to trust. Validation comes before any plugin
// code runs, static initializers included: the file, its directory and every directory above are
// owned by root or our uid and not writable by others (file_trust.hpp); the file is a regular
// *.so whose version-2 C descriptor, read from the ELF file without loading it (elf_symbol.hpp),
// has the right magic, version and exactly our build id, and which has a factory alias. Only then
// is it dlopen'ed (through the already open descriptor). Accepted libraries are never unloaded
// (their code may still be referenced by coroutine frames and vtables).
//
// Blocking (dlopen, stat): call at start-up or from a config change handler, not per run.

#include "chainsd/plugin/export.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace chainsd::plugin_host {

struct plugin_info {
  std::string kind;      // "signer" | "storage"
  std::string name;      // chains-config value selecting it
  std::string version;
  std::string path;
  plugin::signer_factory* make_signer = nullptr;    // set for kind "signer"
  plugin::storage_factory* make_storage = nullptr;  // set for kind "storage"
};

struct rejected_plugin {
  std::string path;
  std::string reason;
};

struct scan_result {
  std::vector<plugin_info> accepted;   // sorted by file name
  std::vector<rejected_plugin> rejected;
};

// Scans `dir` (non-recursive, entries sorted by name). Every accept and reject is logged.
// A missing or unsafe directory yields no plugins and one rejection naming the directory.
scan_result scan_plugins(const std::filesystem::path& dir);

}  // namespace chainsd::plugin_host
