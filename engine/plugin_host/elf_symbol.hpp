#pragma once
// Reads the bytes of a defined symbol from an ELF shared object on disk, without loading it: the
// dynamic symbol table (.dynsym, else .symtab) is searched for the name, and the symbol's
// address mapped to a file offset through the section that holds it. Only 64-bit little-endian
// ELF (x86-64, aarch64). Every offset and size is checked against the file; nothing here trusts
// the file.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace chainsd::plugin_host {

struct elf_symbol {
  std::string bytes;      // at most max_bytes of it, from the file
  std::size_t size = 0;   // st_size
};

// `fd` is an open regular file. nullopt with `why` set when the file is not a usable ELF object
// or has no such defined, file-backed symbol ("no symbol …" is then the start of `why`).
std::optional<elf_symbol> read_elf_symbol(int fd, std::string_view name, std::size_t max_bytes, std::string& why);

}  // namespace chainsd::plugin_host
