#pragma once
// `chainsd verify` without a key: a keyless signature's Fulcio certificate (the cert-<key>
// annotation, intermediates in chain-<key>) must chain to a root the user trusts, be for code
// signing, and name the identity and OIDC issuer asked for, as cosign's --certificate-identity and
// --certificate-oidc-issuer. Pure OpenSSL (engine/tlog's certificate helpers), no I/O.

#include <ctime>
#include <string>
#include <string_view>

namespace chainsd::app {

struct keyless_policy {
  std::string identity;   // --certificate-identity: an email or URI SAN, exactly
  std::string issuer;     // --certificate-oidc-issuer: extension 1.3.6.1.4.1.57264.1.8 (else .1.1)
  std::string roots_pem;  // --ca-roots: the trusted Fulcio root (and intermediates)
  std::string roots_name;
};

struct certificate_facts {
  std::time_t not_before = 0, not_after = 0;
};

// Checks `cert_pem` (leaf first; `chain_pem` may add intermediates) against `p`, the chain at the
// leaf's notBefore (a Fulcio certificate lives ten minutes; when it was used is the log's to say).
// Throws std::runtime_error saying what does not hold.
certificate_facts check_certificate(std::string_view cert_pem, std::string_view chain_pem, const keyless_policy& p);

}  // namespace chainsd::app
