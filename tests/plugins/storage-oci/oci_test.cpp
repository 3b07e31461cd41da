// The storage-oci plugin, loaded through the real loader, against Debian's docker-registry: no
// auth, htpasswd basic auth (credentials from the run's service account and from a mounted docker
// config), TLS with a test CA. Each case pushes a small image with the registry API, stores a
// signature and an attestation, and reads the cosign layout back; signatures are checked with
// openssl against the public key (cosign is not packaged for Debian).
#include <catch2/catch.hpp>

#include "layout.hpp"
#include "../../support/oci_host.hpp"
#include "../../support/pae_oracle.hpp"
#include "../../support/prerequisites.hpp"
#include "registry_process.hpp"

#include "tlog/bundle.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <chrono>
#include <future>
#include <optional>
#include <random>
#include <set>
#include <thread>

using namespace oci_test;
namespace json = boost::json;
namespace net = chainsd::net;

namespace {

std::string str(const json::value& v) { return std::string(v.as_string()); }

// Direct registry API calls for setting up and reading back (not through the plugin).
struct registry_api {
  oci_host& h;
  std::string base;           // scheme://host:port
  std::string authorization;  // "" or "Basic ..."

  net::response call(std::string method, std::string path, std::string body = {}, net::header_list headers = {}) {
    net::request r;
    r.method = std::move(method);
    r.url = path.rfind("http", 0) == 0 ? path : base + path;
    r.headers = std::move(headers);
    if (!authorization.empty()) r.headers.emplace_back("Authorization", authorization);
    r.body = std::move(body);
    r.timeout = std::chrono::seconds(20);
    return h.run(h.client->send(std::move(r)));
  }

  void put_blob(const std::string& repo, const std::string& content) {
    auto start = call("POST", "/v2/" + repo + "/blobs/uploads/");
    REQUIRE(start.status == 202);
    std::string loc(start.header("Location"));
    loc += (loc.find('?') == std::string::npos ? "?" : "&");
    loc += "digest=" + net::url_encode_component(storage_oci::sha256_digest(content));
    auto put = call("PUT", loc, content, {{"Content-Type", "application/octet-stream"}});
    REQUIRE(put.status == 201);
  }

  // A one-layer image tagged "v1"; returns its manifest digest.
  std::string push_image(const std::string& repo) { return str(push_platform_image(repo, "amd64", "v1").at("digest")); }

  // A one-layer image for `arch` under `tag`; returns its descriptor with the platform, as an
  // index lists it.
  json::object push_platform_image(const std::string& repo, const std::string& arch, const std::string& tag) {
    std::string layer = "layer bytes " + arch + " " + std::to_string(std::random_device{}());
    std::string cfg = R"({"architecture":")" + arch + R"(","os":"linux","rootfs":{"type":"layers","diff_ids":[")" +
                      storage_oci::sha256_digest(layer) + R"("]},"config":{}})";
    put_blob(repo, layer);
    put_blob(repo, cfg);
    std::string manifest = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                           R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":)" +
                           std::to_string(cfg.size()) + R"(,"digest":")" + storage_oci::sha256_digest(cfg) +
                           R"("},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","size":)" +
                           std::to_string(layer.size()) + R"(,"digest":")" + storage_oci::sha256_digest(layer) + R"("}]})";
    auto put = call("PUT", "/v2/" + repo + "/manifests/" + tag, manifest,
                    {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}});
    REQUIRE(put.status == 201);
    REQUIRE(put.header("Docker-Content-Digest") == storage_oci::sha256_digest(manifest));
    return {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
            {"digest", storage_oci::sha256_digest(manifest)},
            {"size", manifest.size()},
            {"platform", {{"architecture", arch}, {"os", "linux"}}}};
  }

  // An index (OCI image index or Docker manifest list) of these descriptors under `tag`; returns
  // its descriptor.
  json::object push_index(const std::string& repo, const json::array& manifests, const std::string& tag,
                          const std::string& media_type = "application/vnd.oci.image.index.v1+json") {
    std::string body = json::serialize(json::object{{"schemaVersion", 2}, {"mediaType", media_type}, {"manifests", manifests}});
    auto put = call("PUT", "/v2/" + repo + "/manifests/" + tag, body, {{"Content-Type", media_type}});
    INFO(put.body);
    REQUIRE(put.status == 201);
    REQUIRE(put.header("Docker-Content-Digest") == storage_oci::sha256_digest(body));
    return {{"mediaType", media_type}, {"digest", storage_oci::sha256_digest(body)}, {"size", body.size()}};
  }

  // The manifest at a tag (must exist) and its digest as the registry reports it.
  std::pair<json::object, std::string> manifest(const std::string& repo, const std::string& tag) {
    auto r = call("GET", "/v2/" + repo + "/manifests/" + tag, {},
                  {{"Accept", "application/vnd.oci.image.manifest.v1+json"}});
    INFO(r.body);
    REQUIRE(r.status == 200);
    return {json::parse(r.body).as_object(), std::string(r.header("Docker-Content-Digest"))};
  }

  std::string blob(const std::string& repo, const std::string& digest) {
    auto r = call("GET", "/v2/" + repo + "/blobs/" + digest);
    REQUIRE(r.status == 200);
    CHECK(storage_oci::sha256_digest(r.body) == digest);
    return r.body;
  }
};

// An EC P-256 key, a self-signed certificate and another for the chain, made with openssl.
struct test_keys {
  std::filesystem::path dir = make_temp_dir("chainsd-oci-keys-");
  std::string public_pem, cert_pem, chain_pem;
  test_keys() {
    const auto d = dir.string();
    shell("cd " + d + " && openssl ecparam -name prime256v1 -genkey -noout -out key.pem 2>/dev/null && "
          "openssl ec -in key.pem -pubout -out pub.pem 2>/dev/null && "
          "openssl req -x509 -key key.pem -out cert.pem -days 2 -subj /CN=signer 2>/dev/null && "
          "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out chain.pem "
          "-days 2 -subj /CN=chain 2>/dev/null");
    public_pem = read_text(dir / "pub.pem");
    cert_pem = read_text(dir / "cert.pem");
    chain_pem = read_text(dir / "chain.pem");
  }
  ~test_keys() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string sign(const std::string& message) const {
    write_text(dir / "msg", message);
    shell("openssl dgst -sha256 -sign " + (dir / "key.pem").string() + " -out " + (dir / "sig").string() + " " +
          (dir / "msg").string());
    return read_text(dir / "sig");
  }
  // The public key hint as sigstore computes it: base64 of SHA-256 over the DER SubjectPublicKeyInfo.
  std::string hint() const {
    shell("openssl pkey -pubin -in " + (dir / "pub.pem").string() + " -outform DER -out " + (dir / "pub.der").string());
    auto d = storage_oci::sha256_digest(read_text(dir / "pub.der")).substr(7);
    std::string raw;
    for (std::size_t i = 0; i < d.size(); i += 2) raw += static_cast<char>(std::stoi(d.substr(i, 2), nullptr, 16));
    return plugin::base64_encode(raw);
  }
  // Independent verification with the openssl CLI against the public key.
  bool verify(const std::string& message, const std::string& signature) const {
    write_text(dir / "vmsg", message);
    write_text(dir / "vsig", signature);
    std::string cmd = "openssl dgst -sha256 -verify " + (dir / "pub.pem").string() + " -signature " +
                      (dir / "vsig").string() + " " + (dir / "vmsg").string() + " >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
  }
};

