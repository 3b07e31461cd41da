// The log step (tlog::logger) against the stand-ins: tests/support/rekor-v2-stub (Rekor v2:
// checkpoints, tiles), tests/support/tsa-stub (RFC 3161) and tests/support/rekor-stub (Rekor v1).
// Every bundle form is checked by @sigstore/verify (tests/support/sigstore-verify), the tokens by
// `openssl ts -verify`, and tokens made by `openssl ts -reply` are verified by the engine.
#include "../../support/prerequisites.hpp"
#include "../../support/python_stub.hpp"
#include "../../support/run_awaitable.hpp"
#include "../../support/test_pki.hpp"
#include "chainsd/plugin/encoding.hpp"
#include "config/config.hpp"
#include "net/http_client.hpp"
#include "signing/dsse.hpp"
#include "tlog/bundle.hpp"
#include "tlog/logger.hpp"
#include "tlog/merkle.hpp"
#include "tlog/setup.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

namespace asio = boost::asio;
namespace json = boost::json;
using namespace chainsd;
using chainsd::plugin::base64_decode;
using chainsd::plugin::base64_encode;
using chainsd::test_support::python_stub;
using chainsd::test_support::run;
using chainsd::test_support::test_ca;
using chainsd::test_support::test_key;

namespace {

// Runs `a` expecting a tlog_error; returns it.
tlog::tlog_error run_error(asio::io_context& ctx, asio::awaitable<tlog::log_result> a) {
  try {
    run(ctx, std::move(a));
  } catch (const tlog::tlog_error& e) {
    return e;
  }
  FAIL("expected a tlog_error");
  throw std::logic_error("unreachable");
}

asio::awaitable<net::response> post(net::http_client& http, std::string url, std::string body,
                                    std::string type = "application/json") {
  net::request r;
  r.method = "POST";
  r.url = std::move(url);
  r.headers = {{"Content-Type", type}};
  r.body = std::move(body);
  co_return co_await http.send(std::move(r));
}

asio::awaitable<net::response> get(net::http_client& http, std::string url) {
  net::request r;
  r.url = std::move(url);
  co_return co_await http.send(std::move(r));
}

void set_fault(asio::io_context& ctx, net::http_client& http, const python_stub& s, const std::string& fault) {
  run(ctx, post(http, s.url() + "/__stub/fault", R"({"fault":")" + fault + "\"}"));
}

json::value stats(asio::io_context& ctx, net::http_client& http, const python_stub& s) {
  return json::parse(run(ctx, get(http, s.url() + "/__stub/stats")).body);
}

struct stubs {
  python_stub v2, tsa;
  explicit stubs(std::vector<std::string> v2_args = {}, std::vector<std::string> tsa_args = {})
      : v2("REKOR_V2_STUB", with(std::move(v2_args), {"--public-key-out", "@log.pub", "--checkpoint-interval", "0.2"})),
        tsa("TSA_STUB", with(std::move(tsa_args), {"--chain-out", "@chain.pem"})) {}
  static std::vector<std::string> with(std::vector<std::string> a, std::vector<std::string> b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }
  tlog::logger_options options(bool with_tsa = true) const {
    tlog::logger_options o;
    o.version = 2;
    o.v2.url = v2.url();
    o.v2.public_key_pem = v2.read("log.pub");
    o.v2.backoff_initial = std::chrono::milliseconds(20);
    o.v2.backoff_max = std::chrono::milliseconds(100);
    if (with_tsa) o.tsa = tsa_of(tsa);
    return o;
  }
  static tlog::tsa_options tsa_of(const python_stub& t) {
    tlog::tsa_options ts;
    ts.url = t.url() + "/api/v1/timestamp";
    ts.chain_pems = {t.read("chain.pem")};
    ts.backoff_initial = std::chrono::milliseconds(10);
    ts.backoff_max = std::chrono::milliseconds(50);
    return ts;
  }
};

std::string statement(const std::string& tag) {
  return R"({"_type":"https://in-toto.io/Statement/v1","subject":[{"name":")" + tag +
         R"(","digest":{"sha256":"abc"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}})";
}

tlog::log_request dsse_request(const test_key& k, const std::string& tag, const std::string& cert = "") {
  auto payload = statement(tag);
  auto sig = k.sign(signing::pae(signing::in_toto_payload_type, payload));
  tlog::log_request r;
  r.envelope_json = signing::envelope_json(signing::in_toto_payload_type, payload, cert.empty() ? "SHA256:test" : "", sig);
  r.public_key_pem = k.public_pem();
  r.cert_pem = cert;
  r.key_hint = cert.empty() ? "SHA256:test" : "";
  r.signer_key = "artifacts.taskrun.signer";
  return r;
}

