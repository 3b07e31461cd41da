#pragma once
// The Vault token a signer sends, from one of (upstream's precedence):
// - JWT login (signers.kms.auth.oidc.role set): POST /v1/auth/<oidc.path, default jwt>/login
//   {"role", "jwt"} with the JWT read from signers.kms.auth.oidc.token-path (default the pod's
//   service-account token) at each login, as sigstore's hashivault oidcLogin does; the token is
//   used until 80% of its lease, one login in flight, and dropped when Vault denies it (the next
//   call logs in again);
// - signers.kms.auth.token-path (re-read when the file changes, token_file.hpp);
// - signers.kms.auth.token, else VAULT_TOKEN.

#include "flight.hpp"
#include "token_file.hpp"

#include <chainsd/plugin/host.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace signer_kms {

struct vault_jwt_login {
  std::string path = "jwt";
  std::string role;
  std::string jwt_file;
};

class vault_token {
 public:
  vault_token(chainsd::plugin::host& h, std::string address, std::shared_ptr<token_file> file,
              std::optional<vault_jwt_login> login);

  boost::asio::awaitable<chainsd::plugin::result<std::string>> get();
  // Vault answered 403 to `token`. True when a new login may help (the token came from a login
  // that is not brand new): it is dropped and the call is worth retrying.
  bool denied(const std::string& token);
  std::string describe() const;

 private:
  boost::asio::awaitable<chainsd::plugin::result<void>> login();

  chainsd::plugin::host& host_;
  std::string address_;
  std::shared_ptr<token_file> file_;
  std::optional<vault_jwt_login> login_;
  std::string token_;
  std::chrono::steady_clock::time_point obtained_{}, renew_at_{};
  flight flight_;
};

}  // namespace signer_kms
