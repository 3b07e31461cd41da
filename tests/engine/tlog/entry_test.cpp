#include "chainsd/plugin/encoding.hpp"
#include "test_crypto.hpp"
#include "../../support/pae_oracle.hpp"
#include "tlog/canonical_json.hpp"
#include "tlog/entry.hpp"
#include "tlog/merkle.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace chainsd::tlog;
using chainsd::plugin::base64_decode;
using chainsd::plugin::base64_encode;
namespace json = boost::json;

namespace {

std::string pae(std::string_view type, std::string_view payload) { return test_support::pae_oracle(type, payload); }

std::string envelope(const test::ec_key& k, std::string_view payload) {
  auto sig = k.sign(pae("application/vnd.in-toto+json", payload));
  return R"({"payloadType":"application/vnd.in-toto+json","payload":")" + base64_encode(payload) +
         R"(","signatures":[{"keyid":"SHA256:x","sig":")" + base64_encode(sig) + R"("}]})";
}

// What Rekor stores for a proposal (the stub and Rekor's Canonicalize()).
std::string rekor_body(const proposal& p, const std::string& pem) {
  json::value v;
  if (p.kind == "dsse")
    v = {{"apiVersion", "0.0.1"}, {"kind", "dsse"},
         {"spec", {{"envelopeHash", {{"algorithm", "sha256"}, {"value", p.envelope_hash}}},
                   {"payloadHash", {{"algorithm", "sha256"}, {"value", p.payload_hash}}},
                   {"signatures", json::array{{{"signature", p.signature_b64}, {"verifier", base64_encode(pem)}}}}}}};
  else
    v = {{"apiVersion", "0.0.1"}, {"kind", "hashedrekord"},
         {"spec", {{"data", {{"hash", {{"algorithm", "sha256"}, {"value", p.payload_hash}}}}},
                   {"signature", {{"content", p.signature_b64}, {"publicKey", {{"content", base64_encode(pem)}}}}}}}};
  return canonical_json(v);
}

// A small log made here: four other entries around ours (index 3 of 5), SET and checkpoint
// signed with `log_key`.
struct fake_log {
  test::ec_key key;
  log_key pub = parse_log_key(key.public_pem());

  std::string entry_json(const std::string& body, bool bad_set = false, bool bad_proof = false,
                         bool bad_checkpoint = false) {
    std::vector<std::string> leaves{leaf_hash("a"), leaf_hash("b"), leaf_hash("c"), leaf_hash(body), leaf_hash("e")};
    auto root = merkle_root(leaves);
    auto proof = inclusion_proof(leaves, 3);
    if (bad_proof) proof[0][5] = static_cast<char>(proof[0][5] ^ 0x40);
    log_entry e;
    e.body_b64 = base64_encode(body);
    e.integrated_time = 1700000000;
    e.log_id = pub.log_id;
    e.log_index = 1003;
    auto set = key.sign(set_payload(e) + (bad_set ? "x" : ""));
    std::string note = "rekor.test - 42\n5\n" + base64_encode(root) + "\n";
    std::string hint;
    for (int i = 3; i >= 0; --i) hint += static_cast<char>((pub.note_key_hash >> (8 * i)) & 0xff);
    auto note_sig = key.sign(bad_checkpoint ? note + "x" : note);
    std::string checkpoint = note + "\n\xe2\x80\x94 rekor.test " + base64_encode(hint + note_sig) + "\n";
    json::array hashes;
    for (const auto& h : proof) hashes.emplace_back(to_hex(h));
    json::object inner{{"body", e.body_b64}, {"integratedTime", e.integrated_time}, {"logID", e.log_id},
                       {"logIndex", e.log_index},
                       {"verification",
                        {{"inclusionProof", {{"checkpoint", checkpoint}, {"hashes", hashes}, {"logIndex", 3},
                                             {"rootHash", to_hex(root)}, {"treeSize", 5}}},
                         {"signedEntryTimestamp", base64_encode(set)}}}};
    json::object outer;
    outer[std::string(16, '0') + to_hex(leaf_hash(body))] = inner;
    return json::serialize(outer);
  }
};

}  // namespace

TEST_CASE("dsse proposal matches Rekor's dsse v0.0.1 schema") {
  test::ec_key signer;
  std::string payload = R"({"_type":"https://in-toto.io/Statement/v0.1","subject":[]})";
  auto env = envelope(signer, payload);
  auto p = dsse_proposal(env, signer.public_pem());
  auto v = json::parse(p.json);
  CHECK(v.at("apiVersion") == "0.0.1");
  CHECK(v.at("kind") == "dsse");
  const auto& pc = v.at("spec").at("proposedContent");
  CHECK(pc.at("envelope").as_string() == env);
  REQUIRE(pc.at("verifiers").as_array().size() == 1);
  CHECK(base64_decode(pc.at("verifiers").as_array()[0].as_string()) == signer.public_pem());
  CHECK(v.at("spec").as_object().size() == 1);  // the server computes hashes and signatures
  CHECK(p.payload_hash == to_hex(sha256(payload)));
  CHECK(p.envelope_hash == to_hex(sha256(env)));
  CHECK(verify_signature(signer.public_pem(), pae("application/vnd.in-toto+json", payload),
                         base64_decode(p.signature_b64)));
}

