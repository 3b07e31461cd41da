// The x509 signer: signs with the key in the signing-secrets directory, as Tekton Chains'
// x509 signer does (x509.pem first, else cosign.key + cosign.password). Keys are decrypted once
// and reloaded when the files change (Kubernetes rewrites secret volumes in place).
// With signers.x509.fulcio.enabled it signs keyless instead (keyless.hpp).
#include "keyless.hpp"
#include "keys.hpp"

#include <chainsd/plugin/export.hpp>

#include <chrono>
#include <filesystem>
#include <set>

namespace signer_x509 {
namespace plugin = chainsd::plugin;
namespace fs = std::filesystem;

struct loaded_key {
  pkey_ptr key;
  std::string public_pem;
  std::string source;  // "x509.pem" or "cosign.key"
};

// Reads the key files through the host. Returns bad_config / not_found with a message naming
// the secret files to fix.
plugin::result<loaded_key> load_key(plugin::host& h) {
  try {
    if (auto pem = h.read_secret("x509.pem")) {
      auto key = load_pkcs8_pem(*pem, "signing-secrets/x509.pem");
      auto pub = public_key_pem(key.get());
      return loaded_key{std::move(key), std::move(pub), "x509.pem"};
    }
    if (auto cosign = h.read_secret("cosign.key")) {
      auto password = h.read_secret("cosign.password");
      if (!password)
        return plugin::fail(plugin::errc::bad_config,
                            "signing-secrets/cosign.key is present but cosign.password is missing");
      auto key = load_cosign_key(*cosign, *password, "signing-secrets/cosign.key");
      auto pub = public_key_pem(key.get());
      return loaded_key{std::move(key), std::move(pub), "cosign.key"};
    }
  } catch (const key_error& e) {
    return plugin::fail(plugin::errc::bad_config, e.what());
  }
  return plugin::fail(plugin::errc::not_found, "no valid private key found in " + h.secrets_dir() +
                                                   ", looked for: [x509.pem, cosign.key]");
}

class x509_signer final : public plugin::signer {
 public:
  x509_signer(plugin::host& h, loaded_key k) : host_(h), key_(std::move(k)) { stamp_ = stamp(); }

  boost::asio::awaitable<plugin::result<plugin::signature_result>> sign(std::string message) override {
    maybe_reload();
    try {
      co_return plugin::signature_result{signer_x509::sign(key_.key.get(), message), {}, {}};
    } catch (const key_error& e) {
      co_return plugin::fail(plugin::errc::permanent, std::string("x509 signer: ") + e.what());
    }
  }

  std::string public_key_pem() const override { return key_.public_pem; }

 private:
  // Modification times of the key files; a secret volume update changes them.
  std::string stamp() const {
    std::string s;
    for (const char* f : {"x509.pem", "cosign.key", "cosign.password"}) {
      std::error_code ec;
      auto t = fs::last_write_time(fs::path(host_.secrets_dir()) / f, ec);
      s += ec ? "-" : std::to_string(t.time_since_epoch().count());
      s += ';';
    }
    return s;
  }

  void maybe_reload() {
    auto now = std::chrono::steady_clock::now();
    if (now - last_check_ < std::chrono::seconds(5)) return;
    last_check_ = now;
    auto s = stamp();
    if (s == stamp_) return;
    stamp_ = s;
    auto k = load_key(host_);
    if (!k) {
      host_.log(plugin::log_level::error, "signing key changed but cannot be loaded; keeping the previous key",
                {{"error", k.error().message}});
      return;
    }
    key_ = std::move(*k);
    host_.log(plugin::log_level::info, "signing key reloaded", {{"source", key_.source}});
  }

  plugin::host& host_;
  loaded_key key_;
  std::string stamp_;
  std::chrono::steady_clock::time_point last_check_ = std::chrono::steady_clock::now();
};

}  // namespace signer_x509

chainsd::plugin::result<std::unique_ptr<chainsd::plugin::signer>> make_x509_signer(
    chainsd::plugin::host& h, const chainsd::plugin::config_map& cfg) {
  namespace plugin = chainsd::plugin;
  // Go's strconv.ParseBool trues, as the engine's config (and upstream) read the key.
  auto enabled = cfg.find("signers.x509.fulcio.enabled");
  static const std::set<std::string, std::less<>> go_true{"1", "t", "T", "TRUE", "true", "True"};
  if (enabled != cfg.end() && go_true.count(enabled->second)) {
    // Keyless: no I/O here (the factory runs on the loop); the first sign() gets token and certificate.
    auto opt = signer_x509::keyless_options_from(cfg);
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
  auto k = signer_x509::load_key(h);
  if (!k) return k.error();
  h.log(plugin::log_level::info, "x509 signer ready", {{"source", k->source}});
  return std::make_unique<signer_x509::x509_signer>(h, std::move(*k));
}

CHAINSD_SIGNER_PLUGIN("x509", "0.1.0", make_x509_signer)
