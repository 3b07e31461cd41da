#pragma once
// A signer plugin signs message bytes with one key (or one short-lived certificate). The engine
// decides what the message is: the raw simplesigning payload, or DSSE's pre-authentication
// encoding (PAE) of an in-toto statement; the envelope is built by the engine, not the plugin.

#include "chainsd/plugin/config.hpp"
#include "chainsd/plugin/errors.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>

namespace chainsd::plugin {

struct signature_result {
  std::string signature;   // raw signature bytes (DER for ECDSA, as upstream and cosign)
  std::string cert_pem;    // leaf certificate when signing with one (Fulcio), else empty
  std::string chain_pem;   // its chain, else empty
};

class signer {
 public:
  virtual ~signer() = default;

  // Signs `message`. The plugin must not keep references to it after completion.
  virtual boost::asio::awaitable<result<signature_result>> sign(std::string message) = 0;

  // SubjectPublicKeyInfo PEM of the signing key ("-----BEGIN PUBLIC KEY-----").
  virtual std::string public_key_pem() const = 0;
};

}  // namespace chainsd::plugin