// Signatures and bundles are also checked by @sigstore/verify: without it the binary is a skip.
const bool sigstore_js_present = ::test_support::require(::test_support::have_node_module("OCI_NODE_DIR", "@sigstore/verify"),
                                                       "node and tests/node_modules/@sigstore/verify are needed");

// @sigstore/verify (tests/node_modules) through tests/support/sigstore-verify, key-based (no log
// entry or timestamp required); nullopt when node or the package is missing. `in` carries
// "bundle", "envelope" or "payload"+"signature"; the key is added here, for the test key's hint
// only unless `any_hint`.
std::optional<bool> sigstore_js_verifies(const test_keys& k, json::object in, bool any_hint = false) {
  const char* node_dir = std::getenv("OCI_NODE_DIR");
  const char* script = std::getenv("OCI_VERIFY_SIGSTORE");
  if (!node_dir || !script || std::system("node --version >/dev/null 2>&1") != 0 ||
      !std::filesystem::exists(std::filesystem::path(node_dir) / "node_modules/@sigstore/verify"))
    return std::nullopt;
  in["publicKeyPem"] = k.public_pem;
  if (!any_hint) in["hint"] = k.hint();
  in["tlogThreshold"] = 0;
  in["timestampThreshold"] = 0;
  write_text(k.dir / "verify.json", json::serialize(in));
  std::string cmd = "cd " + std::string(node_dir) + " && node " + script + " < " + (k.dir / "verify.json").string() +
                    " > " + (k.dir / "verify.out").string() + " 2>&1";
  bool ok = std::system(cmd.c_str()) == 0;
  UNSCOPED_INFO("@sigstore/verify: " + read_text(k.dir / "verify.out"));
  return ok;
}

// A bundle read back from a referrer (whatever hint it names); `artifact` for message signatures.
std::optional<bool> sigstore_bundle_verifies(const test_keys& k, const json::value& bundle,
                                             const std::string& artifact = "") {
  json::object in{{"bundle", bundle}};
  if (!artifact.empty()) in["artifact"] = plugin::base64_encode(artifact);
  return sigstore_js_verifies(k, std::move(in), true);
}

const std::string in_toto_type = "application/vnd.in-toto+json";

std::string pae(const std::string& type, const std::string& body) { return test_support::pae_oracle(type, body); }

const std::string rekor_entry = R"({"24296fb24b8ad77a":{"body":"Ym9keQ==","integratedTime":1700000000,)"
                                R"("logID":"c0d23d6ad406973f","logIndex":42,)"
                                R"("verification":{"signedEntryTimestamp":"TUVVQ0lR"}}})";
const std::string rekor_bundle = R"({"SignedEntryTimestamp":"TUVVQ0lR","Payload":{"body":"Ym9keQ==",)"
                                 R"("integratedTime":1700000000,"logIndex":42,"logID":"c0d23d6ad406973f"}})";

plugin::store_request signature_request(const test_keys& k, const std::string& image_repo, const std::string& digest,
                                        bool with_cert) {
  plugin::store_request req;
  req.kind = plugin::artifact_kind::oci;
  req.run = {"tekton.dev/v1", "TaskRun", "ns", "build", "uid-1", ""};
  req.image = image_repo + "@" + digest;
  req.short_key = digest.substr(7, 12);
  req.full_key = req.image;
  req.payload_format = "simplesigning";
  req.payload = R"({"critical":{"identity":{"docker-reference":")" + image_repo +
                R"("},"image":{"docker-manifest-digest":")" + digest +
                R"("},"type":"cosign container image signature"},"optional":null})";
  req.signature = k.sign(req.payload);
  req.public_key_pem = k.public_pem;
  if (with_cert) {
    req.cert_pem = k.cert_pem;
    req.chain_pem = k.chain_pem;
    req.rekor_entry_json = rekor_entry;
    req.log_entry = {1, 42, "c0d23d6ad406973f", "Ym9keQ==", 1700000000, "TUVVQ0lR", "24296fb24b8ad77a"};
  }
  // The engine's bundle of the signature (not logged here: no tlog entries).
  req.sigstore_bundle_json = chainsd::tlog::sigstore_bundle_unlogged({"", req.payload, req.signature}, {"", ""});
  return req;
}

plugin::store_request attestation_request(const test_keys& k, const std::string& image_repo, const std::string& digest) {
  plugin::store_request req;
  req.kind = plugin::artifact_kind::taskrun;
  req.run = {"tekton.dev/v1", "TaskRun", "ns", "build", "uid-1", ""};
  req.short_key = "taskrun-uid-1";
  req.full_key = req.short_key;
  req.payload_format = "slsa/v1";
  // One image subject and one file subject: only the image gets an attestation.
  req.payload = R"({"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2",)"
                R"("subject":[{"name":")" + image_repo + R"(","digest":{"sha256":")" + digest.substr(7) +
                R"("}},{"name":"Dist/App.tar","digest":{"sha256":")" + digest.substr(7) +
                R"("}}],"predicate":{"builder":{"id":"https://tekton.dev/chains/v2"}}})";
  std::string sig = k.sign(pae(in_toto_type, req.payload));
  req.signature = R"({"payloadType":"application/vnd.in-toto+json","payload":")" +
                  plugin::base64_encode(req.payload) + R"(","signatures":[{"keyid":"SHA256:test","sig":")" +
                  plugin::base64_encode(sig) + R"("}]})";
  req.public_key_pem = k.public_pem;
  req.sigstore_bundle_json = chainsd::tlog::sigstore_bundle_unlogged({req.signature, "", ""}, {"", "SHA256:test"});
  return req;
}

plugin::result<plugin::store_result> store(oci_host& h, plugin::storage& st, plugin::store_request req) {
  return h.run(st.store(std::move(req)));
}

std::unique_ptr<plugin::storage> make(oci_host& h, plugin::config_map cfg = {}) {
  auto st = oci_plugin().make_storage("oci", h, cfg);
  INFO((st ? std::string() : st.error().message));
  REQUIRE(st.has_value());
  return std::move(*st);
}

