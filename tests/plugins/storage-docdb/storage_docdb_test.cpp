// storage-docdb loaded through the real loader, on the engine's own plugin host (host::connect →
// net::http_client::connect_stream), against tests/support/mongo-stub (the stand-in the mongodb
// npm driver is checked against): documents upserted and read back, connections kept and
// replaced, error classes, SCRAM-SHA-256, the connection-string file rewritten while running.
#include <catch2/catch.hpp>

#include "../../support/python_stub.hpp"
#include "../../support/run_awaitable.hpp"
#include "../../support/fake_host.hpp"
#include "../../support/load_plugin.hpp"
#include "bson.hpp"
#include "connection.hpp"

#include <chainsd/plugin/encoding.hpp>

#include "net/http_client.hpp"
#include "plugin_host/host_services.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace chainsd;
using namespace std::chrono_literals;

namespace {

struct engine_host {
  boost::asio::io_context ctx;
  net::http_client http{ctx.get_executor()};
  plugin_host::host_services host{ctx.get_executor(), http, nullptr, "/nonexistent"};

  template <class T>
  T run(boost::asio::awaitable<T> a) {
    return chainsd::test_support::run(ctx, std::move(a));
  }
};

plugin::store_request sample(std::string key = "taskrun-uid-1") {
  plugin::store_request req;
  req.run = {"tekton.dev/v1", "TaskRun", "team-a", "build-7", "uid-1", "default"};
  req.short_key = std::move(key);
  req.payload = R"({"_type":"https://in-toto.io/Statement/v0.1","predicate":{"n":3}})";
  req.signature = R"({"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]})";
  return req;
}

plugin::result<std::unique_ptr<plugin::storage>> make(engine_host& h, plugin::config_map cfg) {
  if (!cfg.count("storage.docdb.url")) cfg["storage.docdb.url"] = "mongo://chains/signatures?id_field=name";
  return ::test_support::plugin_from_env("STORAGE_DOCDB_SO").make_storage("docdb", h.host, cfg);
}

std::string server(int port, const std::string& auth = "") {
  return "mongodb://" + auth + "127.0.0.1:" + std::to_string(port) + "/";
}

// A command to the stand-in on a connection of our own (the plugin's client code, compiled in).
storage_docdb::bson::value command(engine_host& h, int port, std::string body, const std::string& auth = "") {
  auto a = storage_docdb::parse_server_url(server(port, auth), "test");
  REQUIRE(a.has_value());
  auto c = h.run(storage_docdb::open_connection(h.host, *a));
  INFO((c ? std::string() : c.error().message));
  REQUIRE(c.has_value());
  auto r = h.run((*c)->run(std::move(body)));
  REQUIRE(r.has_value());
  return std::move(*r);
}

storage_docdb::bson::value find_all(engine_host& h, int port, const std::string& auth = "") {
  storage_docdb::bson::writer w;
  w.add_string("find", "signatures").add_string("$db", "chains");
  auto r = command(h, port, w.finish(), auth);
  return r.find("cursor")->find("firstBatch") ? *r.find("cursor")->find("firstBatch") : storage_docdb::bson::value{};
}

storage_docdb::bson::value stats(engine_host& h, int port) {
  storage_docdb::bson::writer w;
  w.add_int32("stubStats", 1).add_string("$db", "admin");
  return command(h, port, w.finish());
}

void fault(engine_host& h, int port, const std::string& f) {
  storage_docdb::bson::writer w;
  w.add_string("stubFault", f).add_string("$db", "admin");
  command(h, port, w.finish());
}

int free_port() {
  boost::asio::io_context ctx;
  boost::asio::ip::tcp::acceptor a(ctx, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

}  // namespace

TEST_CASE("host::connect: refused and silent peers fail retryable naming the address; old hosts refuse") {
  engine_host h;
  const int dead = free_port();
  auto r = h.run(h.host.connect({"127.0.0.1", static_cast<std::uint16_t>(dead), false, 2000ms}));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == plugin::errc::retryable);
  CHECK_THAT(r.error().message, Catch::Contains("tcp 127.0.0.1:" + std::to_string(dead)) && Catch::Contains("refused"));

  boost::asio::ip::tcp::acceptor silent(h.ctx, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto port = silent.local_endpoint().port();
  auto s = h.run(h.host.connect({"127.0.0.1", port, false, 2000ms}));
  REQUIRE(s.has_value());
  const auto t0 = std::chrono::steady_clock::now();
  auto got = h.run((*s)->read_exact(16, 300ms));
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code == plugin::errc::retryable);
  CHECK_THAT(got.error().message, Catch::Contains("deadline of") && Catch::Contains("ms exceeded"));
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);

  // TLS to a peer that never answers the handshake: the connect deadline holds.
  auto tls = h.run(h.host.connect({"127.0.0.1", port, true, 300ms}));
  REQUIRE_FALSE(tls.has_value());
  CHECK(tls.error().code == plugin::errc::retryable);

  ::test_support::fake_host old;
  auto refused = chainsd::test_support::run(old.ctx, old.connect({"db.example", 27017, false, 1000ms}));
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == plugin::errc::bad_config);
  CHECK_THAT(refused.error().message, Catch::Contains("this host opens no streams"));
}

