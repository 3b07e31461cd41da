// The Rekor client against tests/support/rekor-stub: uploads of both kinds, 409 → the same entry,
// retries over injected 5xx, and refusal of a log whose SET, proof or checkpoint is wrong.
#include "chainsd/plugin/encoding.hpp"
#include "net/http_client.hpp"
#include "../../support/pae_oracle.hpp"
#include "../../support/prerequisites.hpp"
#include "../../support/python_stub.hpp"
#include "test_crypto.hpp"
#include "tlog/bundle.hpp"
#include "tlog/client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>

namespace asio = boost::asio;
using namespace chainsd;
using chainsd::plugin::base64_encode;

namespace {

// tests/support/rekor-stub ($REKOR_STUB) on an ephemeral port, its public key written beside it.
std::vector<std::string> with_key_out(std::vector<std::string> extra) {
  extra.insert(extra.begin(), {"--public-key-out", "@log.pub"});
  return extra;
}
struct rekor_stub : chainsd::test_support::python_stub {
  explicit rekor_stub(std::vector<std::string> extra = {}) : python_stub("REKOR_STUB", with_key_out(std::move(extra))) {}
  std::string public_key_pem() const { return read("log.pub"); }
};

template <class T>
T run(asio::io_context& ctx, asio::awaitable<T> a) {
  std::optional<T> out;
  std::exception_ptr err;
  auto done = [&out, &err](std::exception_ptr e, T v) {
    err = e;
    if (!e) out = std::move(v);
  };
  asio::co_spawn(ctx, std::move(a), done);
  ctx.restart();
  ctx.run();
  if (err) std::rethrow_exception(err);
  return std::move(*out);
}

asio::awaitable<net::response> post_fault(net::http_client& http, std::string url, std::string fault) {
  net::request r;
  r.method = "POST";
  r.url = url + "/__stub/fault";
  r.body = "{\"fault\":\"" + fault + "\"}";
  co_return co_await http.send(std::move(r));
}

asio::awaitable<net::response> get(net::http_client& http, std::string url) {
  net::request r;
  r.url = std::move(url);
  co_return co_await http.send(std::move(r));
}

std::string envelope(const tlog::test::ec_key& k, std::string_view payload) {
  std::string type = "application/vnd.in-toto+json";
  auto pae = test_support::pae_oracle(type, payload);
  return R"({"payloadType":"application/vnd.in-toto+json","payload":")" + base64_encode(payload) +
         R"(","signatures":[{"keyid":"","sig":")" + base64_encode(k.sign(pae)) + R"("}]})";
}

tlog::client_options fast(std::string url, std::string key = "") {
  tlog::client_options o;
  o.url = std::move(url);
  o.public_key_pem = std::move(key);
  o.timeout = std::chrono::milliseconds(5000);
  o.backoff_initial = std::chrono::milliseconds(10);
  o.backoff_max = std::chrono::milliseconds(50);
  return o;
}

}  // namespace

TEST_CASE("upload a hashedrekord and a dsse entry; a duplicate gets the same entry through 409") {
  rekor_stub stub;
  asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  tlog::client c(http, fast(stub.url()));  // key fetched and pinned on first use
  tlog::test::ec_key signer;

  std::string payload = R"({"critical":{"identity":{"docker-reference":"reg/x"}}})";
  auto hp = tlog::hashedrekord_proposal(payload, signer.sign(payload), signer.public_pem());
  auto e1 = run(ctx, c.upload(hp));
  CHECK(e1.log_index == 0);
  CHECK(c.entry_url(e1.log_index) == stub.url() + "/api/v1/log/entries?logIndex=0");

  auto env = envelope(signer, R"({"_type":"https://in-toto.io/Statement/v0.1"})");
  auto dp = tlog::dsse_proposal(env, signer.public_pem());
  auto e2 = run(ctx, c.upload(dp));
  CHECK(e2.log_index == 1);

  auto again = run(ctx, c.upload(dp));
  CHECK(again.uuid == e2.uuid);
  CHECK(again.log_index == 1);
  auto stats = boost::json::parse(run(ctx, get(http, stub.url() + "/__stub/stats")).body);
  CHECK(stats.at("treeSize").as_int64() == 2);

  auto by_index = run(ctx, c.get_by_index(0));
  CHECK(by_index.uuid == e1.uuid);
  auto by_uuid = run(ctx, c.get_by_uuid(e2.uuid));
  CHECK(by_uuid.log_index == 1);

  // The key the stub wrote at start is the one the client pinned.
  auto k = run(ctx, c.public_key());
  CHECK(k.log_id == tlog::parse_log_key(stub.public_key_pem()).log_id);
}

TEST_CASE("5xx and 429 are retried within the upload") {
  rekor_stub stub({"--fault", "5xx:2"});
  asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  tlog::client c(http, fast(stub.url(), stub.public_key_pem()));
  tlog::test::ec_key signer;
  auto p = tlog::hashedrekord_proposal("x", signer.sign("x"), signer.public_pem());
  CHECK(run(ctx, c.upload(p)).log_index == 0);
  run(ctx, post_fault(http, stub.url(), "429:10"));
  auto p2 = tlog::hashedrekord_proposal("y", signer.sign("y"), signer.public_pem());
  try {
    run(ctx, c.upload(p2));
    FAIL("expected an error");
  } catch (const tlog::tlog_error& e) {
    CHECK_FALSE(e.permanent());
    CHECK_THAT(e.what(), Catch::Contains("HTTP 429") && Catch::Contains("after 4 attempts"));
  }
}

TEST_CASE("a log that lets requests run into their deadline costs one deadline, not one per attempt") {
  rekor_stub stub({"--fault", "slow:3000"});
  asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  auto o = fast(stub.url(), stub.public_key_pem());
  o.timeout = std::chrono::milliseconds(300);
  o.retry_window = std::chrono::milliseconds(100);
  tlog::client c(http, o);
  tlog::test::ec_key signer;
  auto p = tlog::hashedrekord_proposal("z", signer.sign("z"), signer.public_pem());
  const auto t0 = std::chrono::steady_clock::now();
  try {
    run(ctx, c.upload(p));
    FAIL("expected an error");
  } catch (const tlog::tlog_error& e) {
    CHECK_FALSE(e.permanent());
    CHECK_THAT(e.what(), Catch::Contains("after 1 attempts"));
  }
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(900));  // not 4 × 300 ms + backoff
}

