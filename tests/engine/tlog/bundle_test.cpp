// The v0.3 bundles chainsd has always written (Rekor v1 entries) stay byte for byte the same
// after bundle building became general (timestamps, Rekor v2 entries): the expected strings were
// produced by the code before that change, from the fixed entry below.
#include "tlog/bundle.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace chainsd::tlog;

namespace {

log_entry fixed_entry() {
  log_entry e;
  e.uuid = "24296fb24b8ad77a5b2d2c4e5f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4";
  e.body_b64 = "eyJhcGlWZXJzaW9uIjoiMC4wLjEiLCJraW5kIjoiZHNzZSIsInNwZWMiOnt9fQ==";
  e.integrated_time = 1700000000;
  e.log_id = "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d";
  e.log_index = 123456789;
  e.set_b64 = "MEUCIQDsetsetset";
  e.has_proof = true;
  e.proof.log_index = 1234;
  e.proof.tree_size = 5000;
  e.proof.root_hash = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  e.proof.hashes = {"ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100",
                    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"};
  e.proof.checkpoint =
      "rekor.sigstore.dev - 1\n5000\nABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=\n\n\xe2\x80\x94 rekor.sigstore.dev wNI9ajBFAiEA\n";
  return e;
}

const std::string envelope =
    R"({"payloadType":"application/vnd.in-toto+json","payload":"eyJhIjoxfQ==","signatures":[{"keyid":"SHA256:abc","sig":"MEUCIQsig"}]})";
const std::string envelope_no_keyid =
    R"({"payloadType":"application/vnd.in-toto+json","payload":"eyJhIjoxfQ==","signatures":[{"sig":"MEUCIQsig"}]})";
const std::string payload = "{\"critical\":1}";
const std::string signature("\x30\x45\x02\x21sig", 8);
const std::string cert = R"(-----BEGIN CERTIFICATE-----
MIIBdjCCAR2gAwIBAgIUMl6nMOXkRw41m8aM7AchhVlt49kwCgYIKoZIzj0EAwIw
ETEPMA0GA1UEAwwGZ29sZGVuMB4XDTI2MTIwMzEyMzUxOFoXDTI2MTIwNDEyMzUx
OFowETEPMA0GA1UEAwwGZ29sZGVuMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE
JUVp9vC423guoCc9fp02kLbEK58BPCfuNKSiRDD5YlLHthsCrgdAzyd6qiP88kYV
JBv5BLbnTUrGK22uUUJlIaNTMFEwHQYDVR0OBBYEFNb7wcN/K8+tUsMT8W5jm21y
sKuwMB8GA1UdIwQYMBaAFNb7wcN/K8+tUsMT8W5jm21ysKuwMA8GA1UdEwEB/wQF
MAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgPnTrP9BJLbHVdW0nPW+sGuVnATcHYFun
gu1AnpMX1/ICIFVq2ztzPTngmWUCdT3HF7+V07G4R0BHstXKKCeTjTLD
-----END CERTIFICATE-----
)";

const std::string golden_dsse_key = R"golden({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"SHA256:abc"},"tlogEntries":[{"logIndex":"123456789","logId":{"keyId":"wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0="},"kindVersion":{"kind":"dsse","version":"0.0.1"},"integratedTime":"1700000000","inclusionPromise":{"signedEntryTimestamp":"MEUCIQDsetsetset"},"inclusionProof":{"logIndex":"1234","rootHash":"ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=","treeSize":"5000","hashes":["/+7dzLuqmYh3ZlVEMyIRAP/u3cy7qpmId2ZVRDMiEQA=","ASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4mrze8="],"checkpoint":{"envelope":"rekor.sigstore.dev - 1\n5000\nABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=\n\n— rekor.sigstore.dev wNI9ajBFAiEA\n"}},"canonicalizedBody":"eyJhcGlWZXJzaW9uIjoiMC4wLjEiLCJraW5kIjoiZHNzZSIsInNwZWMiOnt9fQ=="}]},"dsseEnvelope":{"payload":"eyJhIjoxfQ==","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MEUCIQsig","keyid":"SHA256:abc"}]}})golden";
const std::string golden_dsse_no_keyid = R"golden({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":""},"tlogEntries":[{"logIndex":"123456789","logId":{"keyId":"wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0="},"kindVersion":{"kind":"dsse","version":"0.0.1"},"integratedTime":"1700000000","inclusionPromise":{"signedEntryTimestamp":"MEUCIQDsetsetset"},"inclusionProof":{"logIndex":"1234","rootHash":"ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=","treeSize":"5000","hashes":["/+7dzLuqmYh3ZlVEMyIRAP/u3cy7qpmId2ZVRDMiEQA=","ASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4mrze8="],"checkpoint":{"envelope":"rekor.sigstore.dev - 1\n5000\nABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=\n\n— rekor.sigstore.dev wNI9ajBFAiEA\n"}},"canonicalizedBody":"eyJhcGlWZXJzaW9uIjoiMC4wLjEiLCJraW5kIjoiZHNzZSIsInNwZWMiOnt9fQ=="}]},"dsseEnvelope":{"payload":"eyJhIjoxfQ==","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MEUCIQsig","keyid":""}]}})golden";
const std::string golden_dsse_cert = R"golden({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"certificate":{"rawBytes":"MIIBdjCCAR2gAwIBAgIUMl6nMOXkRw41m8aM7AchhVlt49kwCgYIKoZIzj0EAwIwETEPMA0GA1UEAwwGZ29sZGVuMB4XDTI2MTIwMzEyMzUxOFoXDTI2MTIwNDEyMzUxOFowETEPMA0GA1UEAwwGZ29sZGVuMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEJUVp9vC423guoCc9fp02kLbEK58BPCfuNKSiRDD5YlLHthsCrgdAzyd6qiP88kYVJBv5BLbnTUrGK22uUUJlIaNTMFEwHQYDVR0OBBYEFNb7wcN/K8+tUsMT8W5jm21ysKuwMB8GA1UdIwQYMBaAFNb7wcN/K8+tUsMT8W5jm21ysKuwMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgPnTrP9BJLbHVdW0nPW+sGuVnATcHYFungu1AnpMX1/ICIFVq2ztzPTngmWUCdT3HF7+V07G4R0BHstXKKCeTjTLD"},"tlogEntries":[{"logIndex":"123456789","logId":{"keyId":"wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0="},"kindVersion":{"kind":"dsse","version":"0.0.1"},"integratedTime":"1700000000","inclusionPromise":{"signedEntryTimestamp":"MEUCIQDsetsetset"},"inclusionProof":{"logIndex":"1234","rootHash":"ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=","treeSize":"5000","hashes":["/+7dzLuqmYh3ZlVEMyIRAP/u3cy7qpmId2ZVRDMiEQA=","ASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4mrze8="],"checkpoint":{"envelope":"rekor.sigstore.dev - 1\n5000\nABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=\n\n— rekor.sigstore.dev wNI9ajBFAiEA\n"}},"canonicalizedBody":"eyJhcGlWZXJzaW9uIjoiMC4wLjEiLCJraW5kIjoiZHNzZSIsInNwZWMiOnt9fQ=="}]},"dsseEnvelope":{"payload":"eyJhIjoxfQ==","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MEUCIQsig","keyid":"SHA256:abc"}]}})golden";
const std::string golden_message = R"golden({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":""},"tlogEntries":[{"logIndex":"123456789","logId":{"keyId":"wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0="},"kindVersion":{"kind":"dsse","version":"0.0.1"},"integratedTime":"1700000000","inclusionPromise":{"signedEntryTimestamp":"MEUCIQDsetsetset"},"inclusionProof":{"logIndex":"1234","rootHash":"ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=","treeSize":"5000","hashes":["/+7dzLuqmYh3ZlVEMyIRAP/u3cy7qpmId2ZVRDMiEQA=","ASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4mrze8="],"checkpoint":{"envelope":"rekor.sigstore.dev - 1\n5000\nABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=\n\n— rekor.sigstore.dev wNI9ajBFAiEA\n"}},"canonicalizedBody":"eyJhcGlWZXJzaW9uIjoiMC4wLjEiLCJraW5kIjoiZHNzZSIsInNwZWMiOnt9fQ=="}]},"messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"53hcd6ghfZ2VV+ruZvvENM8T9pt4lG+pbrbkXB7WaGA="},"signature":"MEUCIXNpZwA="}})golden";

}  // namespace