// The cosign layout of a signature manifest with one or more layers; returns the layer array.
json::array check_cosign_manifest(registry_api& api, const std::string& repo, const json::object& m,
                                  std::string_view layer_type) {
  CHECK(m.at("schemaVersion").as_int64() == 2);
  CHECK(str(m.at("mediaType")) == "application/vnd.oci.image.manifest.v1+json");
  const auto& cfg = m.at("config").as_object();
  CHECK(str(cfg.at("mediaType")) == "application/vnd.oci.image.config.v1+json");
  auto config = json::parse(api.blob(repo, str(cfg.at("digest")))).as_object();
  const auto& layers = m.at("layers").as_array();
  const auto& diff_ids = config.at("rootfs").as_object().at("diff_ids").as_array();
  REQUIRE(diff_ids.size() == layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i].as_object();
    CHECK(str(l.at("mediaType")) == layer_type);
    CHECK(diff_ids[i] == l.at("digest"));
    CHECK(static_cast<std::size_t>(l.at("size").as_int64()) == api.blob(repo, str(l.at("digest"))).size());
  }
  return layers;
}

}  // namespace

TEST_CASE("oci storage without auth writes cosign's .sig and .att layout, once") {
  registry_process reg({});
  oci_host h;
  registry_api api{h, reg.base_url(), ""};
  test_keys keys;
  const std::string repo = "team/app";
  const std::string image_repo = reg.host() + "/" + repo;
  const std::string digest = api.push_image(repo);
  const std::string hex = digest.substr(7);
  auto st = make(h);

  auto sig_req = signature_request(keys, image_repo, digest, true);
  auto r = store(h, *st, sig_req);
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r.has_value());
  CHECK(r->annotations.empty());
  auto att_req = attestation_request(keys, image_repo, digest);
  r = store(h, *st, att_req);
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r.has_value());

  auto [sig_manifest, sig_manifest_digest] = api.manifest(repo, "sha256-" + hex + ".sig");
  auto layers = check_cosign_manifest(api, repo, sig_manifest, "application/vnd.dev.cosign.simplesigning.v1+json");
  REQUIRE(layers.size() == 1);
  const auto& sl = layers[0].as_object();
  CHECK(str(sl.at("digest")) == storage_oci::sha256_digest(sig_req.payload));
  const auto& ann = sl.at("annotations").as_object();
  CHECK(ann.size() == 4);
  CHECK(str(ann.at("dev.cosignproject.cosign/signature")) == plugin::base64_encode(sig_req.signature));
  CHECK(str(ann.at("dev.sigstore.cosign/certificate")) == keys.cert_pem);
  CHECK(str(ann.at("dev.sigstore.cosign/chain")) == keys.chain_pem);
  CHECK(json::parse(str(ann.at("dev.sigstore.cosign/bundle"))) == json::parse(rekor_bundle));
  // Independent check: the stored payload verifies against the public key with openssl.
  std::string stored_payload = api.blob(repo, str(sl.at("digest")));
  CHECK(stored_payload == sig_req.payload);
  CHECK(keys.verify(stored_payload, plugin::base64_decode(str(ann.at("dev.cosignproject.cosign/signature")))));
  CHECK_FALSE(keys.verify(stored_payload + " ", plugin::base64_decode(str(ann.at("dev.cosignproject.cosign/signature")))));
  // And with @sigstore/verify, the layer turned into a message-signature bundle; tampered fails.
  if (auto ok = sigstore_js_verifies(keys, {{"payload", plugin::base64_encode(stored_payload)},
                                            {"signature", ann.at("dev.cosignproject.cosign/signature")}})) {
    CHECK(*ok);
    CHECK_FALSE(*sigstore_js_verifies(keys, {{"payload", plugin::base64_encode(stored_payload + " ")},
                                             {"signature", ann.at("dev.cosignproject.cosign/signature")}}));
  } else {
    FAIL("node or @sigstore/verify missing (sigstore_js_present)");
  }

  auto [att_manifest, att_manifest_digest] = api.manifest(repo, "sha256-" + hex + ".att");
  auto att_layers = check_cosign_manifest(api, repo, att_manifest, "application/vnd.dsse.envelope.v1+json");
  REQUIRE(att_layers.size() == 1);
  const auto& al = att_layers[0].as_object();
  const auto& aann = al.at("annotations").as_object();
  CHECK(aann.size() == 2);
  CHECK(str(aann.at("dev.cosignproject.cosign/signature")).empty());
  CHECK(str(aann.at("predicateType")) == "https://slsa.dev/provenance/v0.2");
  std::string envelope = api.blob(repo, str(al.at("digest")));
  CHECK(envelope == att_req.signature);
  auto env = json::parse(envelope).as_object();
  std::string statement = plugin::base64_decode(str(env.at("payload")));
  CHECK(statement == att_req.payload);
  CHECK(keys.verify(pae(in_toto_type, statement),
                    plugin::base64_decode(str(env.at("signatures").as_array()[0].as_object().at("sig")))));
  if (auto ok = sigstore_js_verifies(keys, {{"envelope", env}})) {
    CHECK(*ok);
    auto tampered = env;
    tampered["payloadType"] = "application/vnd.in-toto+jsom";
    CHECK_FALSE(*sigstore_js_verifies(keys, {{"envelope", tampered}}));
  }

  SECTION("storing the same signature and attestation again changes nothing") {
    REQUIRE(store(h, *st, sig_req).has_value());
    REQUIRE(store(h, *st, att_req).has_value());
    CHECK(api.manifest(repo, "sha256-" + hex + ".sig").second == sig_manifest_digest);
    CHECK(api.manifest(repo, "sha256-" + hex + ".att").second == att_manifest_digest);
  }
  SECTION("a second, different signature is appended and the first kept") {
    auto second = signature_request(keys, image_repo, digest, false);
    second.payload.insert(second.payload.size() - 1, R"(,"extra":1)");
    second.signature = keys.sign(second.payload);
    REQUIRE(store(h, *st, second).has_value());
    auto [m2, d2] = api.manifest(repo, "sha256-" + hex + ".sig");
    auto l2 = check_cosign_manifest(api, repo, m2, "application/vnd.dev.cosign.simplesigning.v1+json");
    REQUIRE(l2.size() == 2);
    CHECK(l2[0] == layers[0]);
    CHECK(l2[1].as_object().at("annotations").as_object().size() == 1);  // no cert: signature only
    CHECK(str(l2[1].as_object().at("digest")) == storage_oci::sha256_digest(second.payload));
  }
  SECTION("concurrent stores to one tag keep every layer; several subjects are pushed together") {
    const std::string digest2 = api.push_image("team/other");
    auto a1 = attestation_request(keys, image_repo, digest);
    auto a2 = attestation_request(keys, image_repo, digest);
    // a2 names both images: one attestation each, pushed concurrently.
    a2.subject_images = {image_repo + "@" + digest, reg.host() + "/team/other@" + digest2};
    auto f1 = boost::asio::co_spawn(h.ctx, st->store(a1), boost::asio::use_future);
    auto f2 = boost::asio::co_spawn(h.ctx, st->store(a2), boost::asio::use_future);
    h.ctx.restart();
    h.ctx.run();
    REQUIRE(f1.get().has_value());
    REQUIRE(f2.get().has_value());
    auto [m, d] = api.manifest(repo, "sha256-" + hex + ".att");
    auto l = check_cosign_manifest(api, repo, m, "application/vnd.dsse.envelope.v1+json");
    REQUIRE(l.size() == 3);  // att_req, a1, a2
    CHECK(l[0] == att_layers[0]);
    auto [mo, dd] = api.manifest("team/other", "sha256-" + digest2.substr(7) + ".att");
    auto lo = check_cosign_manifest(api, "team/other", mo, "application/vnd.dsse.envelope.v1+json");
    REQUIRE(lo.size() == 1);
    CHECK(api.blob("team/other", str(lo[0].as_object().at("digest"))) == a2.signature);
  }
  SECTION("storage.oci.repository puts the layout in another repository, chunked uploads included") {
    auto other = make(h, {{"storage.oci.repository", reg.host() + "/signatures/app"},
                          {"storage.oci.upload-chunk-size", "64"}});
    h.http_requests.clear();
    REQUIRE(store(h, *other, sig_req).has_value());
    REQUIRE(store(h, *other, att_req).has_value());
    // Both layers and the config were already in team/app: mounted, not uploaded.
    CHECK(std::count_if(h.http_requests.begin(), h.http_requests.end(),
                        [](const std::string& l) { return l.rfind("PATCH", 0) == 0; }) == 0);
    auto [m, d] = api.manifest("signatures/app", "sha256-" + hex + ".sig");
    auto l = check_cosign_manifest(api, "signatures/app", m, "application/vnd.dev.cosign.simplesigning.v1+json");
    CHECK(l == layers);
    auto [ma, da] = api.manifest("signatures/app", "sha256-" + hex + ".att");
    CHECK(check_cosign_manifest(api, "signatures/app", ma, "application/vnd.dsse.envelope.v1+json") == att_layers);
    // A new envelope (larger than 64 bytes) goes up in PATCH chunks after a failed mount attempt.
    auto fresh = attestation_request(keys, image_repo, digest);
    REQUIRE(store(h, *other, fresh).has_value());
    auto [ma2, da2] = api.manifest("signatures/app", "sha256-" + hex + ".att");
    auto l3 = check_cosign_manifest(api, "signatures/app", ma2, "application/vnd.dsse.envelope.v1+json");
    REQUIRE(l3.size() == 2);
    CHECK(api.blob("signatures/app", str(l3[1].as_object().at("digest"))) == fresh.signature);
    auto has = [&](std::string_view prefix) {
      for (const auto& line : h.http_requests)
        if (line.find(prefix) != std::string::npos) return true;
      return false;
    };
    CHECK(has("PATCH http://" + reg.host() + "/v2/signatures/app/blobs/uploads/"));
    CHECK(has("POST http://" + reg.host() + "/v2/signatures/app/blobs/uploads/?mount=sha256%3A"));
  }
}

