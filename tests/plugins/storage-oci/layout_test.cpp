// The pure parts of storage-oci: references, tags, layers, config and manifest JSON, Rekor bundle
// conversion, statement subjects, docker config credentials, referrer manifests and the push jobs
// of a store request.
#include <catch2/catch.hpp>

#include "credentials.hpp"
#include "jobs.hpp"
#include "layout.hpp"
#include "referrer.hpp"
#include "registry.hpp"

#include <boost/json/parse.hpp>

using namespace storage_oci;
namespace json = boost::json;

TEST_CASE("references split as go-containerregistry does") {
  auto hex = std::string(64, 'a');
  auto r = parse_reference("ghcr.io/org/app@sha256:" + hex, true);
  CHECK(r.registry == "ghcr.io");
  CHECK(r.repository == "org/app");
  CHECK(r.digest == "sha256:" + hex);
  r = parse_reference("alpine:3.19@sha256:" + hex, true);
  CHECK(r.registry == "index.docker.io");
  CHECK(r.repository == "library/alpine");
  r = parse_reference("docker.io/org/app", false);
  CHECK(r.str() == "index.docker.io/org/app");
  r = parse_reference("localhost:5000/app:v1@sha256:" + hex, true);
  CHECK(r.registry == "localhost:5000");
  CHECK(r.repository == "app");
  CHECK_THROWS(parse_reference("ghcr.io/org/app:v1", true));
  CHECK_THROWS(parse_reference("ghcr.io/Org/app@sha256:" + hex, true));
  CHECK_THROWS(parse_reference("ghcr.io/org/app@sha256:abc", true));
  CHECK(cosign_tag("sha256:" + hex, "sig") == "sha256-" + hex + ".sig");
}

TEST_CASE("cosign layers, config and manifest serialise as go-containerregistry") {
  auto l = make_layer(std::string(simplesigning_type), "{}", "c2ln", "CERT", "", "");
  CHECK(l.digest == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  CHECK(l.annotations.size() == 3);  // signature, certificate and the (empty) chain
  json::array layers{layer_descriptor(l)};
  CHECK(config_json(layers) ==
        R"({"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],)"
        R"("os":"","rootfs":{"type":"layers","diff_ids":["sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"]},"config":{}})");
  auto m = manifest_json("sha256:" + std::string(64, 'c'), 10, layers);
  CHECK(m == R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":)"
             R"({"mediaType":"application/vnd.oci.image.config.v1+json","size":10,"digest":"sha256:)" +
                 std::string(64, 'c') +
                 R"("},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":2,)"
                 R"("digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",)"
                 R"("annotations":{"dev.cosignproject.cosign/signature":"c2ln","dev.sigstore.cosign/certificate":"CERT",)"
                 R"("dev.sigstore.cosign/chain":""}}]})");
  CHECK(manifest_layers(m).size() == 1);
  CHECK_THROWS(manifest_layers(R"({"schemaVersion":2,"manifests":[]})"));
}

TEST_CASE("Rekor entries become cosign bundles") {
  const chainsd::plugin::tlog_entry v1{1, 2, "ab", "Yg==", 1, "c2V0", "u"};
  auto b = rekor_bundle_json(v1);
  CHECK(b == R"({"SignedEntryTimestamp":"c2V0","Payload":{"body":"Yg==","integratedTime":1,"logIndex":2,"logID":"ab"}})");
  CHECK(rekor_bundle_json(chainsd::plugin::tlog_entry{}).empty());
  auto v2 = v1;
  v2.version = 2;  // Rekor v2 has no SET: cosign's annotation cannot carry it
  CHECK(rekor_bundle_json(v2).empty());
}

TEST_CASE("statement subjects that are images, predicate type, simplesigning image") {
  auto hex = std::string(64, 'd');
  auto s = R"({"predicateType":"https://slsa.dev/provenance/v1","subject":[)"
           R"({"name":"ghcr.io/org/app","digest":{"sha256":")" + hex + R"("}},)"
           R"({"name":"ghcr.io/org/app","digest":{"sha256":")" + hex + R"("}},)"
           R"({"name":"Release Notes.md","digest":{"sha256":")" + hex + R"("}},)"
           R"({"name":"ghcr.io/org/other","digest":{"sha512":"00"}}]})";
  CHECK(statement_image_subjects(s) == std::vector<std::string>{"ghcr.io/org/app@sha256:" + hex});
  CHECK(statement_predicate_type(s) == "https://slsa.dev/provenance/v1");
  CHECK(simplesigning_image(R"({"critical":{"identity":{"docker-reference":"r/a"},"image":{"docker-manifest-digest":"sha256:1"}}})") ==
        "r/a@sha256:1");
}

