// storage-grafeas: upstream's notes and occurrences (pure), then the loaded plugin through the
// engine's HTTP client against tests/support/grafeas-stub (which checks every body against the
// grafeas.v1 messages and needs the OAuth tokens gcs-stub issues).
#include <catch2/catch.hpp>

#include "../../support/oci_host.hpp"
#include "../../support/python_stub.hpp"
#include "../../support/load_plugin.hpp"
#include "../../support/stub_http.hpp"
#include "grafeas_json.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdlib>

using namespace chainsd;
namespace json = boost::json;
using oci_test::oci_host;
namespace sg = storage_grafeas;

namespace {

const std::string v02 = R"({"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2",
 "subject":[{"name":"reg/app","digest":{"sha256":"aa"}},{"name":"reg/lib","digest":{"sha256":"bb"}}],
 "predicate":{"builder":{"id":"https://tekton.dev/chains/v2"},"buildType":"tekton.dev/v1beta1/TaskRun",
  "invocation":{"configSource":{},"parameters":{"p":"v"},"environment":null},
  "buildConfig":{"steps":[{"entryPoint":"echo hi"}]},
  "metadata":{"buildStartedOn":"2026-11-26T06:00:00Z","buildFinishedOn":"2026-11-26T06:00:30Z",
   "completeness":{"parameters":false,"environment":false,"materials":false},"reproducible":false},
  "materials":[{"uri":"oci://busybox","digest":{"sha256":"cc"}}]}})";

const std::string v1 = R"({"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1",
 "subject":[{"name":"reg/app","digest":{"sha256":"aa"}}],
 "predicate":{"buildDefinition":{"buildType":"https://tekton.dev/chains/v2/slsa","externalParameters":{"runSpec":{}},
  "internalParameters":{},"resolvedDependencies":[{"uri":"oci://busybox","digest":{"sha256":"cc"},"name":"pipelineTask"}]},
  "runDetails":{"builder":{"id":"https://tekton.dev/chains/v2"},"metadata":{"invocationId":"uid-1",
   "startedOn":"2026-11-26T06:00:00Z","finishedOn":"2026-11-26T06:00:30Z"},"byproducts":[]}}})";

plugin::store_request run_req(std::string format = "slsa/v1", std::string payload = v02) {
  plugin::store_request req;
  req.run = {"tekton.dev/v1", "TaskRun", "team-a", "build-7", "uid-1", "default"};
  req.short_key = "taskrun-uid-1";
  req.full_key = "taskrun-uid-1";
  req.payload_format = std::move(format);
  req.payload = std::move(payload);
  req.signature = R"({"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"k","sig":"AA=="}]})";
  return req;
}

plugin::store_request image_req() {
  auto req = run_req("simplesigning", R"({"critical":{"identity":{"docker-reference":"reg/app"}}})");
  req.kind = plugin::artifact_kind::oci;
  req.short_key = "aaaaaaaaaaaa";
  req.full_key = "reg/app@sha256:" + std::string(64, 'a');
  req.image = req.full_key;
  req.signature = "\x30\x45raw";
  return req;
}

struct scoped_env {
  explicit scoped_env(std::initializer_list<std::pair<const char*, std::string>> vars) {
    for (const char* n : {"GOOGLE_APPLICATION_CREDENTIALS", "GCE_METADATA_HOST", "CHAINSD_CONTAINERANALYSIS_ENDPOINT"})
      ::unsetenv(n);
    for (const auto& [k, v] : vars) ::setenv(k, v.c_str(), 1);
  }
  ~scoped_env() {
    for (const char* n : {"GOOGLE_APPLICATION_CREDENTIALS", "GCE_METADATA_HOST", "CHAINSD_CONTAINERANALYSIS_ENDPOINT"})
      ::unsetenv(n);
  }
};

std::unique_ptr<plugin::storage> make(oci_host& h, plugin::config_map cfg) {
  auto st = ::test_support::plugin_from_env("STORAGE_GRAFEAS_SO").make_storage("grafeas", h, cfg);
  INFO((st ? std::string() : st.error().message));
  REQUIRE(st.has_value());
  return std::move(*st);
}

}  // namespace

