// chainsd's own transparency keys: Rekor v2, RFC 3161 timestamps, Sigstore signing config. Each
// combination that cannot work is rejected with a message naming both keys.
#include "config/config.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace chainsd;
using config::data_map;

namespace {

std::string errors(const data_map& d) {
  auto r = config::parse(d);
  return r.ok() ? std::string() : r.error_text();
}

}  // namespace

TEST_CASE("the new keys are known, default to Rekor v1 without timestamps, and read") {
  auto def = config::parse({});
  CHECK(def.value->transparency.version == "v1");
  CHECK(def.value->transparency.timestamp_url.empty());
  auto r = config::parse({{"transparency.enabled", "true"},
                          {"transparency.version", "v2"},
                          {"transparency.url", "https://log2025-1.rekor.sigstore.dev"},
                          {"transparency.publickey", "/etc/rekor.pub"},
                          {"transparency.timestamp.url", "https://timestamp.sigstore.dev/api/v1/timestamp"},
                          {"transparency.timestamp.certchain", "/etc/tsa.pem"}});
  INFO(r.error_text());
  REQUIRE(r.ok());
  CHECK(r.warnings.empty());
  CHECK(r.value->transparency.version == "v2");
  CHECK(r.value->transparency.timestamp_certchain == "/etc/tsa.pem");
  for (auto k : {"transparency.version", "transparency.timestamp.url", "transparency.timestamp.certchain",
                 "transparency.signing-config", "transparency.trusted-root"})
    CHECK(std::binary_search(config::known_keys().begin(), config::known_keys().end(), std::string_view(k)));
}

TEST_CASE("transparency.version is v1 or v2") {
  CHECK_THAT(errors({{"transparency.version", "2"}}),
             Catch::Contains("transparency.version: invalid value \"2\", wanted one of [v1 v2]"));
}

TEST_CASE("Rekor v2 needs its URL, its key and a timestamp authority") {
  auto e = errors({{"transparency.enabled", "true"}, {"transparency.version", "v2"}});
  CHECK_THAT(e, Catch::Contains("transparency.version is v2 but transparency.url is not set"));
  CHECK_THAT(e, Catch::Contains("transparency.version is v2 but transparency.timestamp.url is not set"));
  CHECK_THAT(e, Catch::Contains("neither transparency.publickey nor transparency.trusted-root"));
  // Off, v2 asks for nothing yet.
  CHECK(errors({{"transparency.enabled", "false"}, {"transparency.version", "v2"}}).empty());
  // A trusted root stands in for the key and the chain.
  CHECK(errors({{"transparency.enabled", "manual"},
                {"transparency.version", "v2"},
                {"transparency.url", "https://log.example"},
                {"transparency.timestamp.url", "https://tsa.example"},
                {"transparency.trusted-root", "/tr.json"}})
            .empty());
}

TEST_CASE("a timestamp authority needs an http(s) URL and a chain to verify it with") {
  CHECK_THAT(errors({{"transparency.timestamp.url", "tsa.example"}}),
             Catch::Contains("transparency.timestamp.url: invalid value \"tsa.example\", wanted an http(s) URL"));
  CHECK_THAT(errors({{"transparency.timestamp.url", "https://tsa.example"}}),
             Catch::Contains("transparency.timestamp.url is set but neither transparency.timestamp.certchain nor "
                             "transparency.trusted-root"));
  auto r = config::parse({{"transparency.timestamp.certchain", "/c.pem"}});
  REQUIRE(r.ok());
  REQUIRE(r.warnings.size() == 1);
  CHECK_THAT(r.warnings[0], Catch::Contains("no timestamps are requested"));
}

TEST_CASE("a signing config chooses the services alone and needs a trusted root") {
  auto e = errors({{"transparency.signing-config", "/sc.json"},
                   {"transparency.url", "https://rekor.example"},
                   {"transparency.version", "v2"},
                   {"transparency.timestamp.url", "https://tsa.example"}});
  CHECK_THAT(e, Catch::Contains("transparency.url and transparency.signing-config both choose the service"));
  CHECK_THAT(e, Catch::Contains("transparency.version and transparency.signing-config both choose the service"));
  CHECK_THAT(e, Catch::Contains("transparency.timestamp.url and transparency.signing-config both choose"));
  CHECK_THAT(e, Catch::Contains("transparency.signing-config needs transparency.trusted-root"));
  CHECK(errors({{"transparency.enabled", "true"},
                {"transparency.signing-config", "/sc.json"},
                {"transparency.trusted-root", "/tr.json"}})
            .empty());
}

TEST_CASE("transparency.url must be an http(s) URL with a host (issue 19 item 3)") {
  for (auto bad : {"not a url", "ftp://rekor.example", "https://", "http:///path", "https://host:port/", "",
                   "https://re kor.example"}) {
    INFO(bad);
    CHECK_THAT(errors({{"transparency.url", bad}}),
               Catch::Contains(std::string("transparency.url: invalid value \"") + bad +
                               "\", wanted an http(s) URL with a host"));
  }
  for (auto good : {"https://rekor.sigstore.dev", "http://127.0.0.1:3000", "https://user@rekor.example:8443/api/",
                    "http://[::1]:3000"}) {
    INFO(good);
    CHECK(errors({{"transparency.url", good}}).empty());
  }
}

TEST_CASE("a plain-http log whose key would be fetched from it is warned about (issue 23 item 6)") {
  auto warned = [](const data_map& d) {
    auto r = config::parse(d);
    REQUIRE(r.ok());
    return std::any_of(r.warnings.begin(), r.warnings.end(), [](const std::string& w) {
      return w.find("transparency.url is plain http and transparency.publickey is not set") != std::string::npos;
    });
  };
  CHECK(warned({{"transparency.enabled", "true"}, {"transparency.url", "http://rekor.internal:3000"}}));
  CHECK(warned({{"transparency.enabled", "manual"}, {"transparency.url", "http://rekor.internal:3000"}}));
  CHECK_FALSE(warned({{"transparency.enabled", "true"}, {"transparency.url", "https://rekor.internal"}}));
  CHECK_FALSE(warned({{"transparency.enabled", "true"},
                      {"transparency.url", "http://rekor.internal:3000"},
                      {"transparency.publickey", "/etc/rekor.pub"}}));
  CHECK_FALSE(warned({{"transparency.enabled", "false"}, {"transparency.url", "http://rekor.internal:3000"}}));
}