tlog::log_request message_request(const test_key& k, const std::string& tag) {
  tlog::log_request r;
  r.payload = R"({"critical":{"identity":{"docker-reference":"reg/)" + tag + R"("},"type":"cosign container image signature"}})";
  r.signature = k.sign(r.payload);
  r.public_key_pem = k.public_pem();
  r.signer_key = "artifacts.oci.signer";
  return r;
}

// --- @sigstore/verify ------------------------------------------------------------------------

std::vector<std::string> pem_blocks(const std::string& pem) {
  std::vector<std::string> out;
  for (auto p = pem.find("-----BEGIN"); p != std::string::npos; p = pem.find("-----BEGIN", p + 1)) {
    auto end = pem.find("-----END", p);
    end = pem.find('\n', end);
    out.push_back(pem.substr(p, end + 1 - p));
  }
  return out;
}

std::string pem_body_der(const std::string& block) {
  auto a = block.find('\n') + 1;
  auto b = block.find("-----END");
  std::string b64;
  for (char c : block.substr(a, b - a))
    if (c != '\n' && c != '\r') b64 += c;
  return base64_decode(b64);
}

struct trust_root {
  json::array tlogs, cas, tsas;
  void add_log(const std::string& base_url, const std::string& key_pem, const std::string& key_details,
               const std::string& log_id) {
    tlogs.push_back(json::object{{"baseUrl", base_url},
                                 {"hashAlgorithm", "SHA2_256"},
                                 {"publicKey",
                                  {{"rawBytes", base64_encode(pem_body_der(key_pem))},
                                   {"keyDetails", key_details},
                                   {"validFor", {{"start", "2000-01-01T00:00:00Z"}}}}},
                                 {"logId", {{"keyId", base64_encode(log_id)}}},
                                 {"checkpointKeyId", {{"keyId", base64_encode(log_id)}}}});
  }
  static json::object authority(const std::string& chain_pem) {
    json::array certs;
    for (const auto& b : pem_blocks(chain_pem)) certs.push_back(json::object{{"rawBytes", base64_encode(pem_body_der(b))}});
    return {{"subject", {{"organization", "test"}, {"commonName", "test"}}},
            {"uri", "http://127.0.0.1"},
            {"certChain", {{"certificates", std::move(certs)}}},
            {"validFor", {{"start", "2000-01-01T00:00:00Z"}}}};
  }
  void add_tsa(const std::string& chain_pem) { tsas.push_back(authority(chain_pem)); }
  void add_ca(const std::string& chain_pem) { cas.push_back(authority(chain_pem)); }
  json::object json_value() const {
    return {{"mediaType", "application/vnd.dev.sigstore.trustedroot+json;version=0.1"},
            {"tlogs", tlogs},
            {"certificateAuthorities", cas},
            {"ctlogs", json::array{}},
            {"timestampAuthorities", tsas}};
  }
};

trust_root v2_root(const stubs& s, const std::string& key_details = "PKIX_ECDSA_P256_SHA_256") {
  trust_root t;
  auto key = s.v2.read("log.pub");
  auto origin = "127.0.0.1:" + std::to_string(s.v2.port());
  t.add_log(s.v2.url(), key, key_details, tlog::make_note_key(origin, key).id);
  t.add_tsa(s.tsa.read("chain.pem"));
  return t;
}

bool have_sigstore_js() {
  const char* tests = std::getenv("TESTS_DIR");
  return tests && std::system("command -v node >/dev/null 2>&1") == 0 &&
         std::filesystem::exists(std::filesystem::path(tests) / "node_modules/@sigstore/verify");
}

// True when @sigstore/verify accepts the bundle.
bool sigstore_verifies(const std::string& bundle, const trust_root& root, const std::string& public_key_pem,
                       int tlog_threshold, int timestamp_threshold, const std::string& artifact = "") {
  json::object in{{"bundle", json::parse(bundle)},
                  {"trustedRoot", root.json_value()},
                  {"tlogThreshold", tlog_threshold},
                  {"timestampThreshold", timestamp_threshold}};
  if (!public_key_pem.empty()) in["publicKeyPem"] = public_key_pem;
  if (!artifact.empty()) in["artifact"] = base64_encode(artifact);
  auto file = std::filesystem::temp_directory_path() / ("bundle-in-" + std::to_string(::getpid()) + ".json");
  std::ofstream(file) << json::serialize(in);
  std::string cmd = "cd '" + std::string(std::getenv("TESTS_DIR")) + "' && node support/sigstore-verify/verify_bundle.mjs < '" +
                    file.string() + "' > '" + file.string() + ".out'";
  int rc = std::system(cmd.c_str());
  std::ifstream out(file.string() + ".out");
  std::string said{std::istreambuf_iterator<char>(out), {}};
  std::filesystem::remove(file);
  std::filesystem::remove(file.string() + ".out");
  UNSCOPED_INFO("@sigstore/verify: " << said);
  return WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
}