TEST_CASE("hashedrekord proposal matches Rekor's hashedrekord v0.0.1 schema") {
  test::ec_key signer;
  std::string payload = R"({"critical":{"identity":{"docker-reference":"r/x"}}})";
  auto sig = signer.sign(payload);
  auto p = hashedrekord_proposal(payload, sig, signer.public_pem());
  auto v = json::parse(p.json);
  CHECK(v.at("kind") == "hashedrekord");
  CHECK(v.at("apiVersion") == "0.0.1");
  CHECK(v.at("spec").at("data").at("hash").at("algorithm") == "sha256");
  CHECK(v.at("spec").at("data").at("hash").at("value").as_string() == to_hex(sha256(payload)));
  CHECK(base64_decode(v.at("spec").at("signature").at("content").as_string()) == sig);
  CHECK(base64_decode(v.at("spec").at("signature").at("publicKey").at("content").as_string()) == signer.public_pem());
}

TEST_CASE("a log entry with good SET, proof and checkpoint verifies") {
  fake_log log;
  test::ec_key signer;
  std::string payload = "{\"a\":1}";
  auto p = hashedrekord_proposal(payload, signer.sign(payload), signer.public_pem());
  auto e = parse_log_entry(log.entry_json(rekor_body(p, signer.public_pem())));
  CHECK(e.log_index == 1003);
  CHECK(e.proof.log_index == 3);
  CHECK(e.proof.tree_size == 5);
  CHECK_NOTHROW(verify_entry(e, log.pub, p));
}

TEST_CASE("a dsse entry verifies against its proposal") {
  fake_log log;
  test::ec_key signer;
  auto env = envelope(signer, "{\"_type\":\"x\"}");
  auto p = dsse_proposal(env, signer.public_pem());
  auto e = parse_log_entry(log.entry_json(rekor_body(p, signer.public_pem())));
  CHECK_NOTHROW(verify_entry(e, log.pub, p));
  // Another envelope over the same payload (a new ECDSA signature) is not this entry.
  auto other = dsse_proposal(envelope(signer, "{\"_type\":\"x\"}"), signer.public_pem());
  CHECK_THROWS_AS(verify_body_matches(e, other), verify_error);
}

TEST_CASE("corrupted SET, proof, checkpoint, key or body are rejected") {
  fake_log log;
  test::ec_key signer;
  std::string payload = "{\"a\":1}";
  auto p = hashedrekord_proposal(payload, signer.sign(payload), signer.public_pem());
  auto body = rekor_body(p, signer.public_pem());
  CHECK_THROWS_WITH(verify_set(parse_log_entry(log.entry_json(body, true)), log.pub),
                    Catch::Contains("signed entry timestamp does not verify"));
  CHECK_THROWS_WITH(verify_inclusion(parse_log_entry(log.entry_json(body, false, true))),
                    Catch::Contains("inclusion proof does not lead to root hash"));
  CHECK_THROWS_WITH(verify_checkpoint(parse_log_entry(log.entry_json(body, false, false, true)), log.pub),
                    Catch::Contains("checkpoint signature does not verify"));
  fake_log other;
  CHECK_THROWS_WITH(verify_set(parse_log_entry(log.entry_json(body)), other.pub), Catch::Contains("logID"));
  CHECK_THROWS_WITH(verify_checkpoint(parse_log_entry(log.entry_json(body)), other.pub),
                    Catch::Contains("no signature by the log's public key"));
  auto other_p = hashedrekord_proposal("{\"a\":2}", signer.sign("{\"a\":2}"), signer.public_pem());
  CHECK_THROWS_WITH(verify_body_matches(parse_log_entry(log.entry_json(body)), other_p), Catch::Contains("hash differs"));
  // A SET over a tampered body (same signature) fails too.
  auto e = parse_log_entry(log.entry_json(body));
  e.body_b64 = base64_encode(rekor_body(other_p, signer.public_pem()));
  CHECK_THROWS_AS(verify_set(e, log.pub), verify_error);
  CHECK_THROWS_AS(verify_inclusion(e), verify_error);
}

TEST_CASE("malformed answers are verify_errors") {
  CHECK_THROWS_AS(parse_log_entry("[]"), verify_error);
  CHECK_THROWS_AS(parse_log_entry("{\"a\":{}}"), verify_error);
  CHECK_THROWS_AS(parse_log_entry("not json"), verify_error);
  CHECK_THROWS_AS(parse_log_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), verify_error);
}
