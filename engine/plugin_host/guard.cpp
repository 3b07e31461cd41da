#include "plugin_host/guard.hpp"

#include "runtime/log.hpp"
#include "runtime/metrics.hpp"

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

namespace chainsd::plugin_host {

std::string describe(const plugin_info& p) { return p.kind + " plugin " + p.name + " " + p.version; }

plugin::error escaped(const std::string& plugin, const char* call, std::exception_ptr e) {
  std::string what;
  try {
    std::rethrow_exception(e);
  } catch (const boost::system::system_error& ex) {
    if (ex.code() == boost::asio::error::operation_aborted) throw;  // cancellation is not the plugin's fault
    what = ex.what();
  } catch (const std::exception& ex) {
    what = ex.what();
  } catch (...) {
    what = "a non-standard exception";
  }
  log::error("plugin call threw; the run fails", {{"plugin", plugin}, {"call", call}, {"error", what}});
  metrics::global()
      .get_counter("chainsd_plugin_exceptions_total", "Exceptions that escaped a plugin call", {{"call", call}})
      .inc();
  return plugin::fail(plugin::errc::permanent, plugin + " threw from " + call + "(): " + what);
}

namespace {

class guarded_signer final : public plugin::signer {
 public:
  guarded_signer(std::unique_ptr<plugin::signer> inner, std::string name) : inner_(std::move(inner)), name_(std::move(name)) {}

  boost::asio::awaitable<plugin::result<plugin::signature_result>> sign(std::string message) override {
    std::exception_ptr ex;
    try {
      co_return co_await inner_->sign(std::move(message));
    } catch (...) {
      ex = std::current_exception();
    }
    co_return escaped(name_, "sign", ex);
  }

  std::string public_key_pem() const override {
    try {
      return inner_->public_key_pem();
    } catch (...) {
      escaped(name_, "public_key_pem", std::current_exception());
      return {};  // sign_artifact fails the signature: "the signer gave no public key"
    }
  }

 private:
  std::unique_ptr<plugin::signer> inner_;
  std::string name_;
};

class guarded_storage final : public plugin::storage {
 public:
  guarded_storage(std::unique_ptr<plugin::storage> inner, std::string name)
      : inner_(std::move(inner)), name_(std::move(name)) {}

  boost::asio::awaitable<plugin::result<plugin::store_result>> store(plugin::store_request req) override {
    std::exception_ptr ex;
    try {
      co_return co_await inner_->store(std::move(req));
    } catch (...) {
      ex = std::current_exception();
    }
    co_return escaped(name_, "store", ex);
  }

  boost::asio::awaitable<void> close() override {
    std::exception_ptr ex;
    try {
      co_await inner_->close();
    } catch (...) {
      ex = std::current_exception();
    }
    if (ex) escaped(name_, "close", ex);
  }

  bool uses_unlogged_bundle() const override {
    try {
      return inner_->uses_unlogged_bundle();
    } catch (...) {
      escaped(name_, "uses_unlogged_bundle", std::current_exception());
      return true;
    }
  }

  bool reads_image_indexes() const override {
    try {
      return inner_->reads_image_indexes();
    } catch (...) {
      escaped(name_, "reads_image_indexes", std::current_exception());
      return false;
    }
  }

  boost::asio::awaitable<plugin::result<std::vector<std::string>>> index_manifests(plugin::run_ref run,
                                                                                   std::string image) override {
    std::exception_ptr ex;
    try {
      co_return co_await inner_->index_manifests(std::move(run), std::move(image));
    } catch (...) {
      ex = std::current_exception();
    }
    co_return escaped(name_, "index_manifests", ex);
  }

 private:
  std::unique_ptr<plugin::storage> inner_;
  std::string name_;
};

}  // namespace

std::unique_ptr<plugin::signer> guard(std::unique_ptr<plugin::signer> inner, const plugin_info& p) {
  return std::make_unique<guarded_signer>(std::move(inner), describe(p));
}
std::unique_ptr<plugin::storage> guard(std::unique_ptr<plugin::storage> inner, const plugin_info& p) {
  return std::make_unique<guarded_storage>(std::move(inner), describe(p));
}

}  // namespace chainsd::plugin_host