TEST_CASE("docker config credentials: auths, legacy dockercfg, Docker Hub aliases, priority") {
  credential_set c;
  c.add_docker_config(R"({"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"},)"
                      R"("Reg.Example:5000":{"username":"a","password":"b"},"tok.example":{"identitytoken":"x"}}})");
  CHECK(c.find("index.docker.io")->username == "u");
  CHECK(c.find("docker.io")->password == "p");
  CHECK(c.find("reg.example:5000")->username == "a");
  CHECK_FALSE(c.find("tok.example"));
  credential_set legacy;
  legacy.add_docker_config(R"({"reg.example:5000":{"auth":"eDp5"},"other.example":{"auth":"bTpu"}})");
  c.merge(legacy);
  CHECK(c.find("reg.example:5000")->username == "a");  // the first source wins
  CHECK(c.find("other.example")->username == "m");
  CHECK_THROWS(c.add_docker_config("[]"));
  CHECK_THROWS(c.add_docker_config(R"({"auths":{"x":{"auth":"bm9jb2xvbg=="}}})"));
}

TEST_CASE("WWW-Authenticate challenges") {
  auto c = parse_challenge(R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push")");
  CHECK(c[""] == "bearer");
  CHECK(c["realm"] == "https://auth.example/token");
  CHECK(c["service"] == "registry.example");
  CHECK(c["scope"] == "repository:a/b:pull,push");
  CHECK(parse_challenge(R"(Basic realm="chainsd-test")")[""] == "basic");
}

TEST_CASE("referrer manifests and their index descriptors carry the bundle's annotations") {
  const json::object subject{{"mediaType", "application/vnd.oci.image.manifest.v1+json"}, {"size", 7},
                             {"digest", "sha256:" + std::string(64, 'a')}};
  const referrer_info info{"https://slsa.dev/provenance/v1", std::string(dsse_content), "2026-01-02T03:04:05Z"};
  auto m = json::parse(referrer_manifest(subject, "sha256:" + std::string(64, 'b'), 99, info)).as_object();
  CHECK(m.at("artifactType") == "application/vnd.dev.sigstore.bundle.v0.3+json");
  CHECK(m.at("config").at("mediaType") == "application/vnd.oci.empty.v1+json");
  CHECK(m.at("config").at("digest") == json::value(sha256_digest("{}")));
  CHECK(m.at("layers").at(0).at("size") == 99);
  CHECK(m.at("subject") == subject);
  const json::object ann{{"dev.sigstore.bundle.content", "dsse-envelope"},
                         {"dev.sigstore.bundle.predicateType", "https://slsa.dev/provenance/v1"},
                         {"org.opencontainers.image.created", "2026-01-02T03:04:05Z"}};
  CHECK(m.at("annotations") == ann);
  auto d = referrer_descriptor("sha256:" + std::string(64, 'c'), 12, info);
  CHECK(d.at("mediaType") == "application/vnd.oci.image.manifest.v1+json");
  CHECK(d.at("size") == 12);
  CHECK(d.at("annotations") == ann);
  CHECK(d.at("artifactType") == "application/vnd.dev.sigstore.bundle.v0.3+json");
}

namespace {

chainsd::plugin::store_request image_signature(const std::string& image) {
  chainsd::plugin::store_request req;
  req.kind = chainsd::plugin::artifact_kind::oci;
  req.run = {"tekton.dev/v1", "TaskRun", "ns", "build", "uid-1", ""};
  req.payload_format = "simplesigning";
  req.image = image;
  req.payload = R"({"critical":{}})";
  req.signature = "raw-signature";
  return req;
}

}  // namespace