// Every bundle is also checked by the independent verifier: without it the binary is a skip.
const bool sigstore_js_present = ::test_support::require(
    have_sigstore_js(), "node and tests/node_modules/@sigstore/verify are needed (independent bundle verification)");

bool require_sigstore_js() {
  REQUIRE(have_sigstore_js());
  return true;
}

std::string flip_payload_byte(const std::string& bundle) {
  auto b = json::parse(bundle);
  auto& env = b.at("dsseEnvelope").as_object();
  auto p = base64_decode(env.at("payload").as_string());
  p[p.size() / 2] ^= 1;
  env["payload"] = base64_encode(p);
  return json::serialize(b);
}

std::string first_timestamp(const std::string& bundle) {
  auto b = json::parse(bundle);
  return base64_decode(
      b.at("verificationMaterial").at("timestampVerificationData").at("rfc3161Timestamps").at(0).at("signedTimestamp").as_string());
}

// `openssl ts -verify` of a token over `data` against the stand-in's chain.
bool openssl_ts_verifies(const python_stub& tsa, const std::string& token, const std::string& data) {
  auto blocks = pem_blocks(tsa.read("chain.pem"));
  REQUIRE(blocks.size() == 3);
  auto dir = std::filesystem::temp_directory_path() / ("ts-verify-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "token.der", std::ios::binary) << token;
  std::ofstream(dir / "data", std::ios::binary) << data;
  std::ofstream(dir / "root.pem") << blocks[2];
  std::ofstream(dir / "untrusted.pem") << blocks[0] << blocks[1];
  std::string cmd = "openssl ts -verify -in '" + (dir / "token.der").string() + "' -data '" + (dir / "data").string() +
                    "' -CAfile '" + (dir / "root.pem").string() + "' -untrusted '" + (dir / "untrusted.pem").string() +
                    "' > '" + (dir / "out").string() + "' 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream out(dir / "out");
  std::string said{std::istreambuf_iterator<char>(out), {}};
  std::filesystem::remove_all(dir);
  UNSCOPED_INFO("openssl ts -verify: " << said);
  return rc == 0 && said.find("Verification: OK") != std::string::npos;
}

std::string raw_dsse_signature(const std::string& envelope) {
  return base64_decode(json::parse(envelope).at("signatures").at(0).at("sig").as_string());
}

}  // namespace