TEST_CASE("a rejected entry is a permanent error carrying the log's message") {
  rekor_stub stub;
  asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  tlog::client c(http, fast(stub.url(), stub.public_key_pem()));
  tlog::test::ec_key signer, other;
  auto p = tlog::hashedrekord_proposal("x", other.sign("x"), signer.public_pem());
  try {
    run(ctx, c.upload(p));
    FAIL("expected an error");
  } catch (const tlog::tlog_error& e) {
    CHECK(e.permanent());
    CHECK_THAT(e.what(), Catch::Contains("HTTP 400") && Catch::Contains("signature does not verify"));
  }
}

TEST_CASE("a log with a wrong SET, proof, checkpoint or body is refused") {
  rekor_stub stub;
  asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  tlog::client c(http, fast(stub.url(), stub.public_key_pem()));
  tlog::test::ec_key signer;
  int n = 0;
  std::vector<tlog::proposal> refused;
  for (auto [fault, reason] : {std::pair{"bad-set", "signed entry timestamp does not verify"},
                               std::pair{"bad-proof", "inclusion proof does not lead to root hash"},
                               std::pair{"bad-checkpoint", "checkpoint signature does not verify"},
                               std::pair{"bad-body", "does not name the body's leaf hash"}}) {
    INFO(fault);
    run(ctx, post_fault(http, stub.url(), fault));
    auto payload = "payload " + std::to_string(n++);
    auto p = tlog::hashedrekord_proposal(payload, signer.sign(payload), signer.public_pem());
    refused.push_back(p);
    try {
      run(ctx, c.upload(p));
      FAIL("expected an error");
    } catch (const tlog::tlog_error& e) {
      CHECK_FALSE(e.permanent());
      CHECK_THAT(e.what(), Catch::Contains(reason));
    }
  }
  // Once the log behaves, the entry it already holds is fetched through 409 and verifies.
  run(ctx, post_fault(http, stub.url(), ""));
  for (std::size_t i = 0; i < refused.size(); ++i) {
    auto e = run(ctx, c.upload(refused[i]));
    CHECK(e.log_index == static_cast<std::int64_t>(i));
  }
}

TEST_CASE("a log serving a different key than the configured one is refused") {
  rekor_stub stub;
  asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  tlog::test::ec_key not_the_log, signer;
  tlog::client c(http, fast(stub.url(), not_the_log.public_pem()));
  auto p = tlog::hashedrekord_proposal("x", signer.sign("x"), signer.public_pem());
  CHECK_THROWS_WITH(run(ctx, c.upload(p)), Catch::Contains("logID"));
}

namespace {

// Bundles are also checked by @sigstore/verify: without it the binary is a skip.
const bool sigstore_js_present = ::test_support::require(::test_support::have_node_module("TLOG_TESTS_DIR", "@sigstore/verify"),
                                                       "node and tests/node_modules/@sigstore/verify are needed");

// Runs verify_bundle.mjs (@sigstore/verify) on `input`; returns its exit status, or -1 when node
// or the npm packages are not installed.
int sigstore_js(const std::string& input) {
  const char* tests = std::getenv("TLOG_TESTS_DIR");
  if (!tests || std::system("command -v node >/dev/null 2>&1") != 0 ||
      !std::filesystem::exists(std::filesystem::path(tests) / "node_modules/@sigstore/verify"))
    return -1;
  auto file = std::filesystem::temp_directory_path() / ("bundle-" + std::to_string(::getpid()) + ".json");
  std::ofstream(file) << input;
  std::string cmd = "cd '" + std::string(tests) + "' && node support/sigstore-verify/verify_bundle.mjs < '" + file.string() + "'";
  int rc = std::system(cmd.c_str());
  std::filesystem::remove(file);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 255;
}

std::string verify_input(const std::string& bundle, const std::string& signer_pem, const std::string& log_pem,
                         const std::string& tamper, const std::string& artifact_b64 = "") {
  boost::json::object o{{"bundle", boost::json::parse(bundle)}, {"publicKeyPem", signer_pem}, {"logPem", log_pem}};
  if (!tamper.empty()) o["tamper"] = tamper;
  if (!artifact_b64.empty()) o["artifact"] = artifact_b64;
  return boost::json::serialize(o);
}

}  // namespace

