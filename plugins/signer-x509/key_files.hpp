#pragma once
// The signing-secrets directory as the key-based signer sees it: a stamp that changes whenever
// a key file changes (Kubernetes swaps the volume's `..data` symlink: new inodes), the files read
// and parsed (cheap), and the key finished from them (the cosign key derivation is the costly
// step, so it is separate: the signer runs it off the loop).

#include "keys.hpp"

#include <chainsd/plugin/host.hpp>

#include <optional>
#include <string>

namespace signer_x509 {

// Largest key file or password accepted (a PEM key is a few KiB).
inline constexpr std::size_t key_file_limit = 64 * 1024;

struct loaded_key {
  pkey_ptr key;
  std::string public_pem;
  std::string source;  // "x509.pem" or "cosign.key"
};

// What the directory holds, parsed: a ready x509.pem key, or a sealed cosign key and its password.
struct key_material {
  std::optional<loaded_key> ready;
  std::optional<sealed_cosign_key> sealed;
  std::string password;
};

// Device, inode, size and modification time of x509.pem, cosign.key and cosign.password (links
// followed); "-" for an absent file.
std::string secrets_stamp(const std::string& dir);

// Reads x509.pem, else cosign.key + cosign.password. not_found while no complete key is there
// (no file, or cosign.key without its password yet); bad_config naming the file when one is
// malformed, too big, not a regular file or has refused scrypt parameters.
chainsd::plugin::result<key_material> read_key_material(chainsd::plugin::host& h);

// The key from `m` (derives a cosign key: blocking). bad_config naming the file on failure.
chainsd::plugin::result<loaded_key> finish_key(key_material m);

}  // namespace signer_x509