TEST_CASE("Rekor v2 + TSA: DSSE and simplesigning entries logged, stamped, verified by @sigstore/verify and openssl") {
  stubs s;
  asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  tlog::logger lg(http, s.options());
  test_key signer;

  auto d = dsse_request(signer, "a");
  auto r = run(ctx, lg.log(d));
  CHECK(r.log_version == 2);
  CHECK(r.log_index == 0);
  CHECK(r.annotation == s.v2.url() + "/api/v2/tile/entries/000?logIndex=0");
  CHECK(r.timestamps == 1);
  auto entry = json::parse(r.entry_json);
  CHECK(entry.at("kindVersion").at("version") == "0.0.2");
  // DSSE goes in as hashedrekord over SHA-256 of the PAE (rekor-tiles CLIENTS.md, sigstore-go).
  auto body = json::parse(base64_decode(entry.at("canonicalizedBody").as_string()));
  auto env = json::parse(d.envelope_json);
  auto pae = signing::pae(env.at("payloadType").as_string(), base64_decode(env.at("payload").as_string()));
  CHECK(base64_decode(body.at("spec").at("hashedRekordV002").at("data").at("digest").as_string()) == tlog::sha256(pae));
  auto bundle = json::parse(r.bundle_json);
  CHECK(bundle.at("verificationMaterial").at("publicKey").at("hint") == "SHA256:test");
  CHECK(bundle.at("verificationMaterial").at("tlogEntries").as_array().size() == 1);

  auto m = message_request(signer, "b");
  auto rm = run(ctx, lg.log(m));
  CHECK(rm.log_index == 1);
  CHECK(json::parse(rm.bundle_json).at("verificationMaterial").at("publicKey").at("hint") == "");

  // The tokens are RFC 3161 as OpenSSL's own verifier reads them.
  CHECK(openssl_ts_verifies(s.tsa, first_timestamp(r.bundle_json), raw_dsse_signature(d.envelope_json)));
  CHECK(openssl_ts_verifies(s.tsa, first_timestamp(rm.bundle_json), m.signature));
  CHECK_FALSE(openssl_ts_verifies(s.tsa, first_timestamp(rm.bundle_json), m.signature + "x"));

  if (!require_sigstore_js()) return;
  auto root = v2_root(s);
  CHECK(sigstore_verifies(r.bundle_json, root, signer.public_pem(), 1, 1));
  CHECK(sigstore_verifies(rm.bundle_json, root, signer.public_pem(), 1, 1, m.payload));
  // A flipped byte, a wrong log key, a wrong TSA chain: each refused.
  CHECK_FALSE(sigstore_verifies(flip_payload_byte(r.bundle_json), root, signer.public_pem(), 1, 1));
  CHECK_FALSE(sigstore_verifies(rm.bundle_json, root, signer.public_pem(), 1, 1, m.payload + " "));
  trust_root wrong_log;
  test_key not_the_log;
  wrong_log.add_log(s.v2.url(), not_the_log.public_pem(), "PKIX_ECDSA_P256_SHA_256",
                    tlog::make_note_key("127.0.0.1:" + std::to_string(s.v2.port()), not_the_log.public_pem()).id);
  wrong_log.add_tsa(s.tsa.read("chain.pem"));
  CHECK_FALSE(sigstore_verifies(r.bundle_json, wrong_log, signer.public_pem(), 1, 1));
  trust_root wrong_tsa = v2_root(s);
  wrong_tsa.tsas = json::array{trust_root::authority(test_ca("not the tsa").pem())};
  CHECK_FALSE(sigstore_verifies(r.bundle_json, wrong_tsa, signer.public_pem(), 1, 1));
}

TEST_CASE("Rekor v2 keyless: the certificate is the verifier; timestamps outside its validity are refused") {
  stubs s({}, {"--leaf-validity=-86400:86400"});
  asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  tlog::logger lg(http, s.options());
  test_key signer;
  test_ca fulcio("fulcio");
  auto cert = fulcio.issue_pem(signer, -60, 600);
  auto d = dsse_request(signer, "keyless", cert);
  auto r = run(ctx, lg.log(d));
  auto b = json::parse(r.bundle_json);
  CHECK(b.at("verificationMaterial").as_object().contains("certificate"));
  auto body = json::parse(base64_decode(json::parse(r.entry_json).at("canonicalizedBody").as_string()));
  CHECK(body.at("spec").at("hashedRekordV002").at("signature").at("verifier").as_object().contains("x509Certificate"));

  // A certificate that expired before the timestamp: the logger refuses the signature.
  auto expired = fulcio.issue_pem(signer, -1200, -600);
  auto e = run_error(ctx, lg.log(dsse_request(signer, "expired", expired)));
  CHECK_FALSE(e.permanent());
  CHECK_THAT(e.what(), Catch::Contains("outside the signing certificate's validity"));
  CHECK(stats(ctx, http, s.v2).at("uploads") == 1);  // refused before anything was logged

  if (!require_sigstore_js()) return;
  auto root = v2_root(s);
  root.add_ca(fulcio.pem());
  CHECK(sigstore_verifies(r.bundle_json, root, "", 1, 1));
  // The same bundle with a timestamp from two hours ago, before the certificate was valid.
  set_fault(ctx, http, s.tsa, "gen-time:-7200");
  auto q = tlog::make_timestamp_query(raw_dsse_signature(d.envelope_json));
  auto old = run(ctx, post(http, s.tsa.url() + "/api/v1/timestamp", q.der, "application/timestamp-query"));
  REQUIRE(old.status == 200);
  b.at("verificationMaterial").at("timestampVerificationData").at("rfc3161Timestamps").at(0).as_object()["signedTimestamp"] =
      base64_encode(old.body);
  CHECK_FALSE(sigstore_verifies(json::serialize(b), root, "", 1, 1));
}

