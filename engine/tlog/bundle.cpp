#include "tlog/bundle.hpp"

#include "chainsd/plugin/encoding.hpp"
#include "tlog/merkle.hpp"

#include <boost/json.hpp>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

namespace chainsd::tlog {
namespace json = boost::json;
using plugin::base64_decode;
using plugin::base64_encode;

namespace {

std::string cert_der(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) throw verify_error("bundle: signer certificate is not PEM");
  int len = i2d_X509(cert.get(), nullptr);
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(cert.get(), &p);
  return der;
}

// Protobuf JSON: 64-bit integers are strings, bytes are base64.
json::object tlog_entry(const log_entry& e) {
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

json::object material(const log_entry& e, const bundle_signer& who) {
  json::object m;
  if (!who.cert_pem.empty())
    m["certificate"] = {{"rawBytes", base64_encode(cert_der(who.cert_pem))}};
  else
    m["publicKey"] = {{"hint", who.key_hint}};
  m["tlogEntries"] = json::array{tlog_entry(e)};
  return m;
}

constexpr std::string_view media_type = "application/vnd.dev.sigstore.bundle.v0.3+json";

}  // namespace

std::string sigstore_bundle_dsse(const log_entry& e, std::string_view envelope_json, const bundle_signer& who) {
  auto env = json::parse(envelope_json);
  json::array sigs;
  for (const auto& s : env.at("signatures").as_array()) {
    json::object o{{"sig", s.at("sig")}};
    const auto* kid = s.as_object().if_contains("keyid");
    o["keyid"] = kid && kid->is_string() ? kid->as_string() : json::string();
    sigs.push_back(std::move(o));
  }
  json::object b{{"mediaType", media_type},
                 {"verificationMaterial", material(e, who)},
                 {"dsseEnvelope",
                  {{"payload", env.at("payload")}, {"payloadType", env.at("payloadType")}, {"signatures", std::move(sigs)}}}};
  return json::serialize(b);
}

std::string sigstore_bundle_message_signature(const log_entry& e, std::string_view payload, std::string_view signature,
                                              const bundle_signer& who) {
  json::object b{{"mediaType", media_type},
                 {"verificationMaterial", material(e, who)},
                 {"messageSignature",
                  {{"messageDigest", {{"algorithm", "SHA2_256"}, {"digest", base64_encode(sha256(payload))}}},
                   {"signature", base64_encode(signature)}}}};
  return json::serialize(b);
}

}  // namespace chainsd::tlog