TEST_CASE("grafeas plan for an image: upstream's ATTESTATION note and one occurrence for the image") {
  sg::options o{"proj", "", "hint text", "gcpkms://key"};
  auto p = sg::make_plan(o, image_req());
  REQUIRE(p.has_value());
  CHECK(p->n.id == "tekton-team-a-simplesigning");
  CHECK(p->note_name == "projects/proj/notes/tekton-team-a-simplesigning");
  auto note = json::parse(p->n.body);
  CHECK(note.at("shortDescription") == "OCI Artifact Attestation Note");
  CHECK(note.at("attestation").at("hint").at("humanReadableName") == "hint text");
  REQUIRE(p->occurrences.size() == 1);
  auto occ = json::parse(p->occurrences[0]);
  CHECK(occ.at("resourceUri").as_string() == "reg/app@sha256:" + std::string(64, 'a'));
  CHECK(plugin::base64_decode(occ.at("attestation").at("serializedPayload").as_string()) == image_req().payload);
  CHECK(plugin::base64_decode(occ.at("attestation").at("signatures").at(0).at("signature").as_string()) == "\x30\x45raw");
  CHECK(occ.at("attestation").at("signatures").at(0).at("publicKeyId") == "gcpkms://key");
  CHECK(occ.at("envelope").at("payloadType") == "application/vnd.dev.cosign.simplesigning.v1+json");
  CHECK(occ.at("envelope").at("signatures").at(0).at("keyid") == "gcpkms://key");
}

TEST_CASE("grafeas plan for a run: a BUILD note per kind and one occurrence per subject") {
  sg::options o{"proj", "team-notes", "h", ""};
  auto p = sg::make_plan(o, run_req());
  REQUIRE(p.has_value());
  CHECK(p->n.id == "team-notes-taskrun-intoto");
  auto note = json::parse(p->n.body);
  CHECK(note.at("shortDescription") == "Build Provenance Note for TaskRun");
  CHECK(note.at("build").at("builderVersion") == "tekton.dev/v1/TaskRun");
  CHECK(p->resource_uris == std::vector<std::string>{"reg/app@sha256:aa", "reg/lib@sha256:bb"});
  REQUIRE(p->occurrences.size() == 2);
  auto occ = json::parse(p->occurrences[1]);
  CHECK(occ.at("resourceUri") == "reg/lib@sha256:bb");
  const auto& st = occ.at("build").at("intotoStatement");
  CHECK(st.at("_type") == "https://in-toto.io/Statement/v0.1");
  CHECK(st.at("subject").at(0).at("name") == "reg/app");
  const auto& z = st.at("slsaProvenanceZeroTwo");
  CHECK(z.at("builder").at("id") == "https://tekton.dev/chains/v2");
  CHECK(z.at("invocation").at("parameters").at("p") == "v");
  CHECK_FALSE(z.at("invocation").as_object().contains("environment"));
  CHECK(z.at("metadata").at("buildStartedOn") == "2026-11-26T06:00:00Z");
  CHECK(z.at("materials").at(0).at("uri") == "oci://busybox");
  // The envelope's one signature is the whole DSSE envelope, as upstream stores it.
  CHECK(plugin::base64_decode(occ.at("envelope").at("signatures").at(0).at("sig").as_string()) == run_req().signature);
  CHECK_FALSE(occ.at("envelope").at("signatures").at(0).as_object().contains("keyid"));
  auto pr = run_req();
  pr.run.kind = "PipelineRun";
  CHECK(sg::make_plan(sg::options{"proj", "", "h", ""}, pr)->n.id == "tekton-team-a-pipelinerun-intoto");
  auto v1p = sg::make_plan(o, run_req("slsa/v2alpha4", v1));
  REQUIRE(v1p.has_value());
  const auto occ1 = json::parse(v1p->occurrences.at(0));
  const auto& s1 = occ1.at("build").at("inTotoSlsaProvenanceV1");
  CHECK(s1.at("predicate").at("buildDefinition").at("resolvedDependencies").at(0).at("name") == "pipelineTask");
  CHECK(s1.at("predicate").at("runDetails").at("metadata").at("invocationId") == "uid-1");
  CHECK(sg::make_plan(o, run_req("cosign-bundle")).error().code == plugin::errc::permanent);
}

