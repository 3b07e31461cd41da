#include "tlog/log_artifact.hpp"

#include "tlog/bundle.hpp"

namespace chainsd::tlog {

boost::asio::awaitable<log_result> rekor_v1_log::log(log_request r) {
  client& c = *client_;
  proposal prop = r.dsse ? dsse_proposal(r.envelope_json, r.verifier_pem)
                         : hashedrekord_proposal(r.payload, r.signature_der, r.verifier_pem);
  log_entry entry = co_await c.upload(std::move(prop));
  log_result out;
  out.annotation = c.entry_url(entry.log_index);
  out.log_index = entry.log_index;
  bundle_signer who{r.cert_pem, r.dsse ? r.key_id : std::string()};
  out.bundle_json = r.dsse ? sigstore_bundle_dsse(entry, r.envelope_json, who)
                           : sigstore_bundle_message_signature(entry, r.payload, r.signature_der, who);
  out.entry_json = std::move(entry.json);
  co_return out;
}

}  // namespace chainsd::tlog
