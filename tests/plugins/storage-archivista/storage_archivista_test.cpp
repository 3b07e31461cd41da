// storage-archivista: upstream's upload bytes and gitoid (pure), then the loaded plugin through
// the engine's HTTP client against tests/support/archivista-stub.
#include <catch2/catch.hpp>

#include "../../support/oci_host.hpp"
#include "../../support/python_stub.hpp"
#include "../../support/load_plugin.hpp"
#include "../../support/stub_http.hpp"
#include "envelope.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/json/parse.hpp>

using namespace chainsd;
namespace json = boost::json;
using oci_test::oci_host;
namespace sa = storage_archivista;

namespace {

const std::string envelope =
    R"({"payloadType":"application/vnd.in-toto+json","payload":")" +
    plugin::base64_encode(R"({"_type":"https://in-toto.io/Statement/v0.1","subject":[{"name":"reg/app","digest":{"sha256":"ab"}}],"predicateType":"https://slsa.dev/provenance/v0.2","predicate":{}})") +
    R"(","signatures":[{"keyid":"SHA256:k<&>","sig":"MEUCIQ=="}]})";

plugin::store_request sample(std::string sig = envelope) {
  plugin::store_request req;
  req.run = {"tekton.dev/v1", "TaskRun", "team-a", "build-7", "uid-1", "default"};
  req.short_key = "taskrun-uid-1";
  req.signature = std::move(sig);
  return req;
}

std::unique_ptr<plugin::storage> make(oci_host& h, const std::string& url) {
  auto st = ::test_support::plugin_from_env("STORAGE_ARCHIVISTA_SO").make_storage("archivista", h, {{"storage.archivista.url", url}});
  INFO((st ? std::string() : st.error().message));
  REQUIRE(st.has_value());
  return std::move(*st);
}

}  // namespace

TEST_CASE("archivista upload bytes are what Go's json.Encoder writes for go-witness's dsse.Envelope") {
  CHECK(sa::go_json_string("a<b>&c\"\\\n\x01") == R"("a\u003cb\u003e\u0026c\"\\\n\u0001")");
  CHECK(sa::go_json_string("\xe2\x80\xa8") == R"("\u2028")");
  auto body = sa::upload_body(envelope);
  REQUIRE(body.has_value());
  const auto b64 = plugin::base64_encode(plugin::base64_decode(json::parse(envelope).at("payload").as_string()));
  CHECK(*body == R"({"payload":")" + b64 +
                     R"(","payloadType":"application/vnd.in-toto+json","signatures":[{"keyid":"SHA256:k\u003c\u0026\u003e","sig":"MEUCIQ=="}]})" +
                     "\n");
  auto with_cert = sa::upload_body(R"({"payload":"e30=","payloadType":"t","signatures":[{"keyid":"","sig":"AA==","certificate":"Q0VSVA==","intermediates":["SQ=="]}]})");
  CHECK(*with_cert == R"({"payload":"e30=","payloadType":"t","signatures":[{"keyid":"","sig":"AA==","certificate":"Q0VSVA==","intermediates":["SQ=="]}]})" "\n");
  CHECK(sa::upload_body("\x30\x45\x02\x21").error().code == plugin::errc::permanent);  // a raw ECDSA signature
  CHECK(sa::upload_body(R"({"critical":{}})").has_error());
  // git's sha256 object id of the blob "hello" (git init --object-format=sha256; git hash-object).
  CHECK(sa::gitoid_sha256("hello") == "8aec4e4876f854f688d0ebfc8f37598f38e5fd6903cccc850ca36591175aeb60");
}

TEST_CASE("archivista plugin: config errors name storage.archivista.url") {
  oci_host h;
  const auto& reg = ::test_support::plugin_from_env("STORAGE_ARCHIVISTA_SO");
  for (const char* bad : {"", "archivista.example.com", "http://a/?x=1"}) {
    auto st = reg.make_storage("archivista", h, {{"storage.archivista.url", bad}});
    REQUIRE(st.has_error());
    CHECK(st.error().code == plugin::errc::bad_config);
    CHECK_THAT(st.error().message, Catch::Contains("storage.archivista.url"));
  }
}

TEST_CASE("archivista plugin against the stand-in: upload, gitoid, download, failures") {
  chainsd::test_support::python_stub stub("ARCHIVISTA_STUB", {});
  oci_host h;
  auto st = make(h, stub.url() + "/");

  SECTION("the envelope is stored under the gitoid of upstream's bytes and downloads unchanged") {
    auto r = h.run(st->store(sample()));
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
    CHECK(r->annotations.empty());
    const auto body = *sa::upload_body(envelope);
    const auto gid = sa::gitoid_sha256(body);
    CHECK(std::any_of(h.logs.begin(), h.logs.end(), [&](const std::string& l) {
      return l.find("stored in archivista") != std::string::npos && l.find("gitoid=" + gid) != std::string::npos;
    }));
    auto d = ::test_support::stub_request(h, "GET", stub.url() + "/download/" + gid);
    REQUIRE(d.has_value());
    CHECK(d->status == 200);
    CHECK(d->body == body);
    auto stats = json::parse(::test_support::stub_request(h, "GET", stub.url() + "/__stub/stats")->body).as_object();
    CHECK(stats.at("uploads").as_int64() == 1);
    CHECK(stats.at("subjects").at(gid).as_array().at(0).as_string() == "reg/app");
    CHECK(stats.at("payload_types").at(gid).as_string() == "application/vnd.in-toto+json");
    REQUIRE(h.run(st->store(sample())).has_value());  // the same envelope again: the same object
    CHECK(json::parse(::test_support::stub_request(h, "GET", stub.url() + "/__stub/stats")->body).at("objects").as_int64() == 1);
  }
  SECTION("a simplesigning signature is bad_config naming the storage key; 500 is retryable") {
    auto img = sample("\x30\x45\x02\x21raw");
    img.kind = plugin::artifact_kind::oci;
    auto r = h.run(st->store(img));
    REQUIRE(r.has_error());
    CHECK(r.error().code == plugin::errc::bad_config);
    CHECK_THAT(r.error().message, Catch::Contains("artifacts.oci.storage"));
    REQUIRE(::test_support::stub_request(h, "POST", stub.url() + "/__stub/fault", R"({"fault":"5xx:1"})").has_value());
    auto r5 = h.run(st->store(sample()));
    REQUIRE(r5.has_error());
    CHECK(r5.error().code == plugin::errc::retryable);
    CHECK_THAT(r5.error().message, Catch::Contains("database unavailable") && Catch::Contains(stub.url() + "/upload"));
  }
  SECTION("a URL that is not Archivista (404) is bad_config; a server away is retryable naming the URL") {
    auto wrong = make(h, stub.url() + "/nope");
    auto r = h.run(wrong->store(sample()));
    REQUIRE(r.has_error());
    CHECK(r.error().code == plugin::errc::bad_config);
    CHECK_THAT(r.error().message, Catch::Contains("storage.archivista.url"));
    boost::asio::io_context ctx;
    boost::asio::ip::tcp::acceptor a(ctx, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const std::string dead = "http://127.0.0.1:" + std::to_string(a.local_endpoint().port());
    a.close();
    auto away = make(h, dead);
    auto rd = h.run(away->store(sample()));
    REQUIRE(rd.has_error());
    CHECK(rd.error().code == plugin::errc::retryable);
    CHECK_THAT(rd.error().message, Catch::Contains("archivista storage") && Catch::Contains(dead + "/upload"));
  }
}
