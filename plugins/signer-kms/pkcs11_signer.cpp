#include "pkcs11_signer.hpp"

#include "pkcs11_token.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace signer_kms {

namespace plugin = chainsd::plugin;
namespace asio = boost::asio;

namespace {

struct outcome {
  plugin::result<std::string> sig;
  std::string pem;  // the key's SPKI PEM once it has been read
};

class pkcs11_signer final : public plugin::signer {
 public:
  pkcs11_signer(plugin::host& h, pkcs11_uri uri, std::string what)
      : host_(h), what_(what), token_(std::make_unique<pkcs11_token>(std::move(uri), std::move(what))) {}

  // The worker finishes the call it is in (pool_ is destroyed first), then the token closes its
  // session and releases the module here.
  ~pkcs11_signer() override { pool_.join(); }

  asio::awaitable<plugin::result<plugin::signature_result>> sign(std::string message) override {
    auto out = co_await on_worker(std::move(message));
    if (!out.pem.empty() && pem_.empty()) {
      pem_ = out.pem;
      host_.log(plugin::log_level::info, "kms key read", {{"provider", "pkcs11"}, {"key", what_}});
    }
    if (!out.sig) {
      count(out.sig.error().code == plugin::errc::unauthenticated ? "unauthenticated" : "error");
      co_return out.sig.error();
    }
    count("ok");
    co_return plugin::signature_result{std::move(*out.sig), {}, {}};
  }

  std::string public_key_pem() const override { return pem_; }

 private:
  // Runs the blocking sign on the worker; the completion comes back on the caller's executor.
  asio::awaitable<outcome> on_worker(std::string message) {
    auto init = [this](auto handler, std::string msg) {
      auto ex = asio::get_associated_executor(handler, host_.executor());
      asio::post(pool_, [this, msg = std::move(msg), handler = std::move(handler), work = asio::make_work_guard(ex)]() mutable {
        outcome out{token_->sign(msg), {}};
        out.pem = token_->pem();
        auto back = work.get_executor();
        asio::post(back, [handler = std::move(handler), out = std::move(out)]() mutable { std::move(handler)(std::move(out)); });
      });
    };
    return asio::async_initiate<const asio::use_awaitable_t<>&, void(outcome)>(init, asio::use_awaitable, std::move(message));
  }

  void count(const std::string& result) {
    host_.count("chainsd_plugin_kms_sign_total", "KMS sign calls by provider and outcome",
                {{"provider", "pkcs11"}, {"outcome", result}});
  }

  plugin::host& host_;
  std::string what_;
  std::string pem_;                      // loop thread only
  std::unique_ptr<pkcs11_token> token_;  // worker thread only
  asio::thread_pool pool_{1};
};

}  // namespace

std::unique_ptr<plugin::signer> make_pkcs11_signer(plugin::host& h, pkcs11_uri uri, std::string what) {
  return std::make_unique<pkcs11_signer>(h, std::move(uri), std::move(what));
}

}  // namespace signer_kms
