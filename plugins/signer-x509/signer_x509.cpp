// The x509 signer: signs with the key in the signing-secrets directory, as Tekton Chains'
// x509 signer does (x509.pem first, else cosign.key + cosign.password). The directory is watched
// whether or not a key was found: a key added after start (upstream's install order: an empty
// Secret, then `cosign generate-key-pair k8s://...`), a fixed password or a rotated key is used
// within a second of the next sign(). With signers.x509.fulcio.enabled it signs keyless instead
// (keyless.hpp).
#include "key_files.hpp"
#include "keyless.hpp"
#include "off_loop.hpp"

#include <chainsd/plugin/async_event.hpp>
#include <chainsd/plugin/export.hpp>
#include <chainsd/plugin/parse_bool.hpp>


#include <chrono>
#include <memory>
#include <optional>

namespace signer_x509 {
namespace plugin = chainsd::plugin;
namespace asio = boost::asio;

// How often sign() looks at the key files (a few stat calls). The engine retries runs parked
// for a missing key every 2 s, so a new key signs its first run within about 2 s + derivation.
constexpr auto check_interval = std::chrono::seconds(1);

class x509_signer final : public plugin::signer {
 public:
  // `first` is the factory's synchronous load (at startup or a config change); `stamp` the
  // directory's stamp taken before it.
  x509_signer(plugin::host& h, plugin::result<loaded_key> first, std::string stamp)
      : host_(h), stamp_(std::move(stamp)) {
    if (first)
      key_ = std::move(*first);
    else
      error_ = first.error();
  }

  asio::awaitable<plugin::result<plugin::signature_result>> sign(std::string message) override {
    co_await refresh();
    if (!key_) co_return error_;
    try {
      co_return plugin::signature_result{signer_x509::sign(key_->key.get(), message), {}, {}};
    } catch (const key_error& e) {
      co_return plugin::fail(plugin::errc::permanent, std::string("x509 signer: ") + e.what());
    }
  }

  std::string public_key_pem() const override { return key_ ? key_->public_pem : std::string(); }

 private:
  // Reloads when the files changed since the last look (at most every check_interval). Callers
  // arriving during a reload wait for it, so a fixed password is not answered with the old error.
  asio::awaitable<void> refresh() {
    if (reload_done_) {
      auto done = reload_done_;
      co_await done->wait();
      co_return;
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_check_ < check_interval) co_return;
    last_check_ = now;
    auto s = secrets_stamp(host_.secrets_dir());
    if (s == stamp_) co_return;
    stamp_ = s;
    auto done = std::make_shared<plugin::async_event>(host_.executor());
    reload_done_ = done;
    auto material = read_key_material(host_);
    plugin::result<loaded_key> k = plugin::fail(plugin::errc::permanent, "");
    if (!material) {
      k = material.error();
    } else if (material->sealed) {
      auto derive = [m = std::move(*material)]() mutable { return finish_key(std::move(m)); };
      k = co_await off_loop<plugin::result<loaded_key>>(std::move(derive));
    } else {
      k = finish_key(std::move(*material));
    }
    adopt(std::move(k));
    reload_done_.reset();
    done->set();
  }

  void adopt(plugin::result<loaded_key> k) {
    if (k) {
      key_ = std::move(*k);
      error_ = {};
      host_.log(plugin::log_level::info, "signing key loaded", {{"source", key_->source}});
      return;
    }
    if (key_) {
      host_.log(plugin::log_level::error, "signing key changed but cannot be loaded; keeping the previous key",
                {{"error", k.error().message}});
      return;
    }
    error_ = k.error();
    host_.log(plugin::log_level::warn, "no usable signing key yet; watching the signing secrets",
              {{"error", error_.message}});
  }

  plugin::host& host_;
  std::optional<loaded_key> key_;
  plugin::error error_;  // why there is no key (when key_ is empty)
  std::string stamp_;
  std::chrono::steady_clock::time_point last_check_ = std::chrono::steady_clock::now();
  std::shared_ptr<plugin::async_event> reload_done_;  // present while a reload runs; set when it ends
};

}  // namespace signer_x509

chainsd::plugin::result<std::unique_ptr<chainsd::plugin::signer>> make_x509_signer(
    chainsd::plugin::host& h, const chainsd::plugin::config_map& cfg) {
  namespace plugin = chainsd::plugin;
  // Go's strconv.ParseBool trues, as the engine's config (and upstream) read the key.
  auto enabled = cfg.find("signers.x509.fulcio.enabled");
  if (enabled != cfg.end() && plugin::parse_go_bool(enabled->second).value_or(false)) {
    // Keyless: no I/O here (the factory runs on the loop); the first sign() gets token and certificate.
    auto opt = signer_x509::keyless_options_from(h, cfg);
    if (!opt) return opt.error();
    h.log(plugin::log_level::info, "x509 signer ready (keyless, Fulcio)",
          {{"fulcio", opt->fulcio_url}, {"provider", opt->provider.empty() ? "auto" : opt->provider},
           {"service_account", opt->sa_namespace + "/" + opt->sa_name}});
    try {
      return signer_x509::make_keyless_signer(h, std::move(*opt));
    } catch (const signer_x509::key_error& e) {
      return plugin::fail(plugin::errc::permanent, e.what());
    }
  }
  // Loaded here, blocking (startup or a config change; bounded by the accepted scrypt parameters),
  // so the first run does not wait; without a usable key the signer is made anyway, answers
  // not_found (no key yet: the engine parks the run) or bad_config, and watches the directory.
  auto stamp = signer_x509::secrets_stamp(h.secrets_dir());
  auto material = signer_x509::read_key_material(h);
  plugin::result<signer_x509::loaded_key> k = material ? signer_x509::finish_key(std::move(*material))
                                                       : plugin::result<signer_x509::loaded_key>(material.error());
  if (k)
    h.log(plugin::log_level::info, "x509 signer ready", {{"source", k->source}});
  else
    h.log(k.error().code == plugin::errc::not_found ? plugin::log_level::warn : plugin::log_level::error,
          "x509 signer has no usable key; runs wait for one (watching the signing secrets)",
          {{"error", k.error().message}});
  return std::make_unique<signer_x509::x509_signer>(h, std::move(k), std::move(stamp));
}

CHAINSD_SIGNER_PLUGIN("x509", "0.1.0", make_x509_signer)
