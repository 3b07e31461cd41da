#include "azure_signer.hpp"

#include "aws_api.hpp"  // url_encode
#include "azure_api.hpp"
#include "flight.hpp"
#include "public_key.hpp"
#include "token_file.hpp"

#include <optional>

namespace signer_kms {

namespace plugin = chainsd::plugin;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

class azure_signer final : public plugin::signer {
 public:
  azure_signer(plugin::host& h, azure_options opt)
      : host_(h), opt_(std::move(opt)), key_flight_(h.executor()), token_flight_(h.executor()) {
    what_ = "Azure Key Vault " + opt_.vault_url + " key '" + opt_.key + "'";
  }

  asio::awaitable<plugin::result<plugin::signature_result>> sign(std::string message) override {
    auto ready = co_await ensure_key();
    if (!ready) co_return ready.error();
    auto pub = pub_;
    const auto version = version_;
    auto resp = co_await call("POST", "/keys/" + opt_.key + "/" + version + "/sign", azure::sign_request(sha256(message)));
    if (!resp) {
      count("error");
      co_return plugin::fail(resp.error().code, what_ + ": sign: " + resp.error().message);
    }
    if (resp->status != 200) {
      count("http_" + std::to_string(resp->status));
      co_return rejected(*resp, "refused to sign with version " + version);
    }
    auto sig = azure::parse_signature(resp->body, version);
    if (!sig) {
      count("bad_answer");
      co_return plugin::fail(sig.error().code, what_ + ": " + sig.error().message);
    }
    if (!verifies(*pub, message, *sig)) {
      count("bad_signature");
      co_return plugin::fail(plugin::errc::permanent, what_ + " (azurekms) returned a signature that does not verify "
                                                              "with version " + version + " of the key; nothing was signed");
    }
    count("ok");
    co_return plugin::signature_result{std::move(*sig), {}, {}};
  }

  std::string public_key_pem() const override { return pub_ ? pub_->pem : std::string(); }

 private:
  asio::awaitable<plugin::result<plugin::http_response>> call(std::string method, std::string path, std::string body) {
    auto t = co_await ensure_token();
    if (!t) co_return t.error();
    plugin::http_request req;
    req.method = std::move(method);
    req.url = opt_.vault_url + path + "?api-version=" + azure::api_version;
    req.headers = {{"Authorization", "Bearer " + token_->token}, {"Content-Type", "application/json"}};
    req.body = std::move(body);
    req.replayable = true;
    req.timeout = 15s;
    co_return co_await host_.http(std::move(req));
  }

  plugin::error rejected(const plugin::http_response& resp, const std::string& doing) {
    auto e = azure::classify(resp.status, resp.body, what_ + " " + doing);
    if (resp.status == 401) {  // expired or revoked: the next attempt fetches a new token
      token_.reset();
      e.code = plugin::errc::retryable;
    }
    return e;
  }

  void count(const std::string& outcome) {
    host_.count("chainsd_plugin_kms_sign_total", "KMS sign calls by provider and outcome",
                {{"provider", "azurekms"}, {"outcome", outcome}});
  }

  asio::awaitable<plugin::result<void>> ensure_key() {
    auto ready = [this] { return pub_ != nullptr; };
    auto fetch = [this] { return fetch_key(); };
    return key_flight_.ensure(ready, fetch);
  }

  asio::awaitable<plugin::result<void>> fetch_key() {
    // Built first: a ?: temporary inside a co_await's arguments is freed twice by g++ 12 (DESIGN.md).
    std::string path = "/keys/" + opt_.key;
    if (!opt_.version.empty()) path += "/" + opt_.version;
    auto resp = co_await call("GET", std::move(path), "");
    if (!resp) co_return plugin::fail(resp.error().code, what_ + ": reading the key: " + resp.error().message);
    if (resp->status != 200) co_return rejected(*resp, "reading the key");
    auto info = azure::parse_key(resp->body);
    if (!info) co_return plugin::fail(info.error().code, what_ + ": " + info.error().message);
    try {
      pub_ = std::make_shared<public_key>(public_key_from_der(info->spki_der));
    } catch (const key_error& e) {
      co_return plugin::fail(plugin::errc::bad_config, what_ + ": " + e.what());
    }
    version_ = info->version;
    host_.log(plugin::log_level::info, "kms key read", {{"provider", "azurekms"}, {"key", opt_.key}, {"version", version_}});
    co_return plugin::result<void>{};
  }

  asio::awaitable<plugin::result<void>> ensure_token() {
    auto ready = [this] { return token_ && std::chrono::system_clock::now() + 1min < token_->expires; };
    auto fetch = [this] { return fetch_token(); };
    return token_flight_.ensure(ready, fetch);
  }

  asio::awaitable<plugin::result<void>> fetch_token() {
    plugin::http_request req;
    req.timeout = 15s;
    std::string what;
    if (!opt_.client_secret.empty() || !opt_.federated_token_file.empty()) {
      req.method = "POST";
      req.url = opt_.authority + "/" + opt_.tenant + "/oauth2/v2.0/token";
      req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
      if (!opt_.client_secret.empty()) {
        req.body = azure::client_secret_form(opt_.client_id, opt_.client_secret);
        what = "Entra ID " + req.url + " (client secret of " + opt_.client_id + ")";
      } else {
        std::string assertion;
        try {
          assertion = token_file(opt_.federated_token_file, {}).get();
        } catch (const std::exception& e) {
          co_return plugin::fail(plugin::errc::unauthenticated, std::string("AZURE_FEDERATED_TOKEN_FILE: ") + e.what());
        }
        req.body = azure::client_assertion_form(opt_.client_id, assertion);
        what = "Entra ID " + req.url + " (workload identity of " + opt_.client_id + ")";
      }
    } else {
      req.url = opt_.imds + "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" +
                aws::url_encode("https://vault.azure.net") +
                (opt_.client_id.empty() ? "" : "&client_id=" + aws::url_encode(opt_.client_id));
      req.headers = {{"Metadata", "true"}};
      what = "managed identity " + opt_.imds;
    }
    auto resp = co_await host_.http(std::move(req));
    if (!resp) co_return plugin::fail(resp.error().code, "Azure Key Vault: " + what + ": " + resp.error().message);
    if (resp->status != 200)
      co_return plugin::fail(resp->status >= 500 || resp->status == 429 ? plugin::errc::retryable
                                                                         : plugin::errc::unauthenticated,
                             "Azure Key Vault: " + what + ": HTTP " + std::to_string(resp->status) + ": " +
                                 resp->body.substr(0, 200));
    auto t = azure::parse_token(resp->body, std::chrono::system_clock::now());
    if (!t) co_return plugin::fail(t.error().code, "Azure Key Vault: " + what + ": " + t.error().message);
    token_ = std::move(*t);
    co_return plugin::result<void>{};
  }

  plugin::host& host_;
  azure_options opt_;
  std::string what_;
  std::shared_ptr<public_key> pub_;
  std::string version_;
  std::optional<azure::access_token> token_;
  flight key_flight_;
  flight token_flight_;
};

}  // namespace

std::unique_ptr<plugin::signer> make_azure_signer(plugin::host& h, azure_options opt) {
  return std::make_unique<azure_signer>(h, std::move(opt));
}

}  // namespace signer_kms