TEST_CASE("docdb plugin: upstream's document upserted by _id, connections kept, failures classed") {
  chainsd::test_support::python_stub stub("MONGO_STUB", {});
  engine_host h;
  auto st = make(h, {{"storage.docdb.mongo-server-url", server(stub.port())}});
  INFO((st ? std::string() : st.error().message));
  REQUIRE(st.has_value());
  auto& s = **st;

  auto req = sample();
  req.cert_pem = "CERT";
  auto r = h.run(s.store(req));
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r.has_value());
  CHECK(r->annotations.empty());
  auto docs = find_all(h, stub.port());
  REQUIRE(docs.items.size() == 1);
  const auto& d = docs.items[0];
  CHECK(d.string_or("_id") == "taskrun-uid-1");
  CHECK(d.string_or("Name") == "taskrun-uid-1");
  CHECK(d.find("Signed")->kind == storage_docdb::bson::type::binary);
  CHECK(d.find("Signed")->bytes == req.payload);
  CHECK(plugin::base64_decode(d.string_or("Signature")) == req.signature);
  CHECK(d.string_or("Cert") == "CERT");
  CHECK(d.find("Object")->find("predicate")->find("n")->number == 3);
  const std::string rev = d.string_or("DocstoreRevision");
  CHECK(rev.size() == 36);

  SECTION("a second store of the key replaces it; stores share one connection") {
    for (int i = 0; i < 3; ++i) REQUIRE(h.run(s.store(sample())).has_value());
    REQUIRE(h.run(s.store(sample("pipelinerun-uid-2"))).has_value());
    auto all = find_all(h, stub.port());
    CHECK(all.items.size() == 2);
    CHECK(all.items[0].string_or("DocstoreRevision") != rev);
    auto st2 = stats(h, stub.port());
    CHECK(st2.find("commands")->find("update")->as_double() == 5);
    CHECK(st2.find("connections")->as_double() == 1 + 2 + 1);  // the plugin's one, our two finds, this one
  }
  SECTION("NotWritablePrimary is retryable; a kept connection the server closed is replaced once") {
    fault(h, stub.port(), "not-primary:1");
    auto e = h.run(s.store(sample()));
    REQUIRE_FALSE(e.has_value());
    CHECK(e.error().code == plugin::errc::retryable);
    CHECK_THAT(e.error().message, Catch::Contains("docdb storage") && Catch::Contains("NotWritablePrimary") &&
                                      Catch::Contains("mongodb://127.0.0.1:" + std::to_string(stub.port())));
    REQUIRE(h.run(s.store(sample())).has_value());  // a fresh connection
    fault(h, stub.port(), "close:1");
    auto again = h.run(s.store(sample()));
    INFO((again ? std::string() : again.error().message));
    CHECK(again.has_value());
  }
  SECTION("a payload that is not JSON is permanent (upstream's json.Unmarshal fails too)") {
    auto bad = sample();
    bad.payload = "not json";
    auto e = h.run(s.store(bad));
    REQUIRE_FALSE(e.has_value());
    CHECK(e.error().code == plugin::errc::permanent);
  }
}

TEST_CASE("docdb plugin: stand-in down, bad config, SCRAM-SHA-256") {
  engine_host h;
  SECTION("nothing listening: retryable, naming the backend, the collection and the server") {
    const int dead = free_port();
    auto st = make(h, {{"storage.docdb.mongo-server-url", server(dead)}});
    REQUIRE(st.has_value());
    auto e = h.run((*st)->store(sample()));
    REQUIRE_FALSE(e.has_value());
    CHECK(e.error().code == plugin::errc::retryable);
    CHECK_THAT(e.error().message, Catch::Contains("docdb storage") && Catch::Contains("mongo://chains/signatures") &&
                                      Catch::Contains("mongodb://127.0.0.1:" + std::to_string(dead)));
  }
  SECTION("other schemes, a missing server and bad connection strings are bad_config naming the key") {
    auto fs = make(h, {{"storage.docdb.url", "firestore://projects/p/databases/(default)/documents/c"}});
    REQUIRE_FALSE(fs.has_value());
    CHECK(fs.error().code == plugin::errc::bad_config);
    CHECK_THAT(fs.error().message, Catch::Contains("storage.docdb.url") && Catch::Contains("firestore"));
    ::unsetenv("MONGO_SERVER_URL");
    auto none = make(h, {});
    REQUIRE_FALSE(none.has_value());
    CHECK_THAT(none.error().message, Catch::Contains("MONGO_SERVER_URL"));
    auto srv = make(h, {{"storage.docdb.mongo-server-url", "mongodb+srv://c.example.com"}});
    REQUIRE_FALSE(srv.has_value());
    CHECK_THAT(srv.error().message, Catch::Contains("storage.docdb.mongo-server-url"));
  }
  SECTION("SCRAM-SHA-256: the right password stores, a wrong one is unauthenticated") {
    chainsd::test_support::python_stub stub("MONGO_STUB", {"--user", "chains", "--password", "s3cret"});
    auto good = make(h, {{"storage.docdb.mongo-server-url", server(stub.port(), "chains:s3cret@")}});
    REQUIRE(good.has_value());
    auto r = h.run((*good)->store(sample()));
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
    CHECK(find_all(h, stub.port(), "chains:s3cret@").items.size() == 1);
    auto bad = make(h, {{"storage.docdb.mongo-server-url", server(stub.port(), "chains:wrong@")}});
    REQUIRE(bad.has_value());
    auto e = h.run((*bad)->store(sample()));
    REQUIRE_FALSE(e.has_value());
    CHECK(e.error().code == plugin::errc::unauthenticated);
    CHECK_THAT(e.error().message, Catch::Contains("AuthenticationFailed"));
    CHECK(e.error().message.find("wrong") == std::string::npos);
    auto anon = make(h, {{"storage.docdb.mongo-server-url", server(stub.port())}});
    auto u = h.run((*anon)->store(sample()));
    REQUIRE_FALSE(u.has_value());
    CHECK(u.error().code == plugin::errc::unauthenticated);
  }
}