TEST_CASE("the v1 bundles are byte-identical to those chainsd wrote before") {
  auto e = fixed_entry();
  CHECK(sigstore_bundle_dsse(e, envelope, {"", "SHA256:abc"}) == golden_dsse_key);
  CHECK(sigstore_bundle_dsse(e, envelope_no_keyid, {"", ""}) == golden_dsse_no_keyid);
  CHECK(sigstore_bundle_dsse(e, envelope, {cert, "ignored"}) == golden_dsse_cert);
  CHECK(sigstore_bundle_message_signature(e, payload, signature, {"", ""}) == golden_message);
}

TEST_CASE("the general builder gives the same bytes for a v1 entry without timestamps") {
  auto e = fixed_entry();
  auto t = v1_tlog_entry_json(e);
  CHECK(sigstore_bundle({envelope, "", ""}, {"", "SHA256:abc"}, {t}, {}) == golden_dsse_key);
  CHECK(sigstore_bundle({"", payload, signature}, {"", ""}, {t}, {}) == golden_message);
}

TEST_CASE("timestamps go into timestampVerificationData; a bundle may carry them alone") {
  auto e = fixed_entry();
  std::string der("\x30\x03\x02\x01\x00", 5);
  auto b = boost::json::parse(sigstore_bundle({envelope, "", ""}, {"", "k"}, {v1_tlog_entry_json(e)}, {der, der}));
  const auto& vm = b.at("verificationMaterial").as_object();
  REQUIRE(vm.size() == 3);
  // Member order: key material, tlogEntries, then the timestamps.
  auto it = vm.begin();
  CHECK(it->key() == "publicKey");
  CHECK((++it)->key() == "tlogEntries");
  CHECK((++it)->key() == "timestampVerificationData");
  const auto& ts = vm.at("timestampVerificationData").at("rfc3161Timestamps").as_array();
  REQUIRE(ts.size() == 2);
  CHECK(ts[0].at("signedTimestamp") == "MAMCAQA=");

  auto alone = boost::json::parse(sigstore_bundle({"", payload, signature}, {"", ""}, {}, {der}));
  CHECK(alone.at("verificationMaterial").at("tlogEntries").as_array().empty());
  CHECK(alone.at("messageSignature").at("signature") == "MEUCIXNpZwA=");
}