TEST_CASE("oci storage lists the manifests of an image index, and each one's signature is stored as cosign's") {
  registry_process reg({});
  oci_host h;
  registry_api api{h, reg.base_url(), ""};
  test_keys keys;
  const std::string repo = "team/multi";
  const std::string image_repo = reg.host() + "/" + repo;
  // index → amd64, arm64, and a nested Docker manifest list → s390x (cosign's walk descends into it).
  auto amd64 = api.push_platform_image(repo, "amd64", "amd64");
  auto arm64 = api.push_platform_image(repo, "arm64", "arm64");
  auto s390x = api.push_platform_image(repo, "s390x", "s390x");
  auto nested = api.push_index(repo, json::array{s390x}, "nested",
                               "application/vnd.docker.distribution.manifest.list.v2+json");
  auto index = api.push_index(repo, json::array{amd64, arm64, nested}, "latest");
  const std::string index_digest = str(index.at("digest"));
  auto st = make(h);
  REQUIRE(st->reads_image_indexes());
  const plugin::run_ref run{"tekton.dev/v1", "TaskRun", "ns", "build", "uid-1", ""};
  auto list = [&](const std::string& image) { return h.run(st->index_manifests(run, image)); };

  auto listed = list(image_repo + "@" + index_digest);
  INFO((listed ? std::string() : listed.error().message));
  REQUIRE(listed.has_value());
  CHECK(*listed == std::vector<std::string>{str(amd64.at("digest")), str(arm64.at("digest")),
                                            str(nested.at("digest")), str(s390x.at("digest"))});
  // A single-image manifest lists nothing.
  auto single = list(image_repo + "@" + str(amd64.at("digest")));
  REQUIRE(single.has_value());
  CHECK(single->empty());
  // Only indexes are downloaded: the root and the nested list, nothing else after the ping.
  CHECK(std::count_if(h.http_requests.begin(), h.http_requests.end(), [](const std::string& l) {
          return l.find("/manifests/") != std::string::npos;
        }) == 3);
  CHECK(std::none_of(h.http_requests.begin(), h.http_requests.end(),
                     [](const std::string& l) { return l.rfind("GET", 0) != 0; }));

  // What the engine then does: one simplesigning payload per digest, stored like the index's.
  std::vector<std::string> all{index_digest};
  all.insert(all.end(), listed->begin(), listed->end());
  for (const auto& d : all) {
    auto r = store(h, *st, signature_request(keys, image_repo, d, false));
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
  }
  for (const auto& d : all) {
    INFO(d);
    auto [m, md] = api.manifest(repo, "sha256-" + d.substr(7) + ".sig");
    auto layers = check_cosign_manifest(api, repo, m, "application/vnd.dev.cosign.simplesigning.v1+json");
    REQUIRE(layers.size() == 1);
    std::string payload = api.blob(repo, str(layers[0].as_object().at("digest")));
    CHECK(str(json::parse(payload).at("critical").at("image").at("docker-manifest-digest")) == d);
    CHECK(keys.verify(payload, plugin::base64_decode(
                                   str(layers[0].as_object().at("annotations").at("dev.cosignproject.cosign/signature")))));
  }

  SECTION("a missing image is a permanent error naming it") {
    const std::string missing = image_repo + "@sha256:" + std::string(64, 'e');
    auto r = list(missing);
    REQUIRE(r.has_error());
    CHECK(r.error().code == plugin::errc::permanent);
    CHECK_THAT(r.error().message, Catch::Contains(missing) && Catch::Contains("does not exist") &&
                                      Catch::Contains("ns/build"));
  }
  SECTION("an unreachable registry is retryable, naming it") {
    const std::string host = "127.0.0.1:" + std::to_string(free_port());
    auto r = list(host + "/team/multi@" + index_digest);
    REQUIRE(r.has_error());
    CHECK(r.error().code == plugin::errc::retryable);
    CHECK_THAT(r.error().message, Catch::Contains(host));
  }
  SECTION("a registry answering other bytes than the digest asked for is refused, nothing listed") {
    // A lying registry (or proxy) slips a manifest of its choice into the index it serves.
    const std::string evil = "sha256:" + std::string(64, '6');
    h.rewrite = [&](const std::string& url, plugin::http_response& resp) {
      if (url.find("/manifests/" + index_digest) == std::string::npos) return;
      auto at = resp.body.find(str(arm64.at("digest")));
      REQUIRE(at != std::string::npos);
      resp.body.replace(at, evil.size(), evil);
    };
    auto r = list(image_repo + "@" + index_digest);
    REQUIRE(r.has_error());
    CHECK(r.error().code == plugin::errc::permanent);
    CHECK_THAT(r.error().message, Catch::Contains("answered manifest " + index_digest + " with a document of digest"));
  }
}

