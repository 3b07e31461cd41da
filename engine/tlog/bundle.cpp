#include "tlog/bundle.hpp"

#include "chainsd/plugin/encoding.hpp"
#include "tlog/json_fields.hpp"
#include "tlog/merkle.hpp"
#include "tlog/pkey.hpp"

#include <boost/json.hpp>

namespace chainsd::tlog {
namespace json = boost::json;
using plugin::base64_decode;
using plugin::base64_encode;

namespace {

std::string leaf_cert_der(std::string_view pem) {
  try {
    auto certs = detail::load_certs(pem);
    return detail::cert_der(certs.front().get());
  } catch (const verify_error&) {
    throw verify_error("bundle: signer certificate is not PEM");
  }
}

// Protobuf JSON: 64-bit integers are strings, bytes are base64.
json::object v1_tlog_entry(const log_entry& e) {
  if (!e.has_proof) throw verify_error("bundle: a v0.3 bundle needs the entry's inclusion proof");
  auto body = json::parse(base64_decode(e.body_b64));
  json::array hashes;
  for (const auto& h : e.proof.hashes) hashes.emplace_back(base64_encode(from_hex(h)));
  return {
      {"logIndex", std::to_string(e.log_index)},
      {"logId", {{"keyId", base64_encode(from_hex(e.log_id))}}},
      {"kindVersion", {{"kind", body.at("kind")}, {"version", body.at("apiVersion")}}},
      {"integratedTime", std::to_string(e.integrated_time)},
      {"inclusionPromise", {{"signedEntryTimestamp", e.set_b64}}},
      {"inclusionProof",
       {{"logIndex", std::to_string(e.proof.log_index)},
        {"rootHash", base64_encode(from_hex(e.proof.root_hash))},
        {"treeSize", std::to_string(e.proof.tree_size)},
        {"hashes", std::move(hashes)},
        {"checkpoint", {{"envelope", e.proof.checkpoint}}}}},
      {"canonicalizedBody", e.body_b64},
  };
}

constexpr std::string_view media_type = "application/vnd.dev.sigstore.bundle.v0.3+json";

// Member order is what existing bundles (and their byte-identical reproduction) have.
std::string build(const bundle_content& c, const bundle_signer& who, json::array tlog_entries,
                  const std::vector<std::string>& timestamps) {
  json::object m;
  if (!who.cert_pem.empty())
    m["certificate"] = {{"rawBytes", base64_encode(leaf_cert_der(who.cert_pem))}};
  else
    m["publicKey"] = {{"hint", who.key_hint}};
  m["tlogEntries"] = std::move(tlog_entries);
  if (!timestamps.empty()) {
    json::array ts;
    for (const auto& der : timestamps) ts.push_back(json::object{{"signedTimestamp", base64_encode(der)}});
    m["timestampVerificationData"] = {{"rfc3161Timestamps", std::move(ts)}};
  }
  json::object b{{"mediaType", media_type}, {"verificationMaterial", std::move(m)}};
  if (!c.envelope_json.empty()) {
    auto env = detail::parse_json(c.envelope_json, "bundle: dsse envelope");
    json::array sigs;
    for (const auto& s : env.at("signatures").as_array()) {
      json::object o{{"sig", s.at("sig")}};
      const auto* kid = s.as_object().if_contains("keyid");
      o["keyid"] = kid && kid->is_string() ? kid->as_string() : json::string();
      sigs.push_back(std::move(o));
    }
    b["dsseEnvelope"] = {
        {"payload", env.at("payload")}, {"payloadType", env.at("payloadType")}, {"signatures", std::move(sigs)}};
  } else {
    b["messageSignature"] = {{"messageDigest", {{"algorithm", "SHA2_256"}, {"digest", base64_encode(sha256(c.payload))}}},
                             {"signature", base64_encode(c.signature)}};
  }
  return json::serialize(b);
}

}  // namespace

std::string v1_tlog_entry_json(const log_entry& e) { return json::serialize(v1_tlog_entry(e)); }

std::string sigstore_bundle(const bundle_content& content, const bundle_signer& who,
                            const std::vector<std::string>& tlog_entries, const std::vector<std::string>& timestamps) {
  json::array entries;
  for (const auto& t : tlog_entries) entries.push_back(detail::parse_json(t, "bundle: tlog entry"));
  return build(content, who, std::move(entries), timestamps);
}

std::string sigstore_bundle_unlogged(const bundle_content& content, const bundle_signer& who) noexcept {
  try {
    return build(content, who, {}, {});
  } catch (const std::exception&) {
    return {};
  }
}

std::string sigstore_bundle_dsse(const log_entry& e, std::string_view envelope_json, const bundle_signer& who) {
  return build({std::string(envelope_json), {}, {}}, who, json::array{v1_tlog_entry(e)}, {});
}

std::string sigstore_bundle_message_signature(const log_entry& e, std::string_view payload, std::string_view signature,
                                              const bundle_signer& who) {
  return build({{}, std::string(payload), std::string(signature)}, who, json::array{v1_tlog_entry(e)}, {});
}

}  // namespace chainsd::tlog
