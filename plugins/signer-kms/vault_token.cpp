#include "vault_token.hpp"

#include "vault_api.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace signer_kms {

namespace plugin = chainsd::plugin;
namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

vault_token::vault_token(plugin::host& h, std::string address, std::shared_ptr<token_file> file,
                         std::optional<vault_jwt_login> login)
    : host_(h), address_(std::move(address)), file_(std::move(file)), login_(std::move(login)), flight_(h.executor()) {}

std::string vault_token::describe() const {
  if (login_) return "jwt login at auth/" + login_->path + " as role " + login_->role + " with " + login_->jwt_file;
  return file_->path().empty() ? "signers.kms.auth.token" : file_->path();
}

asio::awaitable<plugin::result<std::string>> vault_token::get() {
  if (!login_) {
    bool changed = false;
    const auto& t = file_->get(&changed);
    if (changed)
      host_.log(plugin::log_level::info, "vault token file changed; using the new token",
                {{"file", file_->path()}, {"key", "signers.kms.auth.token-path"}});
    co_return t;
  }
  auto fresh = [this] { return !token_.empty() && std::chrono::steady_clock::now() < renew_at_; };
  auto renew = [this] { return login(); };
  auto r = co_await flight_.ensure(fresh, renew);
  if (!r) co_return r.error();
  co_return token_;
}

bool vault_token::denied(const std::string& token) {
  if (!login_ || token.empty() || token != token_) return false;
  bool old = std::chrono::steady_clock::now() - obtained_ > 10s;
  token_.clear();
  return old;
}

asio::awaitable<plugin::result<void>> vault_token::login() {
  std::string jwt;
  try {
    jwt = token_file(login_->jwt_file, {}).get();
  } catch (const std::exception& e) {
    co_return plugin::fail(plugin::errc::bad_config, std::string("signers.kms.auth.oidc.token-path: ") + e.what());
  }
  plugin::http_request req;
  req.method = "POST";
  req.url = address_ + "/v1/auth/" + login_->path + "/login";
  req.headers = {{"Content-Type", "application/json"}};
  req.body = json::serialize(json::object{{"role", login_->role}, {"jwt", jwt}});
  req.timeout = 15s;
  const std::string what = "Vault " + address_ + " login at auth/" + login_->path + " as role '" + login_->role + "'";
  auto resp = co_await host_.http(std::move(req));
  if (!resp) co_return plugin::fail(resp.error().code, what + ": " + resp.error().message);
  if (resp->status != 200) {
    auto e = vault::classify(resp->status, resp->body, what);
    if (resp->status == 400) e.code = plugin::errc::unauthenticated;  // a JWT or role Vault does not accept
    co_return e;
  }
  boost::system::error_code ec;
  auto v = json::parse(resp->body, ec);
  const json::object* auth = nullptr;
  if (!ec && v.is_object())
    if (const auto* a = v.get_object().if_contains("auth")) auth = a->if_object();
  const json::value* tok = auth ? auth->if_contains("client_token") : nullptr;
  if (!tok || !tok->is_string() || tok->get_string().empty())
    co_return plugin::fail(plugin::errc::permanent, what + ": the answer has no auth.client_token");
  std::int64_t lease = 0;
  if (const auto* l = auth->if_contains("lease_duration"); l && (l->is_int64() || l->is_uint64()))
    lease = l->to_number<std::int64_t>();
  token_ = std::string(tok->get_string());
  obtained_ = std::chrono::steady_clock::now();
  renew_at_ = lease > 0 ? obtained_ + std::chrono::seconds(lease * 8 / 10) : std::chrono::steady_clock::time_point::max();
  host_.log(plugin::log_level::info, "vault login", {{"path", login_->path}, {"role", login_->role},
                                                     {"lease_seconds", std::to_string(lease)}});
  co_return plugin::result<void>{};
}

}  // namespace signer_kms
