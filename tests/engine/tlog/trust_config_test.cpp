// Sigstore signing_config.v0.2 + trusted_root, and what chainsd makes of them with the
// transparency.* keys (setup.cpp): which log, which version, which key and origin, which TSA.
#include "../../support/test_pki.hpp"
#include "chainsd/plugin/encoding.hpp"
#include "config/config.hpp"
#include "tlog/merkle.hpp"
#include "tlog/note.hpp"
#include "tlog/setup.hpp"
#include "tlog/trust_config.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace chainsd;
using namespace chainsd::tlog;
using chainsd::plugin::base64_encode;
using chainsd::test_support::test_ca;
using chainsd::test_support::test_key;

namespace {

constexpr std::time_t t2025 = 1735689600;  // 2025-01-01T00:00:00Z

std::string signing_config_json(const std::string& v2_start = "2025-06-01T00:00:00Z") {
  return R"({
    "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
    "caUrls": [{"url": "https://fulcio.example", "majorApiVersion": 1,
                "validFor": {"start": "2022-04-13T20:06:15.000Z"}, "operator": "example.dev"}],
    "oidcUrls": [],
    "rekorTlogUrls": [
      {"url": "https://log2025-1.rekor.example", "majorApiVersion": 2,
       "validFor": {"start": ")" + v2_start + R"("}, "operator": "example.dev"},
      {"url": "https://rekor.example", "majorApiVersion": 1,
       "validFor": {"start": "2021-01-12T11:53:27Z"}, "operator": "example.dev"}],
    "rekorTlogConfig": {"selector": "ANY"},
    "tsaUrls": [{"url": "https://timestamp.example/api/v1/timestamp", "majorApiVersion": 1,
                 "validFor": {"start": "2025-04-09T00:00:00Z"}, "operator": "example.dev"}],
    "tsaConfig": {"selector": "ANY"}
  })";
}

struct root_fixture {
  test_key v1_key, v2_key{test_key::type::ed25519};
  test_ca tsa_ca{"tsa root"}, other_tsa_ca{"other tsa root"};
  std::string json() const {
    auto v2_id = make_note_key("log2025-1.rekor.example", v2_key.public_pem()).id;
    return R"({
      "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
      "tlogs": [
        {"baseUrl": "https://rekor.example", "hashAlgorithm": "SHA2_256",
         "publicKey": {"rawBytes": ")" + base64_encode(v1_key.public_der()) + R"(", "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                       "validFor": {"start": "2021-01-12T11:53:27Z"}},
         "logId": {"keyId": ")" + base64_encode(sha256(v1_key.public_der())) + R"("}},
        {"baseUrl": "https://log2025-1.rekor.example", "hashAlgorithm": "SHA2_256",
         "publicKey": {"rawBytes": ")" + base64_encode(v2_key.public_der()) + R"(", "keyDetails": "PKIX_ED25519",
                       "validFor": {"start": "2025-06-01T00:00:00Z"}},
         "logId": {"keyId": ")" + base64_encode(v2_id) + R"("},
         "checkpointKeyId": {"keyId": ")" + base64_encode(v2_id) + R"("}}],
      "certificateAuthorities": [],
      "ctlogs": [],
      "timestampAuthorities": [
        {"subject": {"organization": "other", "commonName": "other"}, "uri": "https://other-tsa.example",
         "certChain": {"certificates": [{"rawBytes": ")" + base64_encode(other_tsa_ca.der()) + R"("}]},
         "validFor": {"start": "2025-01-01T00:00:00Z"}},
        {"subject": {"organization": "example", "commonName": "tsa"}, "uri": "https://timestamp.example",
         "certChain": {"certificates": [{"rawBytes": ")" + base64_encode(tsa_ca.der()) + R"("}]},
         "validFor": {"start": "2025-01-01T00:00:00Z"}}]
    })";
  }
};

config::config parse_ok(const config::data_map& d) {
  auto r = config::parse(d);
  INFO(r.error_text());
  REQUIRE(r.ok());
  return *r.value;
}

file_reader files(std::map<std::string, std::string> m) {
  return [m](const std::string& path, const std::string& key) {
    auto it = m.find(path);
    if (it == m.end()) throw std::invalid_argument(key + ": cannot read " + path);
    return it->second;
  };
}

}  // namespace

