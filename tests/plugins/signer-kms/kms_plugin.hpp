#pragma once
// The kms plugin ($SIGNER_KMS_SO, set by meson) copied into a private 0755 directory and loaded
// through the real loader once per test binary, and the engine's host services around a test
// io_context (the HTTP client the plugin reaches its KMS with).

#include "net/http_client.hpp"
#include "plugin_host/host_services.hpp"
#include "plugin_host/registry.hpp"

#include <boost/asio/io_context.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>

namespace kms_test {

inline const chainsd::plugin_host::registry& registry() {
  namespace fs = std::filesystem;
  static fs::path dir = [] {
    auto d = fs::temp_directory_path() / ("chainsd-kms-plugins-" + std::to_string(std::random_device{}()));
    fs::create_directories(d);
    ::chmod(d.c_str(), 0755);
    const char* so = std::getenv("SIGNER_KMS_SO");
    if (!so) throw std::runtime_error("SIGNER_KMS_SO is not set (run through meson test)");
    fs::copy_file(so, d / "signer-kms.so", fs::copy_options::overwrite_existing);
    ::chmod((d / "signer-kms.so").c_str(), 0755);
    return d;
  }();
  static chainsd::plugin_host::registry reg(chainsd::plugin_host::scan_plugins(dir));
  static struct cleanup {
    ~cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } c;
  return reg;
}

struct engine_host {
  boost::asio::io_context ctx;
  chainsd::net::http_client http{ctx.get_executor()};
  chainsd::plugin_host::host_services host{ctx.get_executor(), http, nullptr, "/nonexistent"};
};

// True when `sig` (DER ECDSA or RSA PKCS#1 v1.5) verifies over SHA-256(msg) with the SPKI PEM `pem`, as
// openssl reads it (independent of the plugin's own check).
inline bool openssl_verifies(const std::string& pem, const std::string& msg, const std::string& sig) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = PEM_read_bio_PUBKEY(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = k && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, k) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(k);
  return ok;
}

}  // namespace kms_test