TEST_CASE("Rekor v2 uploads wait for the checkpoint together, not one after another") {
  stubs s;
  asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  run(ctx, post(http, s.v2.url() + "/__stub/config", R"({"checkpoint_interval": 1.0})"));
  tlog::logger lg(http, s.options(false));
  test_key signer;
  constexpr int n = 200;
  std::vector<tlog::log_result> results(n);
  int failures = 0;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    auto one = [](tlog::logger* l, tlog::log_request r, tlog::log_result* out) -> asio::awaitable<void> {
      *out = co_await l->log(std::move(r));
    };
    auto done = [&failures](std::exception_ptr e) { failures += e ? 1 : 0; };
    asio::co_spawn(ctx, one(&lg, message_request(signer, "many-" + std::to_string(i)), &results[i]), done);
  }
  ctx.restart();
  ctx.run();
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  CHECK(failures == 0);
  std::set<std::int64_t> indexes;
  for (const auto& r : results) indexes.insert(r.log_index);
  CHECK(indexes.size() == n);
  auto st = stats(ctx, http, s.v2);
  WARN(n << " uploads, checkpoint every 1 s: " << took.count() << " ms, at most " << st.at("maxWaiting").as_int64()
         << " waiting in the log at once");
  CHECK(st.at("maxWaiting").as_int64() >= n / 2);
  CHECK(took < std::chrono::seconds(8));  // one after another would take n checkpoints
}

TEST_CASE("Rekor v2: a lost answer is retried, the 409 proven from the log's tiles") {
  stubs s({"--key-type", "ed25519"});
  asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  auto o = s.options(false);
  o.v2.timeout = std::chrono::milliseconds(5000);
  tlog::logger lg(http, o);
  test_key signer;
  // 300 entries first: the proof then spans a full and a partial level-0 tile.
  int failed = 0;
  for (int i = 0; i < 300; ++i) {
    auto one = [](tlog::logger* l, tlog::log_request r) -> asio::awaitable<void> { co_await l->log(std::move(r)); };
    auto done = [&failed](std::exception_ptr e) { failed += e ? 1 : 0; };
    asio::co_spawn(ctx, one(&lg, message_request(signer, "fill-" + std::to_string(i))), done);
  }
  ctx.restart();
  ctx.run();
  REQUIRE(failed == 0);
  set_fault(ctx, http, s.v2, "lose:1");
  auto d = dsse_request(signer, "lost");
  auto r = run(ctx, lg.log(d));
  CHECK(r.log_index == 300);
  CHECK(r.annotation == s.v2.url() + "/api/v2/tile/entries/001?logIndex=300");
  auto st = stats(ctx, http, s.v2);
  CHECK(st.at("uploads") == 301);  // the retry made no second entry
  // Leaf 300 of 301: siblings [296,300), [288,296), [256,288) from level-0 tile 1 (partial, width
  // 45) and [0,256) from level-1 tile 0 (partial, width 1).
  auto proof = json::parse(r.entry_json).at("inclusionProof");
  CHECK(proof.at("hashes").as_array().size() == 4);
  CHECK(proof.at("treeSize") == "301");

  if (!require_sigstore_js()) return;
  // The entry rebuilt from tiles verifies like an answered one (Ed25519 checkpoint key).
  auto root = v2_root(s, "PKIX_ED25519");
  CHECK(sigstore_verifies(r.bundle_json, root, signer.public_pem(), 1, 0));
}

TEST_CASE("Rekor v2: a log that lies is refused; failures are classified") {
  stubs s;
  asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  tlog::logger lg(http, s.options(false));
  test_key signer;
  // A first entry: later proofs then have hashes to lie about.
  CHECK(run(ctx, lg.log(message_request(signer, "first"))).log_index == 0);
  int n = 0;
  for (auto [fault, reason] : {std::pair{"bad-proof", "does not lead to the checkpoint's root"},
                               std::pair{"bad-checkpoint", "does not verify with the log's public key"},
                               std::pair{"wrong-origin", "checkpoint origin"},
                               std::pair{"bad-body", "digest differs from ours"},
                               std::pair{"wrong-log-id", "logId"}}) {
    INFO(fault);
    set_fault(ctx, http, s.v2, fault);
    auto e = run_error(ctx, lg.log(message_request(signer, "lie-" + std::to_string(n++))));
    CHECK_FALSE(e.permanent());
    CHECK_THAT(e.what(), Catch::Contains(reason));
  }
  set_fault(ctx, http, s.v2, "5xx:2");
  CHECK(run(ctx, lg.log(message_request(signer, "after-5xx"))).log_version == 2);
  set_fault(ctx, http, s.v2, "429:10");
  auto busy = run_error(ctx, lg.log(message_request(signer, "busy")));
  CHECK_FALSE(busy.permanent());
  CHECK_THAT(busy.what(), Catch::Contains("HTTP 429") && Catch::Contains("after 4 attempts"));
  set_fault(ctx, http, s.v2, "");
  // A signature that does not verify: the log's 400 is permanent.
  auto bad = message_request(signer, "bad");
  bad.signature = test_key().sign(bad.payload);
  auto refused = run_error(ctx, lg.log(bad));
  CHECK(refused.permanent());
  CHECK_THAT(refused.what(), Catch::Contains("HTTP 400") && Catch::Contains("invalid hashedrekord request"));
}

