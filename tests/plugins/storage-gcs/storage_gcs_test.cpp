// storage-gcs: its pure parts (object names, settings, error classes, the JWT), then the loaded
// plugin through the engine's HTTP client against tests/support/gcs-stub (JSON API, OAuth token
// endpoint, metadata server), the stand-in that @google-cloud/storage is checked against.
#include <catch2/catch.hpp>

#include "../../support/oci_host.hpp"
#include "../../support/python_stub.hpp"
#include "../../support/load_plugin.hpp"
#include "../../support/stub_http.hpp"
#include "oauth.hpp"
#include "objects.hpp"
#include "settings.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <cstdlib>
#include <fstream>
#include <future>
#include <thread>

using namespace chainsd;
namespace json = boost::json;
using oci_test::oci_host;

namespace {

plugin::store_request sample(std::string kind = "TaskRun", std::string key = "taskrun-uid-1") {
  plugin::store_request req;
  req.run = {"tekton.dev/v1", kind, "team-a", "build-7", "uid-1", "default"};
  req.short_key = std::move(key);
  req.payload = R"({"_type":"https://in-toto.io/Statement/v0.1"})";
  req.signature = R"({"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]})";
  return req;
}

google_auth::env_lookup env_of(std::map<std::string, std::string> m) {
  return [m](const char* k) { auto it = m.find(k); return it == m.end() ? std::string() : it->second; };
}

// Environment for the plugin's factory (it reads the process environment, as Google's libraries).
struct scoped_env {
  std::vector<std::string> names;
  scoped_env(std::initializer_list<std::pair<const char*, std::string>> vars) {
    for (const char* n : {"GOOGLE_APPLICATION_CREDENTIALS", "GCE_METADATA_HOST", "STORAGE_EMULATOR_HOST"}) ::unsetenv(n);
    for (const auto& [k, v] : vars) {
      ::setenv(k, v.c_str(), 1);
      names.emplace_back(k);
    }
  }
  ~scoped_env() {
    for (const auto& n : names) ::unsetenv(n.c_str());
  }
};

std::unique_ptr<plugin::storage> make(oci_host& h, const std::string& bucket = "chains") {
  auto st = ::test_support::plugin_from_env("STORAGE_GCS_SO").make_storage("gcs", h, {{"storage.gcs.bucket", bucket}});
  INFO((st ? std::string() : st.error().message));
  REQUIRE(st.has_value());
  return std::move(*st);
}