TEST_CASE("oci storage with sigstore-bundle pushes OCI 1.1 referrers with the tag-schema fallback") {
  registry_process reg({});
  oci_host h;
  registry_api api{h, reg.base_url(), ""};
  test_keys keys;
  const std::string repo = "team/bundled";
  const std::string image_repo = reg.host() + "/" + repo;
  const std::string digest = api.push_image(repo);
  const std::string image_manifest = api.call("GET", "/v2/" + repo + "/manifests/" + digest, {},
                                              {{"Accept", "application/vnd.oci.image.manifest.v1+json"}}).body;
  auto st = make(h, {{"storage.oci.encoding-format", "sigstore-bundle"}});
  auto sig_req = signature_request(keys, image_repo, digest, false);
  auto att_req = attestation_request(keys, image_repo, digest);
  for (int round = 0; round < 2; ++round) {  // the second round must find both and add nothing
    auto r = store(h, *st, sig_req);
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
    r = store(h, *st, att_req);
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
  }
  // distribution 2.8 has no referrers API: the index is under the fallback tag.
  const std::string fallback = "sha256-" + digest.substr(7);
  auto idx = api.call("GET", "/v2/" + repo + "/manifests/" + fallback, {},
                      {{"Accept", "application/vnd.oci.image.index.v1+json"}});
  REQUIRE(idx.status == 200);
  auto index = json::parse(idx.body).as_object();
  CHECK(str(index.at("mediaType")) == "application/vnd.oci.image.index.v1+json");
  const auto& entries = index.at("manifests").as_array();
  REQUIRE(entries.size() == 2);

  std::set<std::string> predicates;
  for (const auto& e : entries) {
    const auto& d = e.as_object();
    CHECK(str(d.at("artifactType")) == "application/vnd.dev.sigstore.bundle.v0.3+json");
    auto [m, md] = api.manifest(repo, str(d.at("digest")));
    CHECK(md == str(d.at("digest")));
    CHECK(str(m.at("artifactType")) == "application/vnd.dev.sigstore.bundle.v0.3+json");
    CHECK(str(m.at("config").as_object().at("mediaType")) == "application/vnd.oci.empty.v1+json");
    CHECK(api.blob(repo, str(m.at("config").as_object().at("digest"))) == "{}");
    const auto& subject = m.at("subject").as_object();
    CHECK(str(subject.at("digest")) == digest);
    CHECK(str(subject.at("mediaType")) == "application/vnd.oci.image.manifest.v1+json");
    CHECK(static_cast<std::size_t>(subject.at("size").as_int64()) == image_manifest.size());
    const auto& ann = m.at("annotations").as_object();
    CHECK(d.at("annotations") == m.at("annotations"));
    predicates.insert(str(ann.at("dev.sigstore.bundle.predicateType")));
    const auto& layers = m.at("layers").as_array();
    REQUIRE(layers.size() == 1);
    CHECK(str(layers[0].as_object().at("mediaType")) == "application/vnd.dev.sigstore.bundle.v0.3+json");
    std::string bundle = api.blob(repo, str(layers[0].as_object().at("digest")));
    auto b = json::parse(bundle).as_object();
    CHECK(str(b.at("mediaType")) == "application/vnd.dev.sigstore.bundle.v0.3+json");
    // Not logged: the verification material and the signature, no log entry.
    CHECK(b.at("verificationMaterial").at("tlogEntries").as_array().empty());
    if (str(ann.at("dev.sigstore.bundle.predicateType")) == "https://sigstore.dev/cosign/sign/v1") {
      // The engine's bundle of the signature, byte for byte: a message signature over the
      // simplesigning payload (as upstream's current MessageSignature bundles).
      CHECK(bundle == sig_req.sigstore_bundle_json);
      CHECK(str(ann.at("dev.sigstore.bundle.content")) == "message-signature");
      CHECK(str(b.at("verificationMaterial").at("publicKey").at("hint")) == "");
      const auto& ms = b.at("messageSignature").as_object();
      std::string hex;
      for (unsigned char c : plugin::base64_decode(str(ms.at("messageDigest").at("digest")))) {
        char byte[3];
        std::snprintf(byte, sizeof byte, "%02x", c);
        hex += byte;
      }
      CHECK("sha256:" + hex == storage_oci::sha256_digest(sig_req.payload));
      CHECK(keys.verify(sig_req.payload, plugin::base64_decode(str(ms.at("signature")))));
      if (auto ok = sigstore_bundle_verifies(keys, b, sig_req.payload)) {
        CHECK(*ok);
        CHECK_FALSE(*sigstore_bundle_verifies(keys, b, sig_req.payload + " "));  // another payload
      } else {
        WARN("node or @sigstore/verify missing: independent bundle check skipped");
      }
    } else {
      CHECK(bundle == att_req.sigstore_bundle_json);
      CHECK(str(ann.at("dev.sigstore.bundle.content")) == "dsse-envelope");
      CHECK(str(b.at("verificationMaterial").at("publicKey").at("hint")) == "SHA256:test");
      const auto& env = b.at("dsseEnvelope").as_object();
      std::string payload = plugin::base64_decode(str(env.at("payload")));
      std::string sig = plugin::base64_decode(str(env.at("signatures").as_array()[0].as_object().at("sig")));
      CHECK(str(env.at("payloadType")) == "application/vnd.in-toto+json");
      CHECK(payload == att_req.payload);
      CHECK(keys.verify(pae(in_toto_type, payload), sig));
      if (auto ok = sigstore_bundle_verifies(keys, b)) {
        CHECK(*ok);
        // Tampered: one byte of the statement changed.
        auto tampered = b;
        std::string p2 = payload;
        p2[p2.find("v0.2")] = 'V';
        tampered["dsseEnvelope"].as_object()["payload"] = plugin::base64_encode(p2);
        CHECK_FALSE(*sigstore_bundle_verifies(keys, tampered));
      } else {
        FAIL("node or @sigstore/verify missing (sigstore_js_present)");
      }
    }
  }
  CHECK(predicates == std::set<std::string>{"https://sigstore.dev/cosign/sign/v1", "https://slsa.dev/provenance/v0.2"});
  // No cosign tags in this mode.
  CHECK(api.call("GET", "/v2/" + repo + "/manifests/" + fallback + ".sig").status == 404);
}