TEST_CASE("Rekor v2 refuses pure Ed25519 signers: a configuration error naming both keys") {
  stubs s;
  asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  tlog::logger lg(http, s.options());
  test_key ed(test_key::type::ed25519);
  auto e = run_error(ctx, lg.log(dsse_request(ed, "ed")));
  CHECK(e.bad_config());
  CHECK_THAT(e.what(), Catch::Contains("transparency.version") && Catch::Contains("artifacts.taskrun.signer") &&
                           Catch::Contains("Ed25519"));
  // The same, known before any run: for the plugin set and `chainsd config check`.
  CHECK(lg.signer_problem(ed.public_pem(), "artifacts.taskrun.signer") == e.what());
  CHECK(lg.signer_problem(test_key().public_pem(), "artifacts.taskrun.signer").empty());
  CHECK_THAT(lg.signer_problem(test_key(test_key::type::ecdsa_p384).public_pem(), "artifacts.oci.signer"),
             Catch::Contains("artifacts.oci.signer") && Catch::Contains("secp384r1"));
  // Rekor v1 takes them.
  tlog::logger_options v1;
  v1.version = 1;
  v1.v1.url = "http://127.0.0.1:1";
  CHECK(tlog::logger(http, v1).signer_problem(ed.public_pem(), "artifacts.taskrun.signer").empty());
}

TEST_CASE("a timestamp authority that lies is refused") {
  stubs s;
  asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  tlog::logger lg(http, s.options());
  test_key signer;
  // One good token first: the faults below then meet a signer already verified (the fast path).
  CHECK(run(ctx, lg.log(message_request(signer, "tsa-good"))).timestamps == 1);
  int n = 0;
  for (auto [fault, reason] : {std::pair{"bad-signature", "does not verify against the trusted timestamp authorities"},
                               std::pair{"wrong-imprint", "message imprint differs"},
                               std::pair{"wrong-nonce", "nonce"},
                               std::pair{"reject", "refused: status 2"},
                               std::pair{"gen-time:-7200", "certificate is not yet valid"}}) {
    INFO(fault);
    set_fault(ctx, http, s.tsa, fault);
    auto e = run_error(ctx, lg.log(message_request(signer, "tsa-" + std::to_string(n++))));
    CHECK_FALSE(e.permanent());
    CHECK_THAT(e.what(), Catch::Contains(reason));
  }
  CHECK(stats(ctx, http, s.v2).at("uploads") == 1);  // a failed timestamp logs nothing
  set_fault(ctx, http, s.tsa, "5xx:2");
  CHECK(run(ctx, lg.log(message_request(signer, "retried"))).timestamps == 1);
  // The answers carry no certificate (certReq false, as sigstore-go asks): a chain of just the
  // root cannot find the signer; the chain as the TSA serves it (leaf first) can.
  set_fault(ctx, http, s.tsa, "");
  auto o = s.options();
  o.tsa->chain_pems = {pem_blocks(s.tsa.read("chain.pem")).back()};
  tlog::logger root_only(http, o);
  CHECK_THAT(run_error(ctx, root_only.log(message_request(signer, "root-only"))).what(),
             Catch::Contains("does not verify") && Catch::Contains("signer certificate not found"));
  CHECK(run(ctx, lg.log(message_request(signer, "full-chain"))).timestamps == 1);
}

