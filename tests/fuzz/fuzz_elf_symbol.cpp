// Arbitrary bytes as a shared object on disk → read_elf_symbol (what the plugin loader runs on
// every *.so before trusting it). Nothing may crash or read outside the file; found bytes are
// within max_bytes. Seeds: real plugins (e.g. build/tests/engine/plugin_host/*.so).
#include "plugin_host/elf_symbol.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int fd = ::memfd_create("fuzz-elf", MFD_CLOEXEC);
  if (fd < 0) return 0;
  if (::write(fd, data, size) == static_cast<ssize_t>(size)) {
    std::string why;
    if (auto sym = chainsd::plugin_host::read_elf_symbol(fd, "chainsd_plugin_descriptor", 176, why)) {
      if (sym->bytes.size() > 176 || sym->bytes.size() > sym->size || sym->size > size) std::abort();
    } else if (why.empty()) {
      std::abort();
    }
  }
  ::close(fd);
  return 0;
}