TEST_CASE("oci storage: requests per push once the registry is known, re-discovery on 401") {
  registry_process reg({});
  oci_host h;
  registry_api api{h, reg.base_url(), ""};
  test_keys keys;
  const std::string repo = "count/app";
  const std::string image_repo = reg.host() + "/" + repo;
  const std::string digest = api.push_image(repo);
  const std::string digest2 = api.push_image("count/other");
  auto st = make(h);
  auto methods = [&] {
    std::vector<std::string> out;
    for (const auto& l : h.http_requests) {
      auto sp = l.find(' ');
      auto path = l.substr(l.find("/v2/", sp));
      std::string kind = path == "/v2/" ? "ping" : path.find("/manifests/") != std::string::npos ? "manifest"
                                                                                                 : "blob";
      out.push_back(l.substr(0, sp) + " " + kind);
    }
    return out;
  };
  const std::vector<std::string> push = {"GET manifest", "POST blob", "PUT blob", "POST blob", "PUT blob",
                                         "PUT manifest"};
  // The first push pings the registry; the next ones (any repository of it) do not, and upload
  // the new layer and config without asking whether they exist first.
  h.http_requests.clear();
  REQUIRE(store(h, *st, signature_request(keys, image_repo, digest, true)).has_value());
  auto first = push;
  first.insert(first.begin(), {"GET ping", "GET ping"});  // HTTPS, then plain HTTP (loopback)
  CHECK(h.http_requests[0].rfind("GET https://", 0) == 0);
  CHECK(methods() == first);
  h.http_requests.clear();
  REQUIRE(store(h, *st, attestation_request(keys, image_repo, digest)).has_value());
  CHECK(methods() == push);
  h.http_requests.clear();
  REQUIRE(store(h, *st, signature_request(keys, reg.host() + "/count/other", digest2, false)).has_value());
  CHECK(methods() == push);
  // Both pushes are readable as cosign's layout.
  auto [m, d] = api.manifest(repo, "sha256-" + digest.substr(7) + ".att");
  CHECK(check_cosign_manifest(api, repo, m, "application/vnd.dsse.envelope.v1+json").size() == 1);

  SECTION("a 401 to a request made with what was learnt: ping again and retry it once") {
    int left = 1;
    h.rewrite = [&](const std::string& url, plugin::http_response& r) {
      if (left > 0 && url.find("/manifests/") != std::string::npos) {
        --left;
        r = plugin::http_response{401, {{"WWW-Authenticate", "Basic realm=\"x\""}}, ""};
      }
    };
    h.http_requests.clear();
    auto again = attestation_request(keys, image_repo, digest);
    again.signature.insert(again.signature.size() - 1, R"(,"x":1)");
    auto r = store(h, *st, again);
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
    auto seen = methods();
    REQUIRE(seen.size() == push.size() + 2);
    CHECK(seen[0] == "GET manifest");  // 401
    CHECK(seen[1] == "GET ping");  // the scheme that worked, first
    CHECK(h.http_requests[1].rfind("GET http://", 0) == 0);
    CHECK(seen[2] == "GET manifest");
    auto [m2, d2] = api.manifest(repo, "sha256-" + digest.substr(7) + ".att");
    CHECK(check_cosign_manifest(api, repo, m2, "application/vnd.dsse.envelope.v1+json").size() == 2);
  }
}

TEST_CASE("oci storage caches service-account credentials for a short time") {
  registry_process reg({false, "chains", "s3cret pass"});
  oci_host h;
  registry_api api{h, reg.base_url(), "Basic " + plugin::base64_encode("chains:s3cret pass")};
  test_keys keys;
  const std::string repo = "burst/app";
  const std::string image_repo = reg.host() + "/" + repo;
  std::vector<std::string> digests;
  for (int i = 0; i < 6; ++i) digests.push_back(api.push_image(repo + std::to_string(i)));
  auto secret = [&](const std::string& password) {
    std::string cfg = R"({"auths":{")" + reg.host() + R"(":{"auth":")" + plugin::base64_encode("chains:" + password) +
                      R"("}}})";
    h.kube_objects["/api/v1/namespaces/ns/secrets/regcred"] = {
        200, R"({"type":"kubernetes.io/dockerconfigjson","data":{".dockerconfigjson":")" + plugin::base64_encode(cfg) +
                 R"("}})"};
  };
  h.kube_objects["/api/v1/namespaces/ns/serviceaccounts/builder"] = {
      200, R"({"metadata":{"name":"builder"},"imagePullSecrets":[{"name":"regcred"}]})"};
  secret("s3cret pass");
  auto req = [&](int i) {
    auto r = signature_request(keys, image_repo + std::to_string(i), digests[i], false);
    r.run.service_account = "builder";
    return r;
  };
  const std::vector<std::string> one_lookup{"GET /api/v1/namespaces/ns/serviceaccounts/builder",
                                            "GET /api/v1/namespaces/ns/secrets/regcred"};

  SECTION("a burst of concurrent stores reads the account and its secret once (default TTL)") {
    auto st = make(h);
    std::vector<std::future<plugin::result<plugin::store_result>>> fs;
    for (int i = 0; i < 5; ++i) fs.push_back(boost::asio::co_spawn(h.ctx, st->store(req(i)), boost::asio::use_future));
    h.ctx.restart();
    h.ctx.run();
    for (auto& f : fs) {
      auto r = f.get();
      INFO((r ? std::string() : r.error().message));
      CHECK(r.has_value());
    }
    CHECK(h.kube_requests == one_lookup);
    // A changed secret is not seen within the TTL: the cached credentials still work.
    secret("wrong");
    CHECK(store(h, *st, req(5)).has_value());
    CHECK(h.kube_requests == one_lookup);
  }
  SECTION("a changed secret is read again once the entry expires") {
    auto st = make(h, {{"storage.oci.credentials-cache-ms", "300"}});
    REQUIRE(store(h, *st, req(0)).has_value());
    CHECK(h.kube_requests == one_lookup);
    secret("wrong");
    REQUIRE(store(h, *st, req(1)).has_value());  // still cached
    CHECK(h.kube_requests.size() == 2);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    auto r = store(h, *st, req(2));
    REQUIRE(r.has_error());
    CHECK(r.error().code == plugin::errc::unauthenticated);
    CHECK(h.kube_requests.size() == 4);
    secret("s3cret pass");
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    CHECK(store(h, *st, req(2)).has_value());
    CHECK(h.kube_requests.size() == 6);
  }
  SECTION("0 reads the account on every store; failures are not cached") {
    auto st = make(h, {{"storage.oci.credentials-cache-ms", "0"}});
    REQUIRE(store(h, *st, req(0)).has_value());
    REQUIRE(store(h, *st, req(1)).has_value());
    CHECK(h.kube_requests.size() == 4);
  }
}

