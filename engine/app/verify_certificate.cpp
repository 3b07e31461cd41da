#include "app/verify_certificate.hpp"

#include "tlog/pkey.hpp"

#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <vector>

namespace chainsd::app {
namespace {

using tlog::detail::freer;
using tlog::detail::x509_ptr;

std::string text_of(const ASN1_STRING* s) {
  return s ? std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<std::size_t>(ASN1_STRING_length(s)))
           : std::string();
}

// Fulcio's OIDC issuer: 1.3.6.1.4.1.57264.1.8 holds a DER UTF8String, the older .1.1 the raw text.
std::string oidc_issuer(X509* leaf) {
  for (const auto& [oid, der] : {std::pair{"1.3.6.1.4.1.57264.1.8", true}, std::pair{"1.3.6.1.4.1.57264.1.1", false}}) {
    std::unique_ptr<ASN1_OBJECT, freer<ASN1_OBJECT_free>> obj(OBJ_txt2obj(oid, 1));
    const int at = obj ? X509_get_ext_by_OBJ(leaf, obj.get(), -1) : -1;
    if (at < 0) continue;
    const std::string raw = text_of(X509_EXTENSION_get_data(X509_get_ext(leaf, at)));
    if (!der) return raw;
    const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
    std::unique_ptr<ASN1_UTF8STRING, freer<ASN1_UTF8STRING_free>> s(
        d2i_ASN1_UTF8STRING(nullptr, &p, static_cast<long>(raw.size())));
    if (s) return text_of(s.get());
  }
  return {};
}

std::vector<std::string> san_identities(X509* leaf) {
  std::vector<std::string> out;
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
    if (n->type == GEN_EMAIL) out.push_back(text_of(n->d.rfc822Name));
    if (n->type == GEN_URI) out.push_back(text_of(n->d.uniformResourceIdentifier));
  }
  GENERAL_NAMES_free(sans);
  return out;
}

void free_stack(STACK_OF(X509) * s) { sk_X509_free(s); }  // not the certificates: `certs` owns them

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

}  // namespace

certificate_facts check_certificate(std::string_view cert_pem, std::string_view chain_pem, const keyless_policy& p) {
  auto certs = tlog::detail::load_certs(cert_pem);  // throws verify_error (a runtime_error)
  if (!chain_pem.empty())
    for (auto& c : tlog::detail::load_certs(chain_pem)) certs.push_back(std::move(c));
  X509* leaf = certs.front().get();
  certificate_facts f{tlog::detail::cert_not_before(leaf), tlog::detail::cert_not_after(leaf)};

  std::unique_ptr<X509_STORE, freer<X509_STORE_free>> store(X509_STORE_new());
  for (auto& root : tlog::detail::load_certs(p.roots_pem)) X509_STORE_add_cert(store.get(), root.get());
  std::unique_ptr<STACK_OF(X509), freer<free_stack>> untrusted(sk_X509_new_null());
  for (std::size_t i = 1; i < certs.size(); ++i) sk_X509_push(untrusted.get(), certs[i].get());
  std::unique_ptr<X509_STORE_CTX, freer<X509_STORE_CTX_free>> ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf, untrusted.get()) != 1)
    throw std::runtime_error("cannot set up certificate verification");
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_PARTIAL_CHAIN);  // a trusted intermediate is enough
  X509_STORE_CTX_set_time(ctx.get(), 0, f.not_before);
  if (X509_verify_cert(ctx.get()) != 1)
    throw std::runtime_error("the certificate does not chain to " + p.roots_name + ": " +
                             X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));

  if (!(X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) || !(X509_get_extended_key_usage(leaf) & XKU_CODE_SIGN))
    throw std::runtime_error("the certificate is not for code signing (extended key usage)");
  const auto ids = san_identities(leaf);
  bool named = false;
  for (const auto& id : ids) named = named || id == p.identity;
  if (!named)
    throw std::runtime_error("the certificate's identities (" + joined(ids) + ") do not include --certificate-identity " +
                             p.identity);
  const std::string issuer = oidc_issuer(leaf);
  if (issuer != p.issuer)
    throw std::runtime_error("the certificate's OIDC issuer is \"" + issuer + "\", not --certificate-oidc-issuer " +
                             p.issuer);
  return f;
}

}  // namespace chainsd::app