TEST_CASE("Sigstore bundles built from logged entries verify with @sigstore/verify") {
  rekor_stub stub;
  asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  tlog::client c(http, fast(stub.url(), stub.public_key_pem()));
  tlog::test::ec_key signer;

  auto env = envelope(signer, R"({"_type":"https://in-toto.io/Statement/v0.1","subject":[]})");
  auto de = run(ctx, c.upload(tlog::dsse_proposal(env, signer.public_pem())));
  auto dsse_bundle = tlog::sigstore_bundle_dsse(de, env, {"", "chainsd"});
  auto bj = boost::json::parse(dsse_bundle);
  CHECK(bj.at("mediaType") == "application/vnd.dev.sigstore.bundle.v0.3+json");
  CHECK(bj.at("verificationMaterial").at("tlogEntries").as_array()[0].at("kindVersion").at("kind") == "dsse");

  std::string payload = R"({"critical":{"identity":{"docker-reference":"reg/x"}}})";
  auto sig = signer.sign(payload);
  auto he = run(ctx, c.upload(tlog::hashedrekord_proposal(payload, sig, signer.public_pem())));
  auto msg_bundle = tlog::sigstore_bundle_message_signature(he, payload, sig, {"", "chainsd"});

  int rc = sigstore_js(verify_input(dsse_bundle, signer.public_pem(), stub.public_key_pem(), ""));
  REQUIRE(rc != -1);  // sigstore_js_present: the binary is skipped without the verifier
  CHECK(rc == 0);
  CHECK(sigstore_js(verify_input(msg_bundle, signer.public_pem(), stub.public_key_pem(), "", base64_encode(payload))) == 0);
  for (const char* t : {"set", "proof", "payload"}) {
    INFO(t);
    CHECK(sigstore_js(verify_input(dsse_bundle, signer.public_pem(), stub.public_key_pem(), t)) != 0);
    CHECK(sigstore_js(verify_input(msg_bundle, signer.public_pem(), stub.public_key_pem(), t, base64_encode(payload))) != 0);
  }
}

TEST_CASE("upload over TLS with the log's CA pinned in the http client") {
  auto dir = std::filesystem::temp_directory_path() / ("rekor-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto crt = (dir / "tls.crt").string(), key = (dir / "tls.key").string();
  std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=rekor-stub"
                    " -addext subjectAltName=IP:127.0.0.1 -keyout '" + key + "' -out '" + crt + "' >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  rekor_stub stub({"--tls-cert", crt, "--tls-key", key});
  std::string https = "https" + stub.url().substr(4);
  asio::io_context ctx;
  net::client_options co;
  co.tls.ca_file = crt;
  net::http_client http(ctx.get_executor(), co);
  tlog::client c(http, fast(https));
  tlog::test::ec_key signer;
  auto e = run(ctx, c.upload(tlog::hashedrekord_proposal("x", signer.sign("x"), signer.public_pem())));
  CHECK(e.log_index == 0);
  CHECK(c.entry_url(0) == https + "/api/v1/log/entries?logIndex=0");
  // An http client that does not trust the log's certificate cannot upload.
  net::http_client untrusting(ctx.get_executor());
  tlog::client u(untrusting, fast(https + "/", stub.public_key_pem()));
  CHECK_THROWS_WITH(run(ctx, u.upload(tlog::hashedrekord_proposal("y", signer.sign("y"), signer.public_pem()))),
                    Catch::Contains("certificate verify failed"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("a log slower than the deadline is a retryable error after the attempts") {
  rekor_stub stub({"--fault", "slow:400"});
  asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  auto o = fast(stub.url(), stub.public_key_pem());
  o.timeout = std::chrono::milliseconds(100);
  o.attempts = 2;
  tlog::client c(http, o);
  tlog::test::ec_key signer;
  try {
    run(ctx, c.upload(tlog::hashedrekord_proposal("x", signer.sign("x"), signer.public_pem())));
    FAIL("expected a timeout");
  } catch (const tlog::tlog_error& e) {
    CHECK_FALSE(e.permanent());
    CHECK_THAT(e.what(), Catch::Contains("after 2 attempts"));
  }
}
