#include "gcp_signer.hpp"

#include "flight.hpp"
#include "public_key.hpp"
#include "token_source.hpp"

namespace signer_kms {

namespace plugin = chainsd::plugin;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

class gcp_signer final : public plugin::signer {
 public:
  gcp_signer(plugin::host& h, gcp_options opt)
      : host_(h),
        opt_(std::move(opt)),
        tokens_(h, opt_.credentials, "https://www.googleapis.com/auth/cloudkms", "Google Cloud KMS",
                "signers.kms.kmsref"),
        key_flight_(h.executor()) {
    what_ = "Google Cloud KMS " + opt_.endpoint + " key '" + opt_.key + "'";
  }

  asio::awaitable<plugin::result<plugin::signature_result>> sign(std::string message) override {
    auto ready = co_await ensure_key();
    if (!ready) co_return ready.error();
    auto pub = pub_;
    const auto version = version_;
    auto resp = co_await call("POST", "/v1/" + version + ":asymmetricSign", gcp::sign_request(sha256(message)));
    if (!resp) {
      count("error");
      co_return plugin::fail(resp.error().code, what_ + ": asymmetricSign: " + resp.error().message);
    }
    if (resp->status != 200) {
      count("http_" + std::to_string(resp->status));
      co_return rejected(*resp, "refused to sign with " + version);
    }
    auto sig = gcp::parse_signature(resp->body, version);
    if (!sig) {
      count("bad_answer");
      co_return plugin::fail(sig.error().code, what_ + ": " + sig.error().message);
    }
    if (!verifies(*pub, message, *sig)) {
      count("bad_signature");
      co_return plugin::fail(plugin::errc::permanent, what_ + " (gcpkms) returned a signature that does not verify "
                                                              "with " + version + "'s public key; nothing was signed");
    }
    count("ok");
    co_return plugin::signature_result{std::move(*sig), {}, {}};
  }

  std::string public_key_pem() const override { return pub_ ? pub_->pem : std::string(); }

 private:
  asio::awaitable<plugin::result<plugin::http_response>> call(std::string method, std::string path, std::string body) {
    auto token = co_await tokens_.get();
    if (!token) co_return token.error();
    plugin::http_request req;
    req.method = std::move(method);
    req.url = opt_.endpoint + path;
    req.headers = {{"Authorization", "Bearer " + *token}, {"Content-Type", "application/json"}};
    req.body = std::move(body);
    req.replayable = true;
    req.timeout = 15s;
    auto resp = co_await host_.http(std::move(req));
    // The token expired or was revoked: the next attempt fetches a new one (rejected() says retry).
    if (resp && resp->status == 401) tokens_.invalidate(*token);
    co_return resp;
  }

  plugin::error rejected(const plugin::http_response& resp, const std::string& doing) {
    auto e = gcp::classify(resp.status, resp.body, what_ + " " + doing);
    if (resp.status == 401) e.code = plugin::errc::retryable;  // call() dropped the token
    return e;
  }

  void count(const std::string& outcome) {
    host_.count("chainsd_plugin_kms_sign_total", "KMS sign calls by provider and outcome",
                {{"provider", "gcpkms"}, {"outcome", outcome}});
  }

  asio::awaitable<plugin::result<void>> ensure_key() {
    auto ready = [this] { return pub_ != nullptr; };
    auto fetch = [this] { return fetch_key(); };
    return key_flight_.ensure(ready, fetch);
  }

  asio::awaitable<plugin::result<void>> fetch_key() {
    std::string version = opt_.version.empty() ? std::string() : opt_.key + "/cryptoKeyVersions/" + opt_.version;
    if (version.empty()) {
      auto list = co_await call("GET", "/v1/" + opt_.key + "/cryptoKeyVersions?filter=state%3DENABLED&pageSize=1000", "");
      if (!list) co_return plugin::fail(list.error().code, what_ + ": listing versions: " + list.error().message);
      if (list->status != 200) co_return rejected(*list, "listing versions");
      auto latest = gcp::latest_version(list->body, opt_.key);
      if (!latest) co_return plugin::fail(latest.error().code, what_ + ": " + latest.error().message);
      version = *latest;
    }
    auto resp = co_await call("GET", "/v1/" + version + "/publicKey", "");
    if (!resp) co_return plugin::fail(resp.error().code, what_ + ": publicKey: " + resp.error().message);
    if (resp->status != 200) co_return rejected(*resp, "publicKey of " + version);
    auto info = gcp::parse_public_key(resp->body);
    if (!info) co_return plugin::fail(info.error().code, what_ + ": " + info.error().message);
    if (!gcp::supported_algorithm(info->algorithm))
      co_return plugin::fail(plugin::errc::bad_config, what_ + ": algorithm " + info->algorithm +
                                                           " is not supported (EC_SIGN_P256_SHA256, RSA_SIGN_PKCS1_*_SHA256)");
    try {
      pub_ = std::make_shared<public_key>(public_key_from_pem(info->pem));
    } catch (const key_error& e) {
      co_return plugin::fail(plugin::errc::bad_config, what_ + ": " + e.what());
    }
    version_ = version;
    host_.log(plugin::log_level::info, "kms key read",
              {{"provider", "gcpkms"}, {"version", version_}, {"algorithm", info->algorithm}});
    co_return plugin::result<void>{};
  }

  plugin::host& host_;
  gcp_options opt_;
  std::string what_;
  std::shared_ptr<public_key> pub_;
  std::string version_;
  google_auth::token_source tokens_;
  flight key_flight_;
};

}  // namespace

std::unique_ptr<plugin::signer> make_gcp_signer(plugin::host& h, gcp_options opt) {
  return std::make_unique<gcp_signer>(h, std::move(opt));
}

}  // namespace signer_kms
