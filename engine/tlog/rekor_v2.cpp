#include "tlog/rekor_v2.hpp"

#include "chainsd/plugin/encoding.hpp"
#include "tlog/json_fields.hpp"
#include "tlog/merkle.hpp"
#include "tlog/pkey.hpp"

#include <boost/json.hpp>
#include <openssl/pem.h>

namespace chainsd::tlog {
namespace json = boost::json;
using plugin::base64_encode;

namespace {

bool is_certificate(std::string_view pem) { return pem.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos; }

std::string curve_name(EVP_PKEY* key) {
  char name[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, "group", name, sizeof name, &len) != 1) return "unknown curve";
  return name;
}

}  // namespace

std::string v2_key_details(std::string_view verifier_pem) {
  auto key = detail::load_key(verifier_pem);
  switch (EVP_PKEY_get_base_id(key.get())) {
    case EVP_PKEY_EC: {
      auto curve = curve_name(key.get());
      if (curve == "prime256v1" || curve == "P-256") return "PKIX_ECDSA_P256_SHA_256";
      throw unsupported_key_error("an ECDSA " + curve + " key: Rekor v2 takes that curve only with SHA-384/512 "
                                  "signatures, and chainsd's signers sign with SHA-256 (use a P-256 key)");
    }
    case EVP_PKEY_RSA: {
      int bits = EVP_PKEY_get_bits(key.get());
      if (bits == 2048 || bits == 3072 || bits == 4096) return "PKIX_RSA_PKCS1V15_" + std::to_string(bits) + "_SHA256";
      throw unsupported_key_error("an RSA key of " + std::to_string(bits) +
                                  " bits: Rekor v2 takes RSA keys of 2048, 3072 or 4096 bits");
    }
    case EVP_PKEY_ED25519:
      throw unsupported_key_error("an Ed25519 key: Rekor v2 accepts only signatures over a digest (hashedrekord), and "
                                  "pure Ed25519 signs the message itself (use an ECDSA P-256 or RSA key)");
    default:
      throw unsupported_key_error("a key type Rekor v2 does not accept");
  }
}

namespace {

struct verifier_info {
  std::string pem, key_details, der;
  bool is_cert = false;
};

// Encoding a key or certificate through OpenSSL 3's encoders costs more than the rest of a
// request: the few verifiers in use (a signer's key, the current Fulcio certificate) are kept.
const verifier_info& verifier_of(std::string_view pem) {
  thread_local std::deque<verifier_info> cache;
  for (const auto& v : cache)
    if (v.pem == pem) return v;
  verifier_info v;
  v.pem = std::string(pem);
  v.key_details = v2_key_details(pem);
  v.is_cert = is_certificate(pem);
  if (v.is_cert) {
    auto certs = detail::load_certs(pem);
    v.der = detail::cert_der(certs.front().get());
  } else {
    v.der = detail::spki_der(detail::load_key(pem).get());
  }
  cache.push_front(std::move(v));
  if (cache.size() > 8) cache.pop_back();
  return cache.front();
}

}  // namespace

v2_request hashedrekord_v2_request(std::string_view digest, std::string_view signature, std::string_view verifier_pem) {
  v2_request r;
  r.digest = std::string(digest);
  r.signature = std::string(signature);
  const auto& v = verifier_of(verifier_pem);
  r.key_details = v.key_details;
  r.verifier_is_cert = v.is_cert;
  r.verifier_der = v.der;
  json::object verifier;
  if (r.verifier_is_cert)
    verifier["x509Certificate"] = {{"rawBytes", base64_encode(r.verifier_der)}};
  else
    verifier["publicKey"] = {{"rawBytes", base64_encode(r.verifier_der)}};
  verifier["keyDetails"] = r.key_details;
  json::object req{
      {"hashedRekordRequestV002",
       {{"digest", base64_encode(r.digest)},
        {"signature", {{"content", base64_encode(r.signature)}, {"verifier", std::move(verifier)}}}}}};
  r.json = json::serialize(req);
  return r;
}

v2_entry parse_v2_entry(std::string_view text) {
  using namespace detail;
  auto doc = parse_json(text, "rekor v2 entry");
  if (!doc.is_object()) throw verify_error("rekor v2 entry: not an object");
  v2_entry e;
  e.log_index = int64_field(doc, "logIndex", "rekor v2 entry");
  if (e.log_index < 0) throw verify_error("rekor v2 entry: negative logIndex");
  e.log_id = bytes_field(at(doc, "logId", "rekor v2 entry"), "keyId", "rekor v2 entry logId");
  const auto& kv = at(doc, "kindVersion", "rekor v2 entry");
  e.kind = str(kv, "kind", "rekor v2 entry kindVersion");
  e.version = str(kv, "version", "rekor v2 entry kindVersion");
  e.body = bytes_field(doc, "canonicalizedBody", "rekor v2 entry");
  const auto& ip = at(doc, "inclusionProof", "rekor v2 entry");
  // inclusionProof.logIndex, rootHash and treeSize repeat what the top-level logIndex and the
  // verified checkpoint say; rekor-tiles tells clients to use those instead.
  e.checkpoint = str(at(ip, "checkpoint", "rekor v2 inclusion proof"), "envelope", "rekor v2 checkpoint");
  if (const auto* hs = find(ip, "hashes")) {
    if (!hs->is_array()) throw verify_error("rekor v2 inclusion proof: \"hashes\" is not an array");
    for (const auto& h : hs->get_array()) {
      if (!h.is_string()) throw verify_error("rekor v2 inclusion proof: a hash is not a string");
      try {
        e.hashes.push_back(plugin::base64_decode(h.get_string()));
      } catch (const std::invalid_argument&) {
        throw verify_error("rekor v2 inclusion proof: a hash is not base64");
      }
    }
  }
  return e;
}