TEST_CASE("RFC 3339 timestamps") {
  CHECK(parse_rfc3339("2025-01-01T00:00:00Z") == t2025);
  CHECK(parse_rfc3339("2025-01-01T00:00:00.123456Z") == t2025);
  CHECK(parse_rfc3339("2025-01-01T02:00:00+02:00") == t2025);
  CHECK(parse_rfc3339("2024-12-31T23:00:00-01:00") == t2025);
  CHECK_THROWS_AS(parse_rfc3339("2025-01-01"), trust_config_error);
  CHECK_THROWS_AS(parse_rfc3339("2025-01-01T00:00:00"), trust_config_error);
}

TEST_CASE("service selection: highest supported API version valid now, one per operator") {
  auto sc = parse_signing_config(signing_config_json());
  REQUIRE(sc.rekor_tlog_urls.size() == 2);
  std::time_t before_v2 = parse_rfc3339("2025-03-01T00:00:00Z"), after = parse_rfc3339("2026-01-01T00:00:00Z");
  auto now_v2 = select_services(sc.rekor_tlog_urls, {1, 2}, sc.rekor_tlog_config, after);
  REQUIRE(now_v2.size() == 1);
  CHECK(now_v2[0].url == "https://log2025-1.rekor.example");
  // Before the v2 log's start, or for a client knowing only v1, the v1 log.
  CHECK(select_services(sc.rekor_tlog_urls, {1, 2}, sc.rekor_tlog_config, before_v2).at(0).url == "https://rekor.example");
  CHECK(select_services(sc.rekor_tlog_urls, {1}, sc.rekor_tlog_config, after).at(0).url == "https://rekor.example");
  CHECK(select_services(sc.tsa_urls, {1}, sc.tsa_config, before_v2).empty());  // not valid yet
  // EXACT asks for two operators; there is one.
  service_selection exact{service_selection::selector::exact, 2};
  CHECK_THROWS_WITH(select_services(sc.rekor_tlog_urls, {1, 2}, exact, after), Catch::Contains("EXACT asks for 2"));
  // ALL: every operator once, newest start first.
  auto list = sc.rekor_tlog_urls;
  list.push_back({"https://log2025-2.rekor.example", 2, {parse_rfc3339("2025-09-01T00:00:00Z"), {}}, "example.dev"});
  list.push_back({"https://log.other.example", 2, {t2025, {}}, "other.example"});
  auto all = select_services(list, {1, 2}, {service_selection::selector::all, 0}, after);
  REQUIRE(all.size() == 2);
  CHECK(all[0].url == "https://log2025-2.rekor.example");
  CHECK(all[1].url == "https://log.other.example");
  // A service whose validity ended is not chosen.
  list[2].valid_for.end = parse_rfc3339("2025-10-01T00:00:00Z");
  CHECK(select_services(list, {2}, {}, after).at(0).url == "https://log2025-1.rekor.example");
}

TEST_CASE("malformed signing configs and trusted roots name what is wrong") {
  CHECK_THROWS_WITH(parse_signing_config("{"), Catch::Contains("signing config: json: not JSON"));
  CHECK_THROWS_WITH(parse_signing_config(R"({"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.1+json"})"),
                    Catch::Contains("v0.2"));
  CHECK_THROWS_WITH(parse_signing_config(R"({"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json",
                                            "rekorTlogUrls":[{"url":"u","majorApiVersion":2}]})"),
                    Catch::Contains("rekorTlogUrls[0]: missing \"validFor\""));
  CHECK_THROWS_WITH(parse_signing_config(R"({"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json",
                                            "tsaConfig":{"selector":"SOME"}})"),
                    Catch::Contains("tsaConfig.selector"));
  CHECK_THROWS_WITH(parse_trusted_root(R"({"mediaType":"x"})"), Catch::Contains("not a Sigstore trusted root"));
  CHECK_THROWS_WITH(parse_trusted_root(R"({"mediaType":"application/vnd.dev.sigstore.trustedroot.v0.2+json",
                                          "tlogs":[{"baseUrl":"b","publicKey":{"rawBytes":"AAAA"}}]})"),
                    Catch::Contains("not a DER public key"));
}

