#include "tlog/entry.hpp"

#include "chainsd/plugin/encoding.hpp"
#include "tlog/canonical_json.hpp"
#include "tlog/json_fields.hpp"
#include "tlog/merkle.hpp"
#include "tlog/pkey.hpp"

#include <boost/json.hpp>

namespace chainsd::tlog {
namespace json = boost::json;
using plugin::base64_decode;
using plugin::base64_encode;

namespace {

using detail::at;
using detail::load_key;
using detail::num;
using detail::parse_json;
using detail::str;

std::string sha256_hex(std::string_view data) { return to_hex(sha256(data)); }

}  // namespace

proposal dsse_proposal(std::string_view envelope_json, std::string_view verifier_pem) {
  auto env = parse_json(envelope_json, "dsse envelope");
  proposal p;
  p.kind = "dsse";
  try {
    p.payload_hash = sha256_hex(base64_decode(str(env, "payload", "dsse envelope")));
  } catch (const std::invalid_argument& e) {
    throw verify_error(std::string("dsse envelope: payload: ") + e.what());
  }
  p.envelope_hash = sha256_hex(envelope_json);
  const auto& sigs = at(env, "signatures", "dsse envelope");
  if (!sigs.is_array() || sigs.get_array().empty()) throw verify_error("dsse envelope: no signatures");
  p.signature_b64 = str(sigs.get_array()[0], "sig", "dsse envelope signature");
  json::object spec{{"proposedContent",
                     {{"envelope", envelope_json}, {"verifiers", json::array{json::string(base64_encode(verifier_pem))}}}}};
  json::object body{{"apiVersion", "0.0.1"}, {"kind", "dsse"}, {"spec", std::move(spec)}};
  p.json = json::serialize(body);
  return p;
}

proposal hashedrekord_proposal(std::string_view payload, std::string_view signature, std::string_view verifier_pem) {
  proposal p;
  p.kind = "hashedrekord";
  p.payload_hash = sha256_hex(payload);
  p.signature_b64 = base64_encode(signature);
  json::object spec{
      {"data", {{"hash", {{"algorithm", "sha256"}, {"value", p.payload_hash}}}}},
      {"signature", {{"content", p.signature_b64}, {"publicKey", {{"content", base64_encode(verifier_pem)}}}}}};
  json::object body{{"apiVersion", "0.0.1"}, {"kind", "hashedrekord"}, {"spec", std::move(spec)}};
  p.json = json::serialize(body);
  return p;
}

log_entry parse_log_entry(std::string_view response_json) {
  auto doc = parse_json(response_json, "log entry");
  const auto* top = doc.if_object();
  if (!top || top->size() != 1) throw verify_error("log entry: expected an object with exactly one entry");
  const auto& [uuid, v] = *top->begin();
  log_entry e;
  e.uuid = std::string(uuid);
  e.body_b64 = str(v, "body", "log entry");
  e.integrated_time = num(v, "integratedTime", "log entry");
  e.log_id = str(v, "logID", "log entry");
  e.log_index = num(v, "logIndex", "log entry");
  const auto& ver = at(v, "verification", "log entry");
  e.set_b64 = str(ver, "signedEntryTimestamp", "log entry verification");
  if (const auto* o = ver.as_object().if_contains("inclusionProof")) {
    const auto& ip = *o;
    e.has_proof = true;
    auto idx = num(ip, "logIndex", "inclusion proof");
    auto size = num(ip, "treeSize", "inclusion proof");
    if (idx < 0 || size < 0) throw verify_error("inclusion proof: negative index or size");
    e.proof.log_index = static_cast<std::uint64_t>(idx);
    e.proof.tree_size = static_cast<std::uint64_t>(size);
    e.proof.root_hash = str(ip, "rootHash", "inclusion proof");
    e.proof.checkpoint = str(ip, "checkpoint", "inclusion proof");
    const auto& hs = at(ip, "hashes", "inclusion proof");
    if (!hs.is_array()) throw verify_error("inclusion proof: \"hashes\" is not an array");
    for (const auto& h : hs.get_array()) {
      if (!h.is_string()) throw verify_error("inclusion proof: a hash is not a string");
      e.proof.hashes.emplace_back(h.get_string());
    }
  }
  e.json = std::string(response_json);
  return e;
}

std::string set_payload(const log_entry& e) {
  json::object o{{"body", e.body_b64}, {"integratedTime", e.integrated_time}, {"logID", e.log_id},
                 {"logIndex", e.log_index}};
  return canonical_json(o);
}

log_key parse_log_key(std::string_view pem) {
  auto k = load_key(pem);
  auto h = sha256(detail::spki_der(k.get()));
  log_key out;
  out.pem = std::string(pem);
  out.log_id = to_hex(h);
  for (int i = 0; i < 4; ++i) out.note_key_hash = out.note_key_hash << 8 | static_cast<unsigned char>(h[static_cast<std::size_t>(i)]);
  return out;
}

bool verify_signature(std::string_view pem, std::string_view message, std::string_view signature) {
  auto key = load_key(pem);
  // Ed25519 signs the message itself; ECDSA and RSA (PKCS#1 v1.5) a SHA-256 digest, as Rekor.
  return detail::verify_message(key.get(), message, signature);
}

void verify_set(const log_entry& e, const log_key& key) {
  if (e.log_id != key.log_id)
    throw verify_error("log entry: logID " + e.log_id + " is not the log key's id " + key.log_id);
  std::string sig;
  try {
    sig = base64_decode(e.set_b64);
  } catch (const std::invalid_argument&) {
    throw verify_error("signed entry timestamp: invalid base64");
  }
  if (!verify_signature(key.pem, set_payload(e), sig))
    throw verify_error("signed entry timestamp does not verify with the log's public key");
}

void verify_inclusion(const log_entry& e) {
  if (!e.has_proof) throw verify_error("log entry has no inclusion proof");
  std::string body;
  try {
    body = base64_decode(e.body_b64);
  } catch (const std::invalid_argument&) {
    throw verify_error("log entry: body is not base64");
  }
  auto leaf = leaf_hash(body);
  // The UUID ends with the leaf hash (after a 16-hex tree id on sharded logs).
  auto leaf_hex = to_hex(leaf);
  if (e.uuid.size() < 64 || e.uuid.compare(e.uuid.size() - 64, 64, leaf_hex) != 0)
    throw verify_error("log entry: uuid " + e.uuid + " does not name the body's leaf hash " + leaf_hex);
  std::vector<std::string> hashes;
  std::string root;
  try {
    for (const auto& h : e.proof.hashes) hashes.push_back(from_hex(h));
    root = from_hex(e.proof.root_hash);
    auto got = root_from_inclusion_proof(e.proof.log_index, e.proof.tree_size, leaf, hashes);
    if (got != root)
      throw verify_error("inclusion proof does not lead to root hash " + e.proof.root_hash + " (got " + to_hex(got) + ")");
  } catch (const std::invalid_argument& ex) {
    throw verify_error(std::string("inclusion proof: ") + ex.what());
  }
}

void verify_checkpoint(const log_entry& e, const log_key& key) {
  if (!e.has_proof) throw verify_error("log entry has no inclusion proof");
  const std::string& text = e.proof.checkpoint;
  auto split = text.rfind("\n\n");
  if (split == std::string::npos || text.empty() || text.back() != '\n')
    throw verify_error("checkpoint: malformed signed note");
  std::string note = text.substr(0, split + 1);
  std::string sigs = text.substr(split + 2);
  static constexpr std::string_view dash = "\xe2\x80\x94 ";  // U+2014 EM DASH, then a space
  bool verified = false;
  for (std::size_t pos = 0; pos < sigs.size();) {
    auto nl = sigs.find('\n', pos);
    std::string line = sigs.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.rfind(dash, 0) != 0) throw verify_error("checkpoint: malformed signature line");
    auto sp = line.rfind(' ');
    std::string raw;
    try {
      raw = base64_decode(std::string_view(line).substr(sp + 1));
    } catch (const std::invalid_argument&) {
      throw verify_error("checkpoint: signature is not base64");
    }
    if (raw.size() < 5) throw verify_error("checkpoint: signature is too short");
    std::uint32_t hint = 0;
    for (int i = 0; i < 4; ++i) hint = hint << 8 | static_cast<unsigned char>(raw[static_cast<std::size_t>(i)]);
    // Other signers (witnesses) may cosign; only the log's own signature must verify.
    if (hint != key.note_key_hash) continue;
    if (!verify_signature(key.pem, note, std::string_view(raw).substr(4)))
      throw verify_error("checkpoint signature does not verify with the log's public key");
    verified = true;
  }
  if (!verified) throw verify_error("checkpoint carries no signature by the log's public key");
  // origin \n size \n base64(root) \n [other lines]
  auto l1 = note.find('\n');
  auto l2 = l1 == std::string::npos ? l1 : note.find('\n', l1 + 1);
  auto l3 = l2 == std::string::npos ? l2 : note.find('\n', l2 + 1);
  if (l3 == std::string::npos || l1 == 0) throw verify_error("checkpoint: too few lines");
  std::string size = note.substr(l1 + 1, l2 - l1 - 1);
  std::string root_b64 = note.substr(l2 + 1, l3 - l2 - 1);
  if (size != std::to_string(e.proof.tree_size))
    throw verify_error("checkpoint tree size " + size + " is not the proof's " + std::to_string(e.proof.tree_size));
  std::string root;
  try {
    root = base64_decode(root_b64);
  } catch (const std::invalid_argument&) {
    throw verify_error("checkpoint: root hash is not base64");
  }
  if (to_hex(root) != e.proof.root_hash)
    throw verify_error("checkpoint root hash " + to_hex(root) + " is not the proof's " + e.proof.root_hash);
}