TEST_CASE("grafeas plugin against the stand-in: notes once, occurrences per subject, failures classed") {
  chainsd::test_support::python_stub stub("GRAFEAS_STUB", {"--project", "proj", "--write-credentials", "@sa.json"});
  const std::string hp = "127.0.0.1:" + std::to_string(stub.port());
  oci_host h;
  scoped_env env{{"GOOGLE_APPLICATION_CREDENTIALS", stub.file("sa.json").string()},
                 {"CHAINSD_CONTAINERANALYSIS_ENDPOINT", stub.url()}};

  SECTION("a run and its image; a second instance finds the notes there (409 is not an error)") {
    auto st = make(h, {{"storage.grafeas.projectid", "proj"}});
    auto r = h.run(st->store(run_req()));
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
    REQUIRE(h.run(st->store(image_req())).has_value());
    REQUIRE(h.run(st->store(run_req("slsa/v2alpha4", v1))).has_value());
    auto stats = ::test_support::stub_json(h, stub.url() + "/__stub/stats");
    CHECK(stats.at("notes").as_int64() == 2);
    CHECK(stats.at("occurrences").as_int64() == 4);
    auto again = make(h, {{"storage.grafeas.projectid", "proj"}});
    REQUIRE(h.run(again->store(run_req())).has_value());
    CHECK(::test_support::stub_json(h, stub.url() + "/__stub/stats").at("occurrences").as_int64() == 6);
    CHECK(::test_support::stub_json(h, stub.url() + "/__stub/stats").at("tokens").as_int64() == 2);  // one per instance
  }
  SECTION("an unknown project is bad_config naming storage.grafeas.projectid; 403 unauthenticated; 503 retryable") {
    auto wrong = make(h, {{"storage.grafeas.projectid", "nope"}});
    auto r = h.run(wrong->store(run_req()));
    REQUIRE(r.has_error());
    CHECK(r.error().code == plugin::errc::bad_config);
    CHECK_THAT(r.error().message, Catch::Contains("storage.grafeas.projectid"));
    auto st = make(h, {{"storage.grafeas.projectid", "proj"}});
    ::test_support::stub_fault(h, stub.url(), "403:1");
    auto r403 = h.run(st->store(run_req()));
    CHECK(r403.error().code == plugin::errc::unauthenticated);
    CHECK_THAT(r403.error().message, Catch::Contains("roles/containeranalysis"));
    ::test_support::stub_fault(h, stub.url(), "5xx:1");
    CHECK(h.run(st->store(run_req())).error().code == plugin::errc::retryable);
    REQUIRE(h.run(st->store(run_req())).has_value());
  }
  SECTION("configuration: no project id; the server away is retryable naming the URL") {
    auto none = ::test_support::plugin_from_env("STORAGE_GRAFEAS_SO").make_storage("grafeas", h, {});
    REQUIRE(none.has_error());
    CHECK(none.error().code == plugin::errc::bad_config);
    CHECK_THAT(none.error().message, Catch::Contains("storage.grafeas.projectid"));
    boost::asio::io_context ctx;
    boost::asio::ip::tcp::acceptor a(ctx, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const std::string dead = "http://127.0.0.1:" + std::to_string(a.local_endpoint().port());
    a.close();
    ::setenv("CHAINSD_CONTAINERANALYSIS_ENDPOINT", dead.c_str(), 1);
    auto st = make(h, {{"storage.grafeas.projectid", "proj"}});
    auto r = h.run(st->store(run_req()));
    REQUIRE(r.has_error());
    CHECK(r.error().code == plugin::errc::retryable);
    CHECK_THAT(r.error().message, Catch::Contains("grafeas storage") && Catch::Contains(dead + "/v1/projects/proj/notes"));
  }
}