std::string v2_entry_json(const v2_entry& e, const checkpoint& cp) {
  json::array hashes;
  for (const auto& h : e.hashes) hashes.emplace_back(base64_encode(h));
  json::object o{
      {"logIndex", std::to_string(e.log_index)},
      {"logId", {{"keyId", base64_encode(e.log_id)}}},
      {"kindVersion", {{"kind", e.kind}, {"version", e.version}}},
      {"inclusionProof",
       {{"logIndex", std::to_string(e.log_index)},
        {"rootHash", base64_encode(cp.root)},
        {"treeSize", std::to_string(cp.size)},
        {"hashes", std::move(hashes)},
        {"checkpoint", {{"envelope", e.checkpoint}}}}},
      {"canonicalizedBody", base64_encode(e.body)},
  };
  return json::serialize(o);
}

void verify_v2_body(const v2_entry& e, const v2_request& r) {
  using namespace detail;
  if (e.kind != "hashedrekord" || e.version != "0.0.2")
    throw verify_error("rekor v2 entry is of kind " + e.kind + " " + e.version + ", not hashedrekord 0.0.2");
  auto body = parse_json(e.body, "rekor v2 entry body");
  if (str(body, "kind", "rekor v2 entry body") != "hashedrekord" || str(body, "apiVersion", "rekor v2 entry body") != "0.0.2")
    throw verify_error("rekor v2 entry body is not hashedrekord 0.0.2");
  const auto& spec = at(at(body, "spec", "rekor v2 entry body"), "hashedRekordV002", "rekor v2 entry body spec");
  const auto& data = at(spec, "data", "hashedrekord body");
  if (str(data, "algorithm", "hashedrekord data") != "SHA2_256")
    throw verify_error("hashedrekord body: data.algorithm is not SHA2_256");
  if (bytes_field(data, "digest", "hashedrekord data") != r.digest)
    throw verify_error("hashedrekord body: digest differs from ours");
  const auto& sig = at(spec, "signature", "hashedrekord body");
  if (bytes_field(sig, "content", "hashedrekord signature") != r.signature)
    throw verify_error("hashedrekord body: signature differs from ours");
  const auto& ver = at(sig, "verifier", "hashedrekord signature");
  if (str(ver, "keyDetails", "hashedrekord verifier") != r.key_details)
    throw verify_error("hashedrekord body: keyDetails differ from ours (" + r.key_details + ")");
  const char* member = r.verifier_is_cert ? "x509Certificate" : "publicKey";
  const auto* v = find(ver, member);
  if (!v || bytes_field(*v, "rawBytes", "hashedrekord verifier") != r.verifier_der)
    throw verify_error(std::string("hashedrekord body: verifier ") + member + " differs from ours");
}

const checkpoint& checkpoint_cache::verify(std::string_view signed_note, const note_key& key) {
  for (const auto& i : items_)
    if (i.text == signed_note && i.key_id == key.id) return i.cp;
  auto cp = verify_checkpoint_note(signed_note, key);
  items_.push_front(item{std::string(signed_note), key.id, std::move(cp)});
  if (items_.size() > 4) items_.pop_back();
  return items_.front().cp;
}

checkpoint verify_v2_entry(const v2_entry& e, const note_key& key, const v2_request& r, checkpoint_cache& cache) {
  verify_v2_body(e, r);
  if (e.log_id != key.id)
    throw verify_error("rekor v2 entry: logId " + to_hex(e.log_id) + " is not the log key's ID " + to_hex(key.id));
  checkpoint cp = cache.verify(e.checkpoint, key);
  auto index = static_cast<std::uint64_t>(e.log_index);
  try {
    auto root = root_from_inclusion_proof(index, cp.size, leaf_hash(e.body), e.hashes);
    if (root != cp.root)
      throw verify_error("inclusion proof does not lead to the checkpoint's root " + to_hex(cp.root) + " (got " +
                         to_hex(root) + ")");
  } catch (const std::invalid_argument& ex) {
    throw verify_error(std::string("inclusion proof: ") + ex.what());
  }
  return cp;
}

}  // namespace chainsd::tlog
