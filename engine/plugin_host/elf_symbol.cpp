#include "plugin_host/elf_symbol.hpp"

#include <elf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace chainsd::plugin_host {
namespace {

// pread of exactly n bytes at off, within the file's size.
bool read_at(int fd, std::uint64_t file_size, std::uint64_t off, void* out, std::size_t n) {
  if (off > file_size || n > file_size - off) return false;
  auto* p = static_cast<char*>(out);
  while (n > 0) {
    const ssize_t got = ::pread(fd, p, n, static_cast<off_t>(off));
    if (got <= 0) return false;
    p += got;
    off += static_cast<std::uint64_t>(got);
    n -= static_cast<std::size_t>(got);
  }
  return true;
}

}  // namespace

std::optional<elf_symbol> read_elf_symbol(int fd, std::string_view name, std::size_t max_bytes, std::string& why) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) {
    why = std::string("cannot stat: ") + std::strerror(errno);
    return std::nullopt;
  }
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  Elf64_Ehdr eh{};
  if (!read_at(fd, file_size, 0, &eh, sizeof eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
    why = "not an ELF file";
    return std::nullopt;
  }
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB) {
    why = "not a 64-bit little-endian ELF file";
    return std::nullopt;
  }
  if (eh.e_type != ET_DYN) {
    why = "not an ELF shared object";
    return std::nullopt;
  }
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shnum > 4096) {
    why = "ELF section headers missing or malformed";
    return std::nullopt;
  }
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  if (!read_at(fd, file_size, eh.e_shoff, sections.data(), sections.size() * sizeof(Elf64_Shdr))) {
    why = "ELF section headers lie outside the file";
    return std::nullopt;
  }
  auto search = [&](Elf64_Word type) -> std::optional<elf_symbol> {
    for (const auto& symtab : sections) {
      if (symtab.sh_type != type || symtab.sh_entsize != sizeof(Elf64_Sym) || symtab.sh_link >= sections.size())
        continue;
      const auto& strtab = sections[symtab.sh_link];
      if (strtab.sh_type != SHT_STRTAB || strtab.sh_size > (64u << 20) || symtab.sh_size > (64u << 20)) continue;
      std::string strings(strtab.sh_size, '\0');
      std::vector<Elf64_Sym> syms(symtab.sh_size / sizeof(Elf64_Sym));
      if (!read_at(fd, file_size, strtab.sh_offset, strings.data(), strings.size()) ||
          !read_at(fd, file_size, symtab.sh_offset, syms.data(), syms.size() * sizeof(Elf64_Sym)))
        continue;
      for (const auto& sym : syms) {
        if (sym.st_name >= strings.size()) continue;
        const char* s = strings.data() + sym.st_name;
        const std::size_t len = ::strnlen(s, strings.size() - sym.st_name);
        if (std::string_view(s, len) != name) continue;
        if (sym.st_shndx == SHN_UNDEF || sym.st_shndx >= sections.size() || ELF64_ST_TYPE(sym.st_info) != STT_OBJECT)
          continue;  // an undefined reference, not the definition
        const auto& sec = sections[sym.st_shndx];
        if (sec.sh_type != SHT_PROGBITS || sym.st_value < sec.sh_addr || sym.st_value - sec.sh_addr > sec.sh_size ||
            sym.st_size > sec.sh_size - (sym.st_value - sec.sh_addr))
          continue;  // .bss (no bytes in the file) or out of its section
        elf_symbol out;
        out.size = sym.st_size;
        out.bytes.resize(std::min<std::size_t>(sym.st_size, max_bytes));
        if (!read_at(fd, file_size, sec.sh_offset + (sym.st_value - sec.sh_addr), out.bytes.data(), out.bytes.size()))
          continue;
        return out;
      }
    }
    return std::nullopt;
  };
  if (auto s = search(SHT_DYNSYM)) return s;
  if (auto s = search(SHT_SYMTAB)) return s;
  why = "no symbol " + std::string(name);
  return std::nullopt;
}

}  // namespace chainsd::plugin_host