TEST_CASE("a signing config and trusted root choose the Rekor v2 log, its key and origin, and the TSA") {
  root_fixture root;
  config::data_map d{{"transparency.enabled", "true"},
                     {"transparency.signing-config", "/sc.json"},
                     {"transparency.trusted-root", "/tr.json"}};
  auto cfg = parse_ok(d);
  auto read = files({{"/sc.json", signing_config_json()}, {"/tr.json", root.json()}});
  auto o = logger_options_for(cfg, read, parse_rfc3339("2026-01-01T00:00:00Z"));
  CHECK(o.version == 2);
  CHECK(o.version_key == "transparency.signing-config");
  CHECK(o.v2.url == "https://log2025-1.rekor.example");
  CHECK(o.v2.origin == "log2025-1.rekor.example");
  CHECK(o.v2.public_key_pem == root.v2_key.public_pem());
  REQUIRE(o.tsa);
  CHECK(o.tsa->url == "https://timestamp.example/api/v1/timestamp");
  // Only the authority whose uri serves that URL.
  REQUIRE(o.tsa->chain_pems.size() == 1);
  CHECK(o.tsa->chain_pems[0] == root.tsa_ca.pem());

  // Before the v2 log starts: the v1 log, and (the TSA not valid yet) no timestamps.
  auto early = logger_options_for(cfg, read, parse_rfc3339("2025-03-01T00:00:00Z"));
  CHECK(early.version == 1);
  CHECK(early.v1.url == "https://rekor.example");
  CHECK(early.v1.public_key_pem == root.v1_key.public_pem());
  CHECK_FALSE(early.tsa);

  // Transparency off: the TSA alone.
  auto off = parse_ok({{"transparency.signing-config", "/sc.json"}, {"transparency.trusted-root", "/tr.json"}});
  auto o2 = logger_options_for(off, read, parse_rfc3339("2026-01-01T00:00:00Z"));
  CHECK(o2.version == 0);
  CHECK(o2.tsa);
}

TEST_CASE("signing-config errors name the key to fix") {
  root_fixture root;
  auto cfg = parse_ok({{"transparency.enabled", "true"},
                       {"transparency.signing-config", "/sc.json"},
                       {"transparency.trusted-root", "/tr.json"}});
  auto now = parse_rfc3339("2026-01-01T00:00:00Z");
  CHECK_THROWS_WITH(logger_options_for(cfg, files({{"/tr.json", root.json()}}), now),
                    Catch::Contains("transparency.signing-config: cannot read /sc.json"));
  std::string no_logs = R"({"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json"})";
  CHECK_THROWS_WITH(logger_options_for(cfg, files({{"/sc.json", no_logs}, {"/tr.json", root.json()}}), now),
                    Catch::Contains("lists no Rekor log"));
  std::string other_root = R"({"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1", "tlogs": []})";
  CHECK_THROWS_WITH(logger_options_for(cfg, files({{"/sc.json", signing_config_json()}, {"/tr.json", other_root}}), now),
                    Catch::Contains("transparency.trusted-root has no tlog with baseUrl https://log2025-1.rekor.example"));
}

TEST_CASE("transparency.* keys: v1 as before, v2 with a key file, a TSA by bare host") {
  test_key log_key;
  test_ca tsa("tsa");
  auto read = files({{"/keys/rekor.pub", log_key.public_pem()}, {"/keys/tsa.pem", tsa.pem()}});
  auto now = std::time(nullptr);

  auto v1 = logger_options_for(parse_ok({{"transparency.enabled", "true"}}), read, now);
  CHECK(v1.version == 1);
  CHECK(v1.v1.url == "https://rekor.sigstore.dev");
  CHECK(v1.v1.public_key_pem.empty());  // pinned on first use, as before
  CHECK_FALSE(v1.tsa);

  auto v2 = logger_options_for(parse_ok({{"transparency.enabled", "true"},
                                         {"transparency.version", "v2"},
                                         {"transparency.url", "https://log.example/"},
                                         {"transparency.publickey", "/keys/rekor.pub"},
                                         {"transparency.timestamp.url", "https://tsa.example"},
                                         {"transparency.timestamp.certchain", "/keys/tsa.pem"}}),
                               read, now);
  CHECK(v2.version == 2);
  CHECK(v2.v2.public_key_pem == log_key.public_pem());
  REQUIRE(v2.tsa);
  CHECK(v2.tsa->url == "https://tsa.example/api/v1/timestamp");
  CHECK(v2.tsa->chain_pems == std::vector<std::string>{tsa.pem()});

  auto only_tsa = logger_options_for(parse_ok({{"transparency.timestamp.url", "http://127.0.0.1:9/custom/path"},
                                               {"transparency.timestamp.certchain", tsa.pem()}}),
                                     read, now);
  CHECK(only_tsa.version == 0);
  CHECK(only_tsa.tsa->url == "http://127.0.0.1:9/custom/path");

  CHECK_THROWS_WITH(logger_options_for(parse_ok({{"transparency.enabled", "true"}, {"transparency.publickey", "/nope"}}),
                                       read, now),
                    Catch::Contains("transparency.publickey: cannot read /nope"));
}