TEST_CASE("a TSA certificate once verified is trusted for later tokens, never beyond its chain's validity") {
  python_stub tsa("TSA_STUB", {"--chain-out", "@chain.pem", "--leaf-validity=-3600:86400"});
  asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  tlog::timestamp_verifier v({tsa.read("chain.pem")});
  std::string sig = test_key().sign("payload");
  auto token = [&](const std::string& fault) {
    set_fault(ctx, http, tsa, fault);
    auto q = tlog::make_timestamp_query(sig);
    auto r = run(ctx, post(http, tsa.url() + "/api/v1/timestamp", q.der, "application/timestamp-query"));
    REQUIRE(r.status == 200);
    return std::pair{q, r.body};
  };
  auto [q1, t1] = token("");
  v.verify(t1, sig, q1);
  CHECK(v.fast_verifications() == 0);  // the first goes through OpenSSL's whole verification
  auto [q2, t2] = token("");
  v.verify(t2, sig, q2);
  CHECK(v.fast_verifications() == 1);
  for (auto [fault, reason] : {std::pair{"bad-signature", "does not verify"}, std::pair{"wrong-nonce", "nonce"},
                               std::pair{"wrong-imprint", "imprint"}, std::pair{"gen-time:-7200", "not yet valid"},
                               std::pair{"gen-time:172800", "expired"}}) {
    INFO(fault);
    auto [q, t] = token(fault);
    CHECK_THROWS_WITH(v.verify(t, sig, q), Catch::Contains(reason));
    CHECK_THROWS_WITH(v.verify(t2, sig + "x", q2), Catch::Contains("imprint"));
  }
  CHECK(v.fast_verifications() == 1);
  // Another authority's verifier knows nothing of this one.
  tlog::timestamp_verifier other({test_ca("other").pem()});
  CHECK_THROWS(other.verify(t2, sig, q2));
}

