#include "vault_signer.hpp"

#include "flight.hpp"
#include "public_key.hpp"
#include "vault_api.hpp"

#include <optional>

namespace signer_kms {

namespace plugin = chainsd::plugin;
namespace asio = boost::asio;

namespace {

class vault_signer final : public plugin::signer {
 public:
  vault_signer(plugin::host& h, vault_options opt)
      : host_(h), opt_(std::move(opt)), key_flight_(h.executor()) {
    what_ = "Vault " + opt_.address + " transit key '" + opt_.key + "'";
  }

  asio::awaitable<plugin::result<plugin::signature_result>> sign(std::string message) override {
    auto ready = co_await ensure_key();
    if (!ready) co_return ready.error();
    const auto version = version_;
    auto pub = pub_;  // keep it alive across the request
    auto token = co_await opt_.token->get();
    if (!token) co_return token.error();
    plugin::http_request req = request("POST", "/sign/" + opt_.key + "/sha2-256", *token);
    req.body = vault::sign_request(sha256(message), version);
    req.replayable = true;  // a repeated sign only makes another valid signature
    auto resp = co_await host_.http(std::move(req));
    if (!resp) {
      count("transport");
      co_return plugin::fail(resp.error().code, what_ + ": signing: " + resp.error().message);
    }
    if (resp->status != 200) {
      count("http_" + std::to_string(resp->status));
      co_return rejected(*resp, *token, "refused to sign");
    }
    auto sig = vault::parse_signature(resp->body, version);
    if (!sig) {
      count("bad_answer");
      co_return plugin::fail(sig.error().code, what_ + ": " + sig.error().message);
    }
    if (!verifies(*pub, message, *sig)) {
      count("bad_signature");
      co_return plugin::fail(plugin::errc::permanent,
                             what_ + " (hashivault) returned a signature that does not verify with version " +
                                 std::to_string(version) + " of the key; nothing was signed");
    }
    count("ok");
    co_return plugin::signature_result{std::move(*sig), {}, {}};
  }

  std::string public_key_pem() const override { return pub_ ? pub_->pem : std::string(); }

 private:
  plugin::http_request request(std::string method, const std::string& suffix, const std::string& token) {
    plugin::http_request req;
    req.method = std::move(method);
    req.url = opt_.address + "/v1/" + opt_.mount + suffix;
    req.headers.emplace_back("X-Vault-Token", token);
    if (!opt_.vault_namespace.empty()) req.headers.emplace_back("X-Vault-Namespace", opt_.vault_namespace);
    req.headers.emplace_back("Content-Type", "application/json");
    req.timeout = std::chrono::seconds(15);
    return req;
  }

  plugin::error rejected(const plugin::http_response& resp, const std::string& token, const std::string& doing) {
    auto e = vault::classify(resp.status, resp.body, what_ + " " + doing);
    if (resp.status == 403 && opt_.token->denied(token)) e.code = plugin::errc::retryable;  // log in again
    return e;
  }

  void count(const std::string& outcome) {
    host_.count("chainsd_plugin_kms_sign_total", "KMS sign calls by provider and outcome",
                {{"provider", "hashivault"}, {"outcome", outcome}});
  }

  // The key is read once; concurrent callers wait for the read in flight (flight.hpp).
  asio::awaitable<plugin::result<void>> ensure_key() {
    auto ready = [this] { return pub_ != nullptr; };
    auto fetch = [this] { return fetch_key(); };
    return key_flight_.ensure(ready, fetch);
  }

  asio::awaitable<plugin::result<void>> fetch_key() {
    auto token = co_await opt_.token->get();
    if (!token) co_return token.error();
    auto resp = co_await host_.http(request("GET", "/keys/" + opt_.key, *token));
    if (!resp) co_return plugin::fail(resp.error().code, what_ + ": reading the key: " + resp.error().message);
    if (resp->status != 200) co_return rejected(*resp, *token, "reading the key");
    auto kv = vault::parse_key(resp->body);
    if (!kv) co_return plugin::fail(kv.error().code, what_ + ": " + kv.error().message);
    try {
      pub_ = std::make_shared<public_key>(public_key_from_pem(kv->public_pem));
    } catch (const key_error& e) {
      co_return plugin::fail(plugin::errc::bad_config, what_ + ": " + e.what());
    }
    version_ = kv->version;
    host_.log(plugin::log_level::info, "kms key read",
              {{"provider", "hashivault"}, {"key", opt_.key}, {"version", std::to_string(version_)}});
    co_return plugin::result<void>{};
  }

  plugin::host& host_;
  vault_options opt_;
  std::string what_;
  std::shared_ptr<public_key> pub_;
  std::uint64_t version_ = 0;
  flight key_flight_;
};

}  // namespace

std::unique_ptr<plugin::signer> make_vault_signer(plugin::host& h, vault_options opt) {
  return std::make_unique<vault_signer>(h, std::move(opt));
}

}  // namespace signer_kms