TEST_CASE("oci storage with htpasswd basic auth uses the run's service account imagePullSecrets") {
  registry_process reg({false, "chains", "s3cret pass"});
  oci_host h;
  registry_api api{h, reg.base_url(), "Basic " + plugin::base64_encode("chains:s3cret pass")};
  test_keys keys;
  const std::string repo = "private/app";
  const std::string image_repo = reg.host() + "/" + repo;
  const std::string digest = api.push_image(repo);
  auto docker_config = [&](const std::string& password) {
    return R"({"auths":{"http://)" + reg.host() + R"(/v1/":{"auth":")" +
           plugin::base64_encode("chains:" + password) + R"("}}})";
  };
  auto req = signature_request(keys, image_repo, digest, false);
  req.run.service_account = "builder";

  SECTION("credentials from a .dockerconfigjson secret of the service account") {
    h.kube_objects["/api/v1/namespaces/ns/serviceaccounts/builder"] = {
        200, R"({"metadata":{"name":"builder"},"imagePullSecrets":[{"name":"missing"},{"name":"regcred"}]})"};
    h.kube_objects["/api/v1/namespaces/ns/secrets/regcred"] = {
        200, R"({"type":"kubernetes.io/dockerconfigjson","data":{".dockerconfigjson":")" +
                 plugin::base64_encode(docker_config("s3cret pass")) + R"("}})"};
    auto st = make(h);
    auto r = store(h, *st, req);
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
    auto [m, d] = api.manifest(repo, "sha256-" + digest.substr(7) + ".sig");
    CHECK(check_cosign_manifest(api, repo, m, "application/vnd.dev.cosign.simplesigning.v1+json").size() == 1);
    auto att = attestation_request(keys, image_repo, digest);
    att.run.service_account = "builder";
    REQUIRE(store(h, *st, att).has_value());
    api.manifest(repo, "sha256-" + digest.substr(7) + ".att");
    // Reading an index authenticates the same way.
    auto listed = h.run(st->index_manifests(req.run, image_repo + "@" + digest));
    INFO((listed ? std::string() : listed.error().message));
    REQUIRE(listed.has_value());
    CHECK(listed->empty());
  }
  SECTION("credentials from a mounted docker config (storage.oci.docker-config)") {
    write_text(keys.dir / "config.json", docker_config("s3cret pass"));
    auto st = make(h, {{"storage.oci.docker-config", (keys.dir / "config.json").string()}});
    auto r = store(h, *st, req);
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
    CHECK(h.kube_requests == std::vector<std::string>{"GET /api/v1/namespaces/ns/serviceaccounts/builder"});
  }
  SECTION("the default service account is used when the run names none") {
    req.run.service_account.clear();
    auto st = make(h);
    store(h, *st, req);
    REQUIRE(!h.kube_requests.empty());
    CHECK(h.kube_requests[0] == "GET /api/v1/namespaces/ns/serviceaccounts/default");
  }
  SECTION("no credentials: unauthenticated, naming the registry") {
    auto st = make(h);
    auto r = store(h, *st, req);
    REQUIRE(r.has_error());
    CHECK(r.error().code == plugin::errc::unauthenticated);
    CHECK_THAT(r.error().message, Catch::Contains(reg.host()) && Catch::Contains(digest));
    auto listed = h.run(st->index_manifests(req.run, image_repo + "@" + digest));
    REQUIRE(listed.has_error());
    CHECK(listed.error().code == plugin::errc::unauthenticated);
    CHECK_THAT(listed.error().message, Catch::Contains(image_repo + "@" + digest));
  }
  SECTION("wrong password: unauthenticated after authenticating, naming image and repository") {
    write_text(keys.dir / "config.json", docker_config("wrong"));
    auto st = make(h, {{"storage.oci.docker-config", (keys.dir / "config.json").string()}});
    auto r = store(h, *st, req);
    REQUIRE(r.has_error());
    CHECK(r.error().code == plugin::errc::unauthenticated);
    CHECK_THAT(r.error().message, Catch::Contains(reg.host() + "/" + repo) && Catch::Contains("HTTP 401"));
    CHECK(api.call("GET", "/v2/" + repo + "/manifests/sha256-" + digest.substr(7) + ".sig").status == 404);
  }
}