TEST_CASE("tokens made by openssl ts -reply verify with the engine's verifier") {
  auto dir = std::filesystem::temp_directory_path() / ("openssl-tsa-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = [&dir](const char* f) { return (dir / f).string(); };
  std::ofstream(p("ext.cnf")) << "[tsa_ext]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                                 "extendedKeyUsage=critical,timeStamping\n";
  std::ofstream(p("ts.cnf")) << "[tsa]\ndefault_tsa = tsa_config1\n[tsa_config1]\nserial = " << p("serial")
                             << "\ncrypto_device = builtin\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\n"
                                "digests = sha256\naccuracy = secs:1\nordering = no\ntsa_name = no\n"
                                "ess_cert_id_chain = no\ness_cert_id_alg = sha256\n";
  std::ofstream(p("serial")) << "01\n";
  std::string sh = "cd '" + dir.string() + "' && "
                   "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=ts-root "
                   "-keyout root.key -out root.pem && "
                   "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=ts-signer "
                   "-keyout tsa.key -out tsa.csr && "
                   "openssl x509 -req -in tsa.csr -CA root.pem -CAkey root.key -CAcreateserial -days 1 "
                   "-extfile ext.cnf -extensions tsa_ext -out tsa.pem";
  REQUIRE(std::system((sh + " >/dev/null 2>&1").c_str()) == 0);
  std::string signature = test_key().sign("signed");
  auto q = tlog::make_timestamp_query(signature);
  std::ofstream(p("q.tsq"), std::ios::binary) << q.der;
  std::string reply = "cd '" + dir.string() + "' && openssl ts -reply -config ts.cnf -queryfile q.tsq -signer tsa.pem "
                      "-inkey tsa.key -out r.tsr >/dev/null 2>&1";
  REQUIRE(std::system(reply.c_str()) == 0);
  std::ifstream in(p("r.tsr"), std::ios::binary);
  std::string resp{std::istreambuf_iterator<char>(in), {}};
  std::ifstream rp(p("root.pem")), tp(p("tsa.pem"));
  std::string root{std::istreambuf_iterator<char>(rp), {}}, leaf{std::istreambuf_iterator<char>(tp), {}};
  tlog::timestamp_verifier v({leaf + root});
  auto t = v.verify(resp, signature, q);
  CHECK(std::abs(t.gen_time - std::time(nullptr)) < 60);
  CHECK_THROWS_WITH(v.verify(resp, signature + "x", q), Catch::Contains("imprint"));
  tlog::timestamp_verifier other({test_ca("other").pem()});
  CHECK_THROWS_AS(other.verify(resp, signature, q), tlog::verify_error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("Rekor v1: without timestamps exactly what chainsd wrote before; with them, SET and token both") {
  python_stub v1("REKOR_STUB", {"--public-key-out", "@log.pub"});
  python_stub tsa("TSA_STUB", {"--chain-out", "@chain.pem"});
  asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  tlog::logger_options o;
  o.version = 1;
  o.v1.url = v1.url();
  o.v1.public_key_pem = v1.read("log.pub");
  tlog::logger plain(http, o);
  test_key signer;
  auto d = dsse_request(signer, "v1");
  auto r = run(ctx, plain.log(d));
  CHECK(r.log_version == 1);
  CHECK(r.annotation == v1.url() + "/api/v1/log/entries?logIndex=0");
  auto entry = tlog::parse_log_entry(r.entry_json);  // {"<uuid>": {...}} as Rekor answers
  CHECK(r.bundle_json == tlog::sigstore_bundle_dsse(entry, d.envelope_json, {"", "SHA256:test"}));
  CHECK(r.timestamps == 0);
  auto m = message_request(signer, "v1-msg");
  auto rm = run(ctx, plain.log(m));
  CHECK(rm.bundle_json ==
        tlog::sigstore_bundle_message_signature(tlog::parse_log_entry(rm.entry_json), m.payload, m.signature, {"", ""}));

  o.tsa = stubs::tsa_of(tsa);
  tlog::logger stamped(http, o);
  auto rs = run(ctx, stamped.log(dsse_request(signer, "v1-stamped")));
  CHECK(rs.timestamps == 1);
  auto b = json::parse(rs.bundle_json);
  CHECK(b.at("verificationMaterial").at("tlogEntries").at(0).as_object().contains("inclusionPromise"));

  // upload=false (manual mode without the annotation): the timestamp alone.
  auto nolog = dsse_request(signer, "v1-not-logged");
  nolog.upload = false;
  auto rn = run(ctx, stamped.log(nolog));
  CHECK(rn.log_version == 0);
  CHECK(rn.annotation.empty());
  CHECK(rn.entry_json.empty());
  CHECK(rn.timestamps == 1);
  CHECK(run(ctx, plain.log(nolog)).bundle_json.empty());  // nothing obtained, no bundle

  if (!require_sigstore_js()) return;
  trust_root root;
  auto key = v1.read("log.pub");
  root.add_log("https://rekor-stub.invalid", key, "PKIX_ECDSA_P256_SHA_256", tlog::sha256(pem_body_der(key)));
  root.add_tsa(tsa.read("chain.pem"));
  CHECK(sigstore_verifies(r.bundle_json, root, signer.public_pem(), 1, 1));
  CHECK(sigstore_verifies(rs.bundle_json, root, signer.public_pem(), 1, 2));  // the SET and the token
  CHECK(sigstore_verifies(rn.bundle_json, root, signer.public_pem(), 0, 1));
  CHECK_FALSE(sigstore_verifies(flip_payload_byte(rs.bundle_json), root, signer.public_pem(), 1, 2));
}

TEST_CASE("timestamps alone (no log), keyless and key-based, verified by @sigstore/verify") {
  python_stub tsa("TSA_STUB", {"--chain-out", "@chain.pem"});
  asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  tlog::logger_options o;
  o.tsa = stubs::tsa_of(tsa);
  tlog::logger lg(http, o);
  CHECK(lg.wants(true));
  test_key signer;
  test_ca fulcio("fulcio");
  auto key_based = run(ctx, lg.log(message_request(signer, "alone")));
  auto keyless = run(ctx, lg.log(dsse_request(signer, "alone-keyless", fulcio.issue_pem(signer, -60, 600))));
  CHECK(key_based.log_version == 0);
  CHECK(json::parse(key_based.bundle_json).at("verificationMaterial").at("tlogEntries").as_array().empty());

  if (!require_sigstore_js()) return;
  trust_root root;
  root.add_tsa(tsa.read("chain.pem"));
  root.add_ca(fulcio.pem());
  CHECK(sigstore_verifies(key_based.bundle_json, root, signer.public_pem(), 0, 1,
                          message_request(signer, "alone").payload));
  CHECK(sigstore_verifies(keyless.bundle_json, root, "", 0, 1));
  trust_root no_tsa;
  no_tsa.add_ca(fulcio.pem());
  CHECK_FALSE(sigstore_verifies(keyless.bundle_json, no_tsa, "", 0, 1));
}

TEST_CASE("from chains-config: make_logger reads the key and chain files") {
  stubs s;
  asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  auto parsed = config::parse({{"transparency.enabled", "true"},
                               {"transparency.version", "v2"},
                               {"transparency.url", s.v2.url()},
                               {"transparency.publickey", s.v2.file("log.pub").string()},
                               {"transparency.timestamp.url", s.tsa.url()},
                               {"transparency.timestamp.certchain", s.tsa.file("chain.pem").string()}});
  INFO(parsed.error_text());
  REQUIRE(parsed.ok());
  auto lg = tlog::make_logger(*parsed.value, http);
  REQUIRE(lg);
  CHECK(lg->log_version() == 2);
  test_key signer;
  auto r = run(ctx, lg->log(dsse_request(signer, "from-config")));
  CHECK(r.timestamps == 1);
  CHECK(r.log_index == 0);
  CHECK_FALSE(tlog::make_logger(*config::parse({}).value, http));  // nothing asked for
}
