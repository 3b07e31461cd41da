// Rekor v2 entries without a server: the request's wire shape (rekor-tiles CLIENTS.md), which
// keys Rekor v2 takes, and verification of a TransparencyLogEntry made here by a small fake log
// (body, log ID, checkpoint signature and origin, inclusion proof), each lie refused.
#include "../../support/test_pki.hpp"
#include "chainsd/plugin/encoding.hpp"
#include "tlog/canonical_json.hpp"
#include "tlog/merkle.hpp"
#include "tlog/rekor_v2.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace chainsd::tlog;
using chainsd::plugin::base64_decode;
using chainsd::plugin::base64_encode;
using chainsd::test_support::test_ca;
using chainsd::test_support::test_key;
namespace json = boost::json;

namespace {

// What rekor-tiles stores for a request: Entry{kind, apiVersion, spec.hashedRekordV002{data,
// signature}} as protobuf JSON, canonicalized.
std::string body_for(const v2_request& r) {
  auto req = json::parse(r.json);
  const auto& hr = req.at("hashedRekordRequestV002");
  json::object entry{{"apiVersion", "0.0.2"},
                     {"kind", "hashedrekord"},
                     {"spec",
                      {{"hashedRekordV002",
                        {{"data", {{"algorithm", "SHA2_256"}, {"digest", hr.at("digest")}}},
                         {"signature", hr.at("signature")}}}}}};
  return canonical_json(entry);
}

struct fake_v2_log {
  test_key key;
  std::string origin = "127.0.0.1:3003";
  note_key nk = make_note_key(origin, key.public_pem());

  // Our entry at index 2 of 5; the checkpoint covers all five.
  std::string answer(const v2_request& r, bool bad_proof = false, std::string cp_origin = "", bool other_signer = false,
                     std::string body_override = "", std::string log_id = "") {
    std::string body = body_override.empty() ? body_for(r) : body_override;
    std::vector<std::string> l{leaf_hash("a"), leaf_hash("b"), leaf_hash(body), leaf_hash("d"), leaf_hash("e")};
    auto proof = inclusion_proof(l, 2);
    if (bad_proof) proof[1][0] = static_cast<char>(proof[1][0] ^ 1);
    std::string text = (cp_origin.empty() ? origin : cp_origin) + "\n5\n" + base64_encode(merkle_root(l)) + "\n";
    test_key other;
    std::string sig = other_signer ? other.sign(text) : key.sign(text);
    std::string line = "\xe2\x80\x94 " + origin + " " + base64_encode(nk.id.substr(0, 4) + sig) + "\n";
    json::array hashes;
    for (const auto& h : proof) hashes.emplace_back(base64_encode(h));
    json::object tle{{"logIndex", "2"},
                     {"logId", {{"keyId", base64_encode(log_id.empty() ? nk.id : log_id)}}},
                     {"kindVersion", {{"kind", "hashedrekord"}, {"version", "0.0.2"}}},
                     {"inclusionProof",
                      {{"logIndex", "2"}, {"rootHash", base64_encode(merkle_root(l))}, {"treeSize", "5"},
                       {"hashes", std::move(hashes)}, {"checkpoint", {{"envelope", text + "\n" + line}}}}},
                     {"canonicalizedBody", base64_encode(body)}};
    return json::serialize(tle);
  }
};

}  // namespace

TEST_CASE("the hashedrekord v0.0.2 request has the shape rekor-tiles documents") {
  test_key signer;
  auto digest = sha256("artifact");
  auto sig = signer.sign("artifact");
  auto r = hashedrekord_v2_request(digest, sig, signer.public_pem());
  auto j = json::parse(r.json);
  const auto& hr = j.at("hashedRekordRequestV002");
  CHECK(base64_decode(hr.at("digest").as_string()) == digest);
  CHECK(base64_decode(hr.at("signature").at("content").as_string()) == sig);
  const auto& v = hr.at("signature").at("verifier");
  CHECK(v.at("keyDetails") == "PKIX_ECDSA_P256_SHA_256");
  CHECK(base64_decode(v.at("publicKey").at("rawBytes").as_string()) == signer.public_der());
  CHECK_FALSE(v.as_object().contains("x509Certificate"));

  // Keyless: the certificate is the verifier.
  test_ca ca("fulcio");
  auto cert = ca.issue_pem(signer, -60, 600);
  auto rc = hashedrekord_v2_request(digest, sig, cert);
  CHECK(rc.verifier_is_cert);
  auto jc = json::parse(rc.json);
  const auto& vc = jc.at("hashedRekordRequestV002").at("signature").at("verifier");
  CHECK(vc.as_object().contains("x509Certificate"));
  CHECK(vc.at("keyDetails") == "PKIX_ECDSA_P256_SHA_256");
}

