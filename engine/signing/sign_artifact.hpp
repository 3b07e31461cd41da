#pragma once
// The DSSE adapter around a signer plugin: the engine decides what is signed (the PAE of an
// in-toto statement, or the raw simplesigning payload) and builds the envelope; the plugin only
// signs bytes. Errors keep the plugin's class.
//
// Ownership: the signer is borrowed for the duration of the call. Cancellation: passed through
// to the plugin's sign().

#include <chainsd/plugin/errors.hpp>
#include <chainsd/plugin/signer.hpp>

#include <boost/asio/awaitable.hpp>

#include <string>

namespace chainsd::signing {

struct signed_artifact {
  bool dsse = false;
  std::string signature;       // raw signature bytes (DER for ECDSA)
  std::string envelope;        // the DSSE envelope JSON when dsse, else empty
  std::string cert_pem;        // Fulcio leaf when keyless, else empty
  std::string chain_pem;
  std::string public_key_pem;  // read after signing: a keyless signer may have switched keys
  std::string key_id;          // DSSE keyid ("SHA256:..."), dsse only
  // What storage backends receive as the signature: the envelope, or the raw signature.
  const std::string& stored_signature() const { return dsse ? envelope : signature; }
  std::size_t bytes() const;
};

boost::asio::awaitable<plugin::result<signed_artifact>> sign_artifact(plugin::signer& signer, std::string payload,
                                                                      bool dsse);

// ssh_key_id() of the last public key seen (parsing the PEM for every signature is measurable).
// Throws as ssh_key_id does.
std::string cached_key_id(const std::string& public_key_pem);

}  // namespace chainsd::signing
