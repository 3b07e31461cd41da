#include "key_files.hpp"

#include <sys/stat.h>

namespace signer_x509 {
namespace plugin = chainsd::plugin;

std::string secrets_stamp(const std::string& dir) {
  std::string s;
  for (const char* f : {"x509.pem", "cosign.key", "cosign.password"}) {
    struct stat st {};
    if (::stat((dir + "/" + f).c_str(), &st) != 0) {
      s += "-;";
      continue;
    }
    s += std::to_string(st.st_dev) + ':' + std::to_string(st.st_ino) + ':' + std::to_string(st.st_size) + ':' +
         std::to_string(st.st_mtim.tv_sec) + '.' + std::to_string(st.st_mtim.tv_nsec) + ';';
  }
  return s;
}

namespace {

// The file's text; nullopt when absent. Other failures (and a file past key_file_limit) are errors.
plugin::result<std::optional<std::string>> read_optional(plugin::host& h, const char* name) {
  auto r = h.read_secret(name);
  if (!r) {
    if (r.error().code == plugin::errc::not_found) return std::optional<std::string>();
    return plugin::fail(plugin::errc::bad_config, r.error().message);
  }
  if (r->size() > key_file_limit)
    return plugin::fail(plugin::errc::bad_config, "signing-secrets/" + std::string(name) + " is " +
                                                      std::to_string(r->size()) + " bytes, more than the " +
                                                      std::to_string(key_file_limit / 1024) + " KiB allowed");
  return std::optional<std::string>(std::move(*r));
}

}  // namespace

plugin::result<key_material> read_key_material(plugin::host& h) {
  try {
    auto pem = read_optional(h, "x509.pem");
    if (!pem) return pem.error();
    if (*pem) {
      auto key = load_pkcs8_pem(**pem, "signing-secrets/x509.pem");
      auto pub = public_key_pem(key.get());
      key_material m;
      m.ready = loaded_key{std::move(key), std::move(pub), "x509.pem"};
      return m;
    }
    auto cosign = read_optional(h, "cosign.key");
    if (!cosign) return cosign.error();
    if (*cosign) {
      auto password = read_optional(h, "cosign.password");
      if (!password) return password.error();
      // A secret being filled in by hand may show the key before its password: wait for it.
      if (!*password)
        return plugin::fail(plugin::errc::not_found,
                            "signing-secrets/cosign.key is present but cosign.password is missing");
      key_material m;
      m.sealed = parse_cosign_key(**cosign, "signing-secrets/cosign.key");
      m.password = std::move(**password);
      return m;
    }
  } catch (const key_error& e) {
    return plugin::fail(plugin::errc::bad_config, e.what());
  }
  return plugin::fail(plugin::errc::not_found, "no valid private key found in " + h.secrets_dir() +
                                                   ", looked for: [x509.pem, cosign.key]");
}

plugin::result<loaded_key> finish_key(key_material m) {
  if (m.ready) return std::move(*m.ready);
  try {
    auto key = open_cosign_key(*m.sealed, m.password);
    auto pub = public_key_pem(key.get());
    return loaded_key{std::move(key), std::move(pub), "cosign.key"};
  } catch (const key_error& e) {
    return plugin::fail(plugin::errc::bad_config, e.what());
  }
}

}  // namespace signer_x509
