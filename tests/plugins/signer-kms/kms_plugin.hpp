#pragma once
// The kms plugin ($SIGNER_KMS_SO, set by meson) copied into a private 0755 directory and loaded
// through the real loader once per test binary, and the engine's host services around a test
// io_context (the HTTP client the plugin reaches its KMS with).

#include "net/http_client.hpp"
#include "plugin_host/host_services.hpp"
#include "plugin_host/registry.hpp"
#include "../../support/load_plugin.hpp"

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

// signer-kms (path from SIGNER_KMS_SO, set by meson) through the real loader.
inline const chainsd::plugin_host::registry& registry() { return test_support::plugin_from_env("SIGNER_KMS_SO"); }

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