TEST_CASE("a signature nothing logged still has a bundle: verification material and signature, no entry") {
  // What storage backends (oci's sigstore-bundle mode) store when transparency is off; cosign's
  // bundle of an unlogged signature has no tlog entry either.
  auto dsse = boost::json::parse(sigstore_bundle_unlogged({envelope, "", ""}, {"", "SHA256:abc"}));
  CHECK(dsse.at("mediaType") == "application/vnd.dev.sigstore.bundle.v0.3+json");
  CHECK(dsse.at("verificationMaterial").at("publicKey").at("hint") == "SHA256:abc");
  CHECK(dsse.at("verificationMaterial").at("tlogEntries").as_array().empty());
  CHECK_FALSE(dsse.at("verificationMaterial").as_object().contains("timestampVerificationData"));
  CHECK(dsse.at("dsseEnvelope").at("payload") == "eyJhIjoxfQ==");
  CHECK(dsse.at("dsseEnvelope").at("signatures").at(0).at("sig") == "MEUCIQsig");
  // The same bytes as the general builder with nothing logged.
  CHECK(sigstore_bundle_unlogged({"", payload, signature}, {cert, ""}) == sigstore_bundle({"", payload, signature}, {cert, ""}, {}, {}));
  auto keyless = boost::json::parse(sigstore_bundle_unlogged({"", payload, signature}, {cert, ""}));
  CHECK(keyless.at("verificationMaterial").at("certificate").at("rawBytes").as_string().starts_with("MIIBdjCCAR2g"));
  CHECK(keyless.at("messageSignature").at("signature") == "MEUCIXNpZwA=");
  // What cannot be read gives no bundle (the storage backend then says so), never an exception.
  CHECK(sigstore_bundle_unlogged({"not json", "", ""}, {"", ""}).empty());
  CHECK(sigstore_bundle_unlogged({"", payload, signature}, {"not a certificate", ""}).empty());
}