TEST_CASE("push jobs: the engine's bundle stored verbatim, the log entry as cosign's annotation") {
  const std::string image = "registry.test/app@sha256:" + std::string(64, 'a');
  const std::string bundle = R"({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","x":1})";
  SECTION("sigstore-bundle: a signature is a message-signature referrer of the engine's bundle") {
    auto req = image_signature(image);
    req.sigstore_bundle_json = bundle;
    auto jobs = push_jobs(req, true);
    REQUIRE(jobs.has_value());
    REQUIRE(jobs->size() == 1);
    const auto& j = jobs->front();
    CHECK(j.referrer);
    CHECK(j.subject.str() == image);
    CHECK(j.content.content == bundle);
    CHECK(j.content.digest == sha256_digest(bundle));
    CHECK(j.content.media_type == "application/vnd.dev.sigstore.bundle.v0.3+json");
    CHECK(j.content.annotations.empty());
    CHECK(j.bundle_content == "message-signature");
    CHECK(j.predicate_type == "https://sigstore.dev/cosign/sign/v1");
  }
  SECTION("sigstore-bundle: an attestation is a dsse-envelope referrer of each image subject") {
    chainsd::plugin::store_request req;
    req.run = {"tekton.dev/v1", "TaskRun", "ns", "build", "uid-1", ""};
    req.payload_format = "slsa/v1";
    req.payload = R"({"predicateType":"https://slsa.dev/provenance/v1","subject":[{"name":"registry.test/app",)"
                  R"("digest":{"sha256":")" + std::string(64, 'a') + R"("}}]})";
    req.signature = R"({"payloadType":"application/vnd.in-toto+json","payload":"","signatures":[]})";
    req.sigstore_bundle_json = bundle;
    auto jobs = push_jobs(req, true);
    REQUIRE(jobs.has_value());
    REQUIRE(jobs->size() == 1);
    CHECK(jobs->front().content.content == bundle);
    CHECK(jobs->front().bundle_content == "dsse-envelope");
    CHECK(jobs->front().predicate_type == "https://slsa.dev/provenance/v1");
    req.sigstore_bundle_json.clear();
    auto none = push_jobs(req, true);
    REQUIRE(none.has_error());
    CHECK(none.error().code == chainsd::plugin::errc::permanent);
    CHECK_THAT(none.error().message, Catch::Contains("no Sigstore bundle") && Catch::Contains("ns/build"));
  }
  SECTION("dsse: the cosign layer's bundle annotation comes from the parsed Rekor v1 entry") {
    auto req = image_signature(image);
    req.log_entry = {1, 42, "c0d2", "Ym9keQ==", 1700000000, "TUVV", "uuid"};
    req.rekor_entry_json = "not read by the plugin";
    auto jobs = push_jobs(req, false);
    REQUIRE(jobs.has_value());
    const auto& j = jobs->front();
    CHECK_FALSE(j.referrer);
    CHECK(j.content.content == req.payload);
    CHECK(j.content.annotations.at("dev.sigstore.cosign/bundle") ==
          R"({"SignedEntryTimestamp":"TUVV","Payload":{"body":"Ym9keQ==","integratedTime":1700000000,)"
          R"("logIndex":42,"logID":"c0d2"}})");
    req.log_entry = {};
    CHECK(push_jobs(req, false)->front().content.annotations.count("dev.sigstore.cosign/bundle") == 0);
  }
}

TEST_CASE("index entries: image manifests and nested indexes, other media types skipped") {
  const std::string a = "sha256:" + std::string(64, 'a'), b = "sha256:" + std::string(64, 'b'),
                    c = "sha256:" + std::string(64, 'c'), d = "sha256:" + std::string(64, 'd');
  auto entries = index_entries(
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
      R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + a +
      R"(","size":1,"platform":{"architecture":"amd64","os":"linux"}},)"
      R"({"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":")" + b + R"(","size":1},)"
      R"({"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","digest":")" + c + R"(","size":1},)"
      R"({"mediaType":"application/vnd.example.sbom.v1+json","digest":")" + d + R"(","size":1}]})");
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].digest == a);
  CHECK_FALSE(entries[0].index);
  CHECK(entries[1].digest == b);
  CHECK_FALSE(entries[1].index);
  CHECK(entries[2].digest == c);
  CHECK(entries[2].index);
  CHECK(index_entries(R"({"manifests":[]})").empty());
  CHECK_THROWS_WITH(index_entries(R"({"layers":[]})"), Catch::Contains("no \"manifests\" array"));
  CHECK_THROWS_WITH(index_entries(R"({"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json"}]})"),
                    Catch::Contains("without a digest"));
  CHECK_THROWS(index_entries("not json"));
  CHECK(is_index_type("application/vnd.oci.image.index.v1+json"));
  CHECK(is_index_type("application/vnd.docker.distribution.manifest.list.v2+json"));
  CHECK_FALSE(is_index_type("application/vnd.oci.image.manifest.v1+json"));
  CHECK(is_sha256_digest(a));
  CHECK_FALSE(is_sha256_digest("sha512:" + std::string(128, 'a')));
  CHECK_FALSE(is_sha256_digest("sha256:" + std::string(64, 'A')));
}