TEST_CASE("docdb plugin: the connection-string file is read again when it changes") {
  chainsd::test_support::python_stub a("MONGO_STUB", {});
  chainsd::test_support::python_stub b("MONGO_STUB", {});
  engine_host h;
  const auto dir = a.file("secret");
  std::filesystem::create_directories(dir);
  SECTION("-url-dir: DIR/MONGO_SERVER_URL as a Secret volume lays it out, its ..data link swapped live") {
    // kubelet: DIR/MONGO_SERVER_URL -> ..data/MONGO_SERVER_URL, ..data -> ..<timestamp>/, and an
    // update writes a new timestamped directory, then renames a new ..data link over the old one.
    namespace fs = std::filesystem;
    auto publish = [&](const std::string& version, const std::string& text) {
      fs::create_directories(dir / version);
      std::ofstream(dir / version / "MONGO_SERVER_URL") << text;
      fs::create_directory_symlink(version, dir / "..data_tmp");
      fs::rename(dir / "..data_tmp", dir / "..data");
    };
    publish("..2026_12_04_01", server(a.port()) + "\n");
    fs::create_symlink("..data/MONGO_SERVER_URL", dir / "MONGO_SERVER_URL");
    auto st = make(h, {{"storage.docdb.mongo-server-url-dir", dir.string()}, {"storage.docdb.mongo-server-url", "mongodb://ignored:1"}});
    REQUIRE(st.has_value());
    REQUIRE(h.run((*st)->store(sample("k1"))).has_value());
    publish("..2026_12_04_02", server(b.port()) + "\n");
    std::this_thread::sleep_for(1100ms);
    auto r = h.run((*st)->store(sample("k2")));
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
    CHECK(find_all(h, a.port()).items.size() == 1);
    CHECK(find_all(h, b.port()).items.size() == 1);
    CHECK(find_all(h, b.port()).items[0].string_or("_id") == "k2");
  }
  SECTION("-url-path: a missing file is bad_config naming the key until it appears") {
    const auto path = dir / "url";
    auto st = make(h, {{"storage.docdb.mongo-server-url-path", path.string()}});
    REQUIRE(st.has_value());
    auto e = h.run((*st)->store(sample()));
    REQUIRE_FALSE(e.has_value());
    CHECK(e.error().code == plugin::errc::bad_config);
    CHECK_THAT(e.error().message, Catch::Contains("storage.docdb.mongo-server-url-path") && Catch::Contains(path.string()));
    std::ofstream(path) << server(a.port());
    std::this_thread::sleep_for(1100ms);
    REQUIRE(h.run((*st)->store(sample())).has_value());
  }
}

TEST_CASE("docdb plugin: tls=true verifies the server with the host's TLS (system CAs, here SSL_CERT_FILE)") {
  chainsd::test_support::python_stub stub("MONGO_STUB", {"--tls-self-signed", "@cert.pem"});
  const std::string url = "mongodb://127.0.0.1:" + std::to_string(stub.port()) + "/?tls=true";
  SECTION("a trusted certificate: stored over TLS") {
    ::setenv("SSL_CERT_FILE", stub.file("cert.pem").c_str(), 1);
    engine_host h;
    auto st = make(h, {{"storage.docdb.mongo-server-url", url}});
    REQUIRE(st.has_value());
    auto r = h.run((*st)->store(sample()));
    ::unsetenv("SSL_CERT_FILE");
    INFO((r ? std::string() : r.error().message));
    CHECK(r.has_value());
  }
  SECTION("an untrusted one: bad_config, saying why") {
    ::unsetenv("SSL_CERT_FILE");
    engine_host h;
    auto st = make(h, {{"storage.docdb.mongo-server-url", url}});
    REQUIRE(st.has_value());
    auto r = h.run((*st)->store(sample()));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == plugin::errc::bad_config);
    CHECK_THAT(r.error().message, Catch::Contains("tls 127.0.0.1:" + std::to_string(stub.port())) &&
                                      Catch::Contains("certificate verify failed"));
  }
}
