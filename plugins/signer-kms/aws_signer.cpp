#include "aws_signer.hpp"

#include "aws_api.hpp"
#include "flight.hpp"
#include "public_key.hpp"

#include <optional>

namespace signer_kms {

namespace plugin = chainsd::plugin;
namespace asio = boost::asio;

namespace {

class aws_signer final : public plugin::signer {
 public:
  aws_signer(plugin::host& h, aws_options opt) : host_(h), opt_(std::move(opt)), key_flight_(h.executor()) {
    what_ = "AWS KMS " + opt_.url + " key '" + opt_.key + "'";
  }

  asio::awaitable<plugin::result<plugin::signature_result>> sign(std::string message) override {
    auto ready = co_await ensure_key();
    if (!ready) co_return ready.error();
    auto pub = pub_;
    auto resp = co_await call("TrentService.Sign", aws::sign_request(opt_.key, sha256(message), algorithm_));
    if (!resp) {
      count(resp.error().code == plugin::errc::retryable ? "transport" : "error");
      co_return plugin::fail(resp.error().code, what_ + ": signing: " + resp.error().message);
    }
    if (resp->status != 200) {
      count("http_" + std::to_string(resp->status));
      co_return rejected(*resp, "refused to sign");
    }
    auto sig = aws::parse_signature(resp->body);
    if (!sig) {
      count("bad_answer");
      co_return plugin::fail(sig.error().code, what_ + ": " + sig.error().message);
    }
    if (!verifies(*pub, message, *sig)) {
      count("bad_signature");
      co_return plugin::fail(plugin::errc::permanent, what_ + " (awskms) returned a signature that does not verify "
                                                              "with the key's public key; nothing was signed");
    }
    count("ok");
    co_return plugin::signature_result{std::move(*sig), {}, {}};
  }

  std::string public_key_pem() const override { return pub_ ? pub_->pem : std::string(); }

 private:
  // A SigV4-signed JSON 1.1 call; its credentials come first (an STS exchange when needed).
  asio::awaitable<plugin::result<plugin::http_response>> call(std::string target, std::string body) {
    auto creds = co_await opt_.credentials->get();
    if (!creds) co_return creds.error();
    plugin::http_request req;
    req.method = "POST";
    req.url = opt_.url + "/";
    req.headers = {{"Content-Type", aws::json_content_type}, {"X-Amz-Target", std::move(target)}};
    sigv4_sign(req.headers, "POST", opt_.host, "/", "", body, *creds, {opt_.region, "kms"},
               std::chrono::system_clock::now());
    req.body = std::move(body);
    req.replayable = true;  // Sign and GetPublicKey change nothing
    req.timeout = std::chrono::seconds(15);
    co_return co_await host_.http(std::move(req));
  }

  plugin::error rejected(const plugin::http_response& resp, const std::string& doing) {
    auto e = aws::classify(resp.status, resp.body, resp.headers, what_ + " " + doing);
    auto type = aws::error_of(resp.body, resp.headers).first;
    if (opt_.credentials->temporary() &&
        (type == "ExpiredTokenException" || type == "UnrecognizedClientException")) {
      opt_.credentials->invalidate();  // renewed by the next call: worth a retry
      e.code = plugin::errc::retryable;
    }
    return e;
  }

  void count(const std::string& outcome) {
    host_.count("chainsd_plugin_kms_sign_total", "KMS sign calls by provider and outcome",
                {{"provider", "awskms"}, {"outcome", outcome}});
  }

  // The key is read once; concurrent callers wait for the read in flight (flight.hpp).
  asio::awaitable<plugin::result<void>> ensure_key() {
    auto ready = [this] { return pub_ != nullptr; };
    auto fetch = [this] { return fetch_key(); };
    return key_flight_.ensure(ready, fetch);
  }

  asio::awaitable<plugin::result<void>> fetch_key() {
    auto resp = co_await call("TrentService.GetPublicKey", aws::get_public_key_request(opt_.key));
    if (!resp) co_return plugin::fail(resp.error().code, what_ + ": GetPublicKey: " + resp.error().message);
    if (resp->status != 200) co_return rejected(*resp, "GetPublicKey");
    auto info = aws::parse_public_key(resp->body);
    if (!info) co_return plugin::fail(info.error().code, what_ + ": " + info.error().message);
    if (!aws::supported_algorithm(info->algorithm))
      co_return plugin::fail(plugin::errc::bad_config,
                             what_ + ": its signing algorithm " + info->algorithm +
                                 " is not supported (keys signing with ECDSA_SHA_256 or RSASSA_PKCS1_V1_5_SHA_256)");
    try {
      pub_ = std::make_shared<public_key>(public_key_from_der(info->der));
    } catch (const key_error& e) {
      co_return plugin::fail(plugin::errc::bad_config, what_ + ": " + e.what());
    }
    algorithm_ = info->algorithm;
    host_.log(plugin::log_level::info, "kms key read",
              {{"provider", "awskms"}, {"key", opt_.key}, {"arn", info->key_arn}, {"algorithm", algorithm_}});
    co_return plugin::result<void>{};
  }

  plugin::host& host_;
  aws_options opt_;
  std::string what_;
  std::shared_ptr<public_key> pub_;
  std::string algorithm_;
  flight key_flight_;
};

}  // namespace

std::unique_ptr<plugin::signer> make_aws_signer(plugin::host& h, aws_options opt) {
  return std::make_unique<aws_signer>(h, std::move(opt));
}

}  // namespace signer_kms