void verify_body_matches(const log_entry& e, const proposal& p) {
  std::string text;
  try {
    text = base64_decode(e.body_b64);
  } catch (const std::invalid_argument&) {
    throw verify_error("log entry: body is not base64");
  }
  auto body = parse_json(text, "log entry body");
  if (str(body, "kind", "log entry body") != p.kind)
    throw verify_error("log entry body is of kind " + str(body, "kind", "log entry body") + ", not " + p.kind);
  if (str(body, "apiVersion", "log entry body") != "0.0.1") throw verify_error("log entry body: apiVersion is not 0.0.1");
  const auto& spec = at(body, "spec", "log entry body");
  if (p.kind == "dsse") {
    if (str(at(spec, "payloadHash", "dsse body"), "value", "dsse payloadHash") != p.payload_hash)
      throw verify_error("dsse body: payloadHash differs from our payload's");
    if (str(at(spec, "envelopeHash", "dsse body"), "value", "dsse envelopeHash") != p.envelope_hash)
      throw verify_error("dsse body: envelopeHash differs from our envelope's");
    const auto& sigs = at(spec, "signatures", "dsse body");
    bool found = false;
    if (sigs.is_array())
      for (const auto& s : sigs.get_array()) found = found || str(s, "signature", "dsse signature") == p.signature_b64;
    if (!found) throw verify_error("dsse body: our signature is not among its signatures");
  } else {
    if (str(at(at(spec, "data", "hashedrekord body"), "hash", "hashedrekord data"), "value", "hashedrekord hash") !=
        p.payload_hash)
      throw verify_error("hashedrekord body: hash differs from our payload's");
    if (str(at(spec, "signature", "hashedrekord body"), "content", "hashedrekord signature") != p.signature_b64)
      throw verify_error("hashedrekord body: signature differs from ours");
  }
}

void verify_entry(const log_entry& e, const log_key& key, const proposal& p) {
  verify_body_matches(e, p);
  verify_set(e, key);
  verify_inclusion(e);
  verify_checkpoint(e, key);
}

}  // namespace chainsd::tlog