TEST_CASE("Rekor v2 takes P-256 and RSA keys; pure Ed25519 and P-384 with SHA-256 are refused") {
  CHECK(v2_key_details(test_key().public_pem()) == "PKIX_ECDSA_P256_SHA_256");
  CHECK(v2_key_details(test_key(test_key::type::rsa2048).public_pem()) == "PKIX_RSA_PKCS1V15_2048_SHA256");
  CHECK_THROWS_AS(v2_key_details(test_key(test_key::type::ed25519).public_pem()), unsupported_key_error);
  CHECK_THROWS_WITH(v2_key_details(test_key(test_key::type::ed25519).public_pem()), Catch::Contains("Ed25519"));
  CHECK_THROWS_WITH(v2_key_details(test_key(test_key::type::ecdsa_p384).public_pem()), Catch::Contains("secp384r1"));
  CHECK_THROWS_AS(v2_key_details("not a key"), verify_error);
}

TEST_CASE("a Rekor v2 entry is verified: body, log ID, checkpoint, inclusion") {
  fake_v2_log log;
  test_key signer;
  auto r = hashedrekord_v2_request(sha256("x"), signer.sign("x"), signer.public_pem());
  checkpoint_cache cache;
  auto e = parse_v2_entry(log.answer(r));
  auto cp = verify_v2_entry(e, log.nk, r, cache);
  CHECK(e.log_index == 2);
  CHECK(cp.size == 5);
  // The bundle form carries what was verified.
  auto j = json::parse(v2_entry_json(e, cp));
  CHECK(j.at("logIndex") == "2");
  CHECK(j.at("inclusionProof").at("treeSize") == "5");
  CHECK(base64_decode(j.at("inclusionProof").at("rootHash").as_string()) == cp.root);
  CHECK(base64_decode(j.at("canonicalizedBody").as_string()) == e.body);
  CHECK(base64_decode(j.at("logId").at("keyId").as_string()) == log.nk.id);

  SECTION("another digest") {
    auto r2 = hashedrekord_v2_request(sha256("y"), signer.sign("y"), signer.public_pem());
    CHECK_THROWS_WITH(verify_v2_entry(parse_v2_entry(log.answer(r2)), log.nk, r, cache), Catch::Contains("digest differs"));
  }
  SECTION("another signature") {
    auto r2 = hashedrekord_v2_request(sha256("x"), signer.sign("x"), signer.public_pem());
    CHECK_THROWS_WITH(verify_v2_entry(parse_v2_entry(log.answer(r2)), log.nk, r, cache), Catch::Contains("signature differs"));
  }
  SECTION("another verifier") {
    test_key other;
    auto r2 = hashedrekord_v2_request(sha256("x"), r.signature, other.public_pem());
    CHECK_THROWS_WITH(verify_v2_entry(parse_v2_entry(log.answer(r2)), log.nk, r, cache), Catch::Contains("verifier publicKey differs"));
  }
  SECTION("a bad proof") {
    CHECK_THROWS_WITH(verify_v2_entry(parse_v2_entry(log.answer(r, true)), log.nk, r, cache),
                      Catch::Contains("does not lead to the checkpoint's root"));
  }
  SECTION("a checkpoint of another origin") {
    CHECK_THROWS_WITH(verify_v2_entry(parse_v2_entry(log.answer(r, false, "other.example")), log.nk, r, cache),
                      Catch::Contains("origin"));
  }
  SECTION("a checkpoint signed by another key") {
    CHECK_THROWS_WITH(verify_v2_entry(parse_v2_entry(log.answer(r, false, "", true)), log.nk, r, cache),
                      Catch::Contains("does not verify"));
  }
  SECTION("another log ID") {
    CHECK_THROWS_WITH(verify_v2_entry(parse_v2_entry(log.answer(r, false, "", false, "", sha256("x"))), log.nk, r, cache),
                      Catch::Contains("logId"));
  }
  SECTION("a v1 body") {
    auto v1 = R"({"apiVersion":"0.0.1","kind":"hashedrekord","spec":{}})";
    CHECK_THROWS_WITH(verify_v2_entry(parse_v2_entry(log.answer(r, false, "", false, v1)), log.nk, r, cache),
                      Catch::Contains("not hashedrekord 0.0.2"));
  }
  SECTION("a log of another key") {
    test_key k2;
    auto nk2 = make_note_key(log.origin, k2.public_pem());
    CHECK_THROWS_WITH(verify_v2_entry(e, nk2, r, cache), Catch::Contains("logId"));
  }
}

TEST_CASE("malformed TransparencyLogEntry answers name the field") {
  CHECK_THROWS_WITH(parse_v2_entry("[]"), Catch::Contains("not an object"));
  CHECK_THROWS_WITH(parse_v2_entry("{}"), Catch::Contains("logIndex"));
  CHECK_THROWS_WITH(parse_v2_entry(R"({"logIndex":"x"})"), Catch::Contains("decimal"));
  CHECK_THROWS_WITH(parse_v2_entry(R"({"logIndex":"1","logId":{"keyId":"!"}})"), Catch::Contains("not base64"));
  CHECK_THROWS_WITH(parse_v2_entry(R"({"logIndex":1,"logId":{"keyId":"AA=="},"kindVersion":{"kind":"k","version":"v"},
                                    "canonicalizedBody":"e30=","inclusionProof":{}})"),
                    Catch::Contains("checkpoint"));
}