int free_port() {
  boost::asio::io_context ctx;
  boost::asio::ip::tcp::acceptor a(ctx, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

}  // namespace

TEST_CASE("gcs object names are upstream's: <kind>-<ns>-<name>/<key>.{signature,payload,cert,chain}") {
  auto tr = sample();
  tr.cert_pem = "CERT";
  auto p = storage_gcs::object_prefix(tr);
  REQUIRE(p.has_value());
  CHECK(*p == "taskrun-team-a-build-7/taskrun-uid-1");
  auto objs = storage_gcs::objects_for(*p, tr);
  REQUIRE(objs.size() == 4);
  CHECK(objs[0].name == "taskrun-team-a-build-7/taskrun-uid-1.signature");
  CHECK(objs[0].content == tr.signature);
  CHECK(objs[1].name == "taskrun-team-a-build-7/taskrun-uid-1.payload");
  CHECK(objs[1].content == tr.payload);
  CHECK(objs[2].content == "CERT");
  CHECK(objs[3].name.ends_with(".chain"));
  CHECK(*storage_gcs::object_prefix(sample("PipelineRun", "pipelinerun-uid-1")) == "pipelinerun-team-a-build-7/pipelinerun-uid-1");
  // An image's artifacts go under the run that built it, keyed by the digest's 12 hex digits.
  auto img = sample("TaskRun", "0123456789ab");
  img.kind = plugin::artifact_kind::oci;
  CHECK(*storage_gcs::object_prefix(img) == "taskrun-team-a-build-7/0123456789ab");
  CHECK(storage_gcs::object_prefix(sample("TaskRun", "")).error().code == plugin::errc::permanent);
  CHECK(storage_gcs::upload_url("https://storage.googleapis.com", "b", "taskrun-a-b/k.payload") ==
        "https://storage.googleapis.com/upload/storage/v1/b/b/o?uploadType=media&name=taskrun-a-b%2Fk.payload");
}

TEST_CASE("gcs settings: the bucket key, credentials files and endpoints are checked up front") {
  auto none = env_of({});
  auto missing = storage_gcs::parse_settings({}, none);
  REQUIRE(missing.has_error());
  CHECK(missing.error().code == plugin::errc::bad_config);
  CHECK_THAT(missing.error().message, Catch::Contains("storage.gcs.bucket"));
  CHECK_THAT(storage_gcs::parse_settings({{"storage.gcs.bucket", "gs://Bad/Path"}}, none).error().message,
             Catch::Contains("storage.gcs.bucket"));
  auto ok = storage_gcs::parse_settings({{"storage.gcs.bucket", "gs://my-bucket/"}}, none);
  REQUIRE(ok.has_value());
  CHECK(ok->bucket == "my-bucket");
  CHECK(ok->endpoint == "https://storage.googleapis.com");
  CHECK(ok->creds.metadata_host == "metadata.google.internal");
  CHECK_FALSE(ok->creds.service_account_file);
  auto emu = storage_gcs::parse_settings({{"storage.gcs.bucket", "b12"}},
                                         env_of({{"STORAGE_EMULATOR_HOST", "127.0.0.1:9"}, {"GCE_METADATA_HOST", "m:1"}}));
  CHECK(emu->endpoint == "http://127.0.0.1:9");
  CHECK(emu->creds.metadata_host == "m:1");
  auto unreadable = storage_gcs::parse_settings({{"storage.gcs.bucket", "b12"}},
                                                env_of({{"GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json"}}));
  CHECK(unreadable.error().code == plugin::errc::bad_config);
  CHECK_THAT(unreadable.error().message, Catch::Contains("GOOGLE_APPLICATION_CREDENTIALS=/nonexistent/key.json"));
  auto dir = storage_gcs::parse_settings({{"storage.gcs.bucket", "b12"}}, env_of({{"GOOGLE_APPLICATION_CREDENTIALS", "/tmp"}}));
  CHECK(dir.error().code == plugin::errc::bad_config);
  CHECK_THAT(dir.error().message, Catch::Contains("not a regular file"));  // a fifo or a directory is never read
  auto user = google_auth::parse_service_account(R"({"type":"authorized_user"})", "/k.json");
  CHECK_THAT(user.error().message, Catch::Contains("authorized_user"));
  auto sa = google_auth::parse_service_account(R"({"type":"service_account","client_email":"a@b","private_key":"x"})", "/k");
  REQUIRE(sa.has_value());
  CHECK(sa->token_uri == "https://oauth2.googleapis.com/token");
  CHECK(google_auth::rsa_key::load("not a key", "k").error().code == plugin::errc::bad_config);
}

TEST_CASE("gcs upload answers are classed: 401/403 unauthenticated, 404 bad bucket, 429/5xx retryable") {
  auto cls = [](unsigned status) {
    return storage_gcs::upload_error({status, {}, R"({"error":{"code":1,"message":"msg here"}})"}, "b", "o", "u", "sa")
        .code;
  };
  CHECK(cls(401) == plugin::errc::unauthenticated);
  CHECK(cls(403) == plugin::errc::unauthenticated);
  CHECK(cls(404) == plugin::errc::bad_config);
  CHECK(cls(429) == plugin::errc::retryable);
  CHECK(cls(503) == plugin::errc::retryable);
  CHECK(cls(400) == plugin::errc::permanent);
  auto e = storage_gcs::upload_error({404, {}, R"({"error":{"message":"The specified bucket does not exist."}})"}, "bk",
                                     "o", "http://x/upload", "sa");
  CHECK_THAT(e.message, Catch::Contains("storage.gcs.bucket") && Catch::Contains("bucket does not exist") &&
                            Catch::Contains("http://x/upload"));
}

TEST_CASE("gcs plugin against the stand-in: service-account key file, workload identity, failures") {
  chainsd::test_support::python_stub stub("GCS_STUB", {"--bucket", "chains", "--write-credentials", "@sa.json"});
  const std::string host_port = "127.0.0.1:" + std::to_string(stub.port());
  oci_host h;

  SECTION("a key file's JWT grant, four objects with the exact bytes, one token for many stores") {
    scoped_env env{{"GOOGLE_APPLICATION_CREDENTIALS", stub.file("sa.json").string()}, {"STORAGE_EMULATOR_HOST", host_port}};
    auto st = make(h);
    auto req = sample();
    req.cert_pem = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n";
    req.chain_pem = "CHAIN";
    auto r = h.run(st->store(req));
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
    CHECK(r->annotations.empty());
    auto objs = ::test_support::stub_json(h, stub.url() + "/__stub/objects").as_object();
    const std::string p = "chains/taskrun-team-a-build-7/taskrun-uid-1";
    CHECK(plugin::base64_decode(objs.at(p + ".signature").as_string()) == req.signature);
    CHECK(plugin::base64_decode(objs.at(p + ".payload").as_string()) == req.payload);
    CHECK(plugin::base64_decode(objs.at(p + ".cert").as_string()) == req.cert_pem);
    CHECK(plugin::base64_decode(objs.at(p + ".chain").as_string()) == "CHAIN");
    for (int i = 0; i < 3; ++i) REQUIRE(h.run(st->store(sample("PipelineRun", "pipelinerun-" + std::to_string(i)))).has_value());
    auto stats = ::test_support::stub_json(h, stub.url() + "/__stub/stats").as_object();
    CHECK(stats.at("tokens").as_int64() == 1);
    CHECK(stats.at("uploads").as_int64() == 16);
    CHECK(stats.at("objects").as_int64() == 16);
  }
  SECTION("workload identity: the metadata server's token") {
    scoped_env env{{"GCE_METADATA_HOST", host_port}, {"STORAGE_EMULATOR_HOST", host_port}};
    auto st = make(h);
    auto r = h.run(st->store(sample()));
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
    CHECK(::test_support::stub_json(h, stub.url() + "/__stub/stats").at("objects").as_int64() == 4);
  }
  SECTION("no credentials at all: bad_config naming GOOGLE_APPLICATION_CREDENTIALS and the bucket key") {
    scoped_env env{{"GCE_METADATA_HOST", "127.0.0.1:" + std::to_string(free_port())}, {"STORAGE_EMULATOR_HOST", host_port}};
    auto st = make(h);
    auto r = h.run(st->store(sample()));
    REQUIRE(r.has_error());
    CHECK(r.error().code == plugin::errc::bad_config);
    CHECK_THAT(r.error().message, Catch::Contains("GOOGLE_APPLICATION_CREDENTIALS") && Catch::Contains("storage.gcs.bucket"));
  }
  SECTION("an unknown bucket is bad_config naming storage.gcs.bucket; 503 retryable; 403 unauthenticated") {
    scoped_env env{{"GCE_METADATA_HOST", host_port}, {"STORAGE_EMULATOR_HOST", host_port}};
    auto st = make(h, "no-such-bucket");
    auto r = h.run(st->store(sample()));
    REQUIRE(r.has_error());
    CHECK(r.error().code == plugin::errc::bad_config);
    CHECK_THAT(r.error().message, Catch::Contains("storage.gcs.bucket") && Catch::Contains("no-such-bucket"));
    auto good = make(h);
    ::test_support::stub_fault(h, stub.url(), "5xx:1");
    auto r5 = h.run(good->store(sample()));
    CHECK(r5.error().code == plugin::errc::retryable);
    ::test_support::stub_fault(h, stub.url(), "403:1");
    auto r403 = h.run(good->store(sample()));
    CHECK(r403.error().code == plugin::errc::unauthenticated);
    CHECK_THAT(r403.error().message, Catch::Contains("roles/storage.objectCreator"));
    ::test_support::stub_fault(h, stub.url(), "401:1");  // a refused token is replaced once, then the upload succeeds
    REQUIRE(h.run(good->store(sample())).has_value());
  }
  SECTION("the stand-in down: retryable, naming the backend and the URL") {
    const std::string dead = "127.0.0.1:" + std::to_string(free_port());
    scoped_env env{{"GOOGLE_APPLICATION_CREDENTIALS", stub.file("sa.json").string()}, {"STORAGE_EMULATOR_HOST", dead}};
    auto st = make(h);
    auto r = h.run(st->store(sample()));  // the token comes from the live stub, the upload fails
    REQUIRE(r.has_error());
    CHECK(r.error().code == plugin::errc::retryable);
    CHECK_THAT(r.error().message, Catch::Contains("gcs storage") && Catch::Contains("http://" + dead + "/upload/storage/v1/b/chains/o"));
  }
}

TEST_CASE("gcs tokens: concurrent stores share one exchange; renewed before expiry, kept while renewal fails") {
  chainsd::test_support::python_stub stub("GCS_STUB", {"--bucket", "chains", "--write-credentials", "@sa.json",
                                                       "--token-ttl", "6"});
  oci_host h;
  scoped_env env{{"GOOGLE_APPLICATION_CREDENTIALS", stub.file("sa.json").string()},
                 {"STORAGE_EMULATOR_HOST", "127.0.0.1:" + std::to_string(stub.port())}};
  auto st = make(h);
  auto tokens = [&] { return ::test_support::stub_json(h, stub.url() + "/__stub/stats").at("tokens").as_int64(); };
  std::vector<std::future<plugin::result<plugin::store_result>>> futs;
  const auto t0 = std::chrono::steady_clock::now();  // the token is issued after this
  for (int i = 0; i < 8; ++i)
    futs.push_back(boost::asio::co_spawn(h.ctx, st->store(sample("TaskRun", "taskrun-c" + std::to_string(i))),
                                         boost::asio::use_future));
  h.ctx.restart();
  h.ctx.run();
  for (auto& f : futs) REQUIRE(f.get().has_value());
  CHECK(tokens() == 1);
  // Past 3/4 of the 6 s lifetime (renewal due at 4.5 s) and before its last 1/8 (5.25 s): a failing
  // exchange keeps the token.
  std::this_thread::sleep_until(t0 + std::chrono::milliseconds(4650));
  ::test_support::stub_fault(h, stub.url(), "token5xx:1");
  auto kept = h.run(st->store(sample()));
  INFO((kept ? std::string() : kept.error().message));
  REQUIRE(kept.has_value());
  CHECK(tokens() == 1);
  CHECK(std::any_of(h.logs.begin(), h.logs.end(),
                    [](const std::string& l) { return l.find("refresh failed") != std::string::npos; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the next attempt is a second later
  REQUIRE(h.run(st->store(sample())).has_value());
  CHECK(tokens() == 2);
  CHECK(::test_support::stub_json(h, stub.url() + "/__stub/stats").at("auth_failures").as_int64() == 0);
}
