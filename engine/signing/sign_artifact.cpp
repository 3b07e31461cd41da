#include "signing/sign_artifact.hpp"

#include "signing/dsse.hpp"

namespace chainsd::signing {

std::size_t signed_artifact::bytes() const {
  return signature.size() + envelope.size() + cert_pem.size() + chain_pem.size() + public_key_pem.size() +
         key_id.size();
}

std::string cached_key_id(const std::string& pem) {
  thread_local std::string last_pem, last_id;
  if (pem != last_pem) {
    last_id = ssh_key_id(pem);
    last_pem = pem;
  }
  return last_id;
}

boost::asio::awaitable<plugin::result<signed_artifact>> sign_artifact(plugin::signer& signer, std::string payload,
                                                                      bool dsse) {
  std::string message = dsse ? pae(in_toto_payload_type, payload) : payload;
  auto sig = co_await signer.sign(std::move(message));
  if (!sig) co_return sig.error();
  signed_artifact out;
  out.dsse = dsse;
  out.signature = std::move(sig->signature);
  out.cert_pem = std::move(sig->cert_pem);
  out.chain_pem = std::move(sig->chain_pem);
  out.public_key_pem = signer.public_key_pem();
  if (out.public_key_pem.empty()) co_return plugin::fail(plugin::errc::permanent, "the signer gave no public key");
  if (dsse) {
    try {
      out.key_id = cached_key_id(out.public_key_pem);
    } catch (const std::exception& e) {
      // Upstream fails too when it cannot derive the SSH key id.
      co_return plugin::fail(plugin::errc::permanent, std::string("key id: ") + e.what());
    }
    out.envelope = envelope_json(in_toto_payload_type, payload, out.key_id, out.signature);
  }
  co_return out;
}

}  // namespace chainsd::signing