TEST_CASE("oci storage with Docker token auth asks the realm for push scope with the found credentials") {
  registry_process reg({false, "robot", "t0ken-pass", true});
  oci_host h;
  test_keys keys;
  const std::string repo = "tokened/app";
  const std::string image_repo = reg.host() + "/" + repo;
  // The test's own pushes: a token for push on the repository, fetched directly.
  registry_api api{h, reg.base_url(), ""};
  {
    auto t = api.call("GET", reg.token_realm() + "?service=chainsd-test-registry&scope=" +
                                 net::url_encode_component("repository:" + repo + ":pull,push") + "&scope=" +
                                 net::url_encode_component("repository:signatures/tokened:pull,push"),
                      {}, {{"Authorization", "Basic " + plugin::base64_encode("robot:t0ken-pass")}});
    REQUIRE(t.status == 200);
    api.authorization = "Bearer " + str(json::parse(t.body).at("token"));
  }
  const std::string digest = api.push_image(repo);
  write_text(keys.dir / "config.json", R"({"auths":{")" + reg.host() + R"(":{"username":"robot","password":"t0ken-pass"}}})");

  SECTION("credentials from the docker config: stored, scope asked for the target repository") {
    auto st = make(h, {{"storage.oci.docker-config", (keys.dir / "config.json").string()}});
    auto r = store(h, *st, signature_request(keys, image_repo, digest, false));
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
    REQUIRE(store(h, *st, attestation_request(keys, image_repo, digest)).has_value());
    auto [m, d] = api.manifest(repo, "sha256-" + digest.substr(7) + ".sig");
    CHECK(check_cosign_manifest(api, repo, m, "application/vnd.dev.cosign.simplesigning.v1+json").size() == 1);
    api.manifest(repo, "sha256-" + digest.substr(7) + ".att");
    auto log = reg.token_requests();
    CHECK_THAT(log, Catch::Contains(R"("service": "chainsd-test-registry", "scope": ["repository:tokened/app:pull,push"], "authorized": true)"));
    // The second store reused the first one's token (expires_in 300 s): one token request.
    auto count = [](const std::string& text, const std::string& what) {
      std::size_t n = 0;
      for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
      return n;
    };
    CHECK(count(log, R"("scope": ["repository:tokened/app:pull,push"])") == 1);
  }
  SECTION("reading an index asks the realm for pull only") {
    auto st = make(h, {{"storage.oci.docker-config", (keys.dir / "config.json").string()}});
    const plugin::run_ref run{"tekton.dev/v1", "TaskRun", "ns", "build", "uid-1", ""};
    auto r = h.run(st->index_manifests(run, image_repo + "@" + digest));
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
    CHECK(r->empty());
    CHECK_THAT(reg.token_requests(),
               Catch::Contains(R"("service": "chainsd-test-registry", "scope": ["repository:tokened/app:pull"], "authorized": true)"));
  }
  SECTION("with storage.oci.repository the token also asks pull on the image's repository (mount)") {
    auto st = make(h, {{"storage.oci.docker-config", (keys.dir / "config.json").string()},
                       {"storage.oci.repository", reg.host() + "/signatures/tokened"}});
    auto r = store(h, *st, signature_request(keys, image_repo, digest, false));
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
    api.manifest("signatures/tokened", "sha256-" + digest.substr(7) + ".sig");
    CHECK_THAT(reg.token_requests(),
               Catch::Contains(R"(["repository:signatures/tokened:pull,push", "repository:tokened/app:pull"])"));
  }
  SECTION("the token server refusing the credentials is unauthenticated, naming the realm and registry") {
    write_text(keys.dir / "bad.json", R"({"auths":{")" + reg.host() + R"(":{"username":"robot","password":"nope"}}})");
    auto st = make(h, {{"storage.oci.docker-config", (keys.dir / "bad.json").string()}});
    auto r = store(h, *st, signature_request(keys, image_repo, digest, false));
    REQUIRE(r.has_error());
    CHECK(r.error().code == plugin::errc::unauthenticated);
    CHECK_THAT(r.error().message, Catch::Contains(reg.token_realm()) && Catch::Contains(reg.host()));
  }
}

TEST_CASE("oci storage over TLS verifies the registry with the engine's client and a test CA") {
  registry_process reg({true, "", ""});
  net::client_options trusting;
  trusting.tls.ca_file = reg.ca_file();
  oci_host h(trusting);
  registry_api api{h, reg.base_url(), ""};
  test_keys keys;
  const std::string repo = "secure/app";
  const std::string digest = api.push_image(repo);
  auto st = make(h);
  auto r = store(h, *st, signature_request(keys, reg.host() + "/" + repo, digest, true));
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r.has_value());
  REQUIRE(store(h, *st, attestation_request(keys, reg.host() + "/" + repo, digest)).has_value());
  auto [m, d] = api.manifest(repo, "sha256-" + digest.substr(7) + ".sig");
  CHECK(check_cosign_manifest(api, repo, m, "application/vnd.dev.cosign.simplesigning.v1+json").size() == 1);
  api.manifest(repo, "sha256-" + digest.substr(7) + ".att");
  for (const auto& line : h.http_requests) CHECK(line.find(" https://") != std::string::npos);

  SECTION("a client without the CA fails and names the registry") {
    oci_host untrusting;
    auto st2 = make(untrusting);
    auto r2 = store(untrusting, *st2, signature_request(keys, reg.host() + "/" + repo, digest, false));
    REQUIRE(r2.has_error());
    CHECK_THAT(r2.error().message, Catch::Contains(reg.host()));
  }
}

TEST_CASE("oci storage: an unreachable registry is a retryable error naming it") {
  oci_host h;
  test_keys keys;
  const std::string host = "127.0.0.1:" + std::to_string(free_port());
  auto st = make(h);
  auto digest = "sha256:" + std::string(64, 'a');
  auto r = store(h, *st, signature_request(keys, host + "/x/app", digest, false));
  REQUIRE(r.has_error());
  CHECK(r.error().code == plugin::errc::retryable);
  CHECK_THAT(r.error().message, Catch::Contains(host));
  r = store(h, *st, attestation_request(keys, host + "/x/app", digest));
  REQUIRE(r.has_error());
  CHECK(r.error().code == plugin::errc::retryable);
}

TEST_CASE("oci storage: an attestation without image subjects stores nothing") {
  oci_host h;
  test_keys keys;
  auto st = make(h);
  auto req = attestation_request(keys, "Not An Image", "sha256:" + std::string(64, 'b'));
  auto r = store(h, *st, req);
  REQUIRE(r.has_value());
  CHECK(h.http_requests.empty());
}

TEST_CASE("oci storage factory rejects bad configuration naming the key") {
  oci_host h;
  auto bad = [&](plugin::config_map cfg, std::string key) {
    auto st = oci_plugin().make_storage("oci", h, cfg);
    INFO(key);
    REQUIRE(st.has_error());
    CHECK(st.error().code == plugin::errc::bad_config);
    CHECK_THAT(st.error().message, Catch::Contains(key));
  };
  bad({{"storage.oci.repository", "Bad Repo/x"}}, "storage.oci.repository");
  bad({{"storage.oci.repository", "reg.example/x@sha256:" + std::string(64, 'c')}}, "storage.oci.repository");
  bad({{"storage.oci.encoding-format", "json"}}, "storage.oci.encoding-format");
  bad({{"storage.oci.docker-config", "/nonexistent/config.json"}}, "storage.oci.docker-config");
  bad({{"storage.oci.docker-config", "/dev/zero"}}, "storage.oci.docker-config: /dev/zero is a character device, not a regular file");
  bad({{"storage.oci.docker-config", "/tmp"}}, "storage.oci.docker-config: /tmp is a directory");
  bad({{"storage.oci.upload-chunk-size", "-1"}}, "storage.oci.upload-chunk-size");
  bad({{"storage.oci.credentials-cache-ms", "30s"}}, "storage.oci.credentials-cache-ms");
  // Like the engine (Go's ParseBool): other spellings are accepted, unknown ones warned about.
  CHECK(oci_plugin().make_storage("oci", h, {{"storage.oci.repository.insecure", "True"}}).has_value());
  CHECK(oci_plugin().make_storage("oci", h, {{"storage.oci.repository.insecure", "yes"}}).has_value());
  CHECK_THAT(h.logs.back(), Catch::Contains("storage.oci.repository.insecure"));
  CHECK(oci_plugin().make_storage("oci", h, {{"storage.oci.encoding-format", "dsse"},
                                             {"storage.oci.repository", "ghcr.io/org/sigs"},
                                             {"storage.oci.repository.insecure", "false"}})
            .has_value());
}
