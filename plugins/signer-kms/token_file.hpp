#pragma once
// A bearer token that lives in a file (a Kubernetes secret volume, a Vault agent sink): read when
// built, then re-read whenever the file's identity changes (inode, size, mtime: a secret volume
// update swaps a symlink, an agent rewrites the file). A re-read that fails keeps the last token.
// Blocking but small (one stat per use): the cost of noticing a rotation without a restart.

#include <string>

namespace signer_kms {

class token_file {
 public:
  // Empty `path`: a fixed token. Throws std::runtime_error naming the file when it cannot be read.
  token_file(std::string path, std::string fixed);

  // The current token (re-read first if the file changed). `changed` is set when it did.
  const std::string& get(bool* changed = nullptr);
  const std::string& path() const { return path_; }

 private:
  std::string stamp() const;
  std::string path_;
  std::string token_;
  std::string stamp_;
};

}  // namespace signer_kms
