#include "net/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <cstdlib>
#include <string>

namespace chainsd::net {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;

std::string openssl_error_text(const std::string& fallback) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return fallback;
  const char* r = ERR_reason_error_string(e);
  return r ? std::string(r) : fallback;
}

// Null when the default paths cannot be read (asked again next time). Read again when
// SSL_CERT_FILE / SSL_CERT_DIR (OpenSSL's overrides of the default paths) change.
X509_STORE* system_cert_store() {
  static X509_STORE* shared = nullptr;
  static std::string read_for;
  auto env = [](const char* n) { const char* v = std::getenv(n); return std::string(v ? v : "") + '\n'; };
  const std::string now = env("SSL_CERT_FILE") + env("SSL_CERT_DIR");
  if (shared && now != read_for) {
    X509_STORE_free(shared);  // contexts built from it keep their own reference
    shared = nullptr;
  }
  if (!shared) {
    X509_STORE* s = X509_STORE_new();
    if (s && X509_STORE_set_default_paths(s) == 1) {
      shared = s;
      read_for = now;
    } else if (s) {
      X509_STORE_free(s);
    }
  }
  return shared;
}

}  // namespace

ssl::context make_tls_context(const tls_options& t) {
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  boost::system::error_code ec;
  if (!t.ca_pem.empty()) {
    ctx.add_certificate_authority(asio::buffer(t.ca_pem), ec);
    if (ec) throw http_error("tls: cannot load CA certificates from PEM text: " + openssl_error_text(ec.message()), ec);
  }
  if (!t.ca_file.empty()) {
    ctx.load_verify_file(t.ca_file, ec);
    if (ec) throw http_error("tls: cannot load CA file " + t.ca_file + ": " + openssl_error_text(ec.message()), ec);
  }
  if (t.ca_pem.empty() && t.ca_file.empty()) {
    // The system CA bundle (~150 certificates, ~60 ms to parse) is read once per process and
    // shared by every client (the kube API, leases, the outbound pool of plugins and logs).
    X509_STORE* store = system_cert_store();
    if (!store) throw http_error("tls: cannot load the system CA certificates: " + openssl_error_text("default paths"));
    SSL_CTX_set1_cert_store(ctx.native_handle(), store);
  }
  if (t.client_cert_pem.empty() != t.client_key_pem.empty())
    throw http_error("tls: client certificate and client key must be given together");
  if (!t.client_cert_pem.empty()) {
    ctx.use_certificate_chain(asio::buffer(t.client_cert_pem), ec);
    if (ec) throw http_error("tls: cannot load client certificate: " + openssl_error_text(ec.message()), ec);
    ctx.use_private_key(asio::buffer(t.client_key_pem), ssl::context::pem, ec);
    if (ec) throw http_error("tls: cannot load client key: " + openssl_error_text(ec.message()), ec);
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
      throw http_error("tls: client key does not match the client certificate");
  }
  ctx.set_verify_mode(t.verify ? ssl::verify_peer : ssl::verify_none);
  return ctx;
}

}  // namespace chainsd::net
