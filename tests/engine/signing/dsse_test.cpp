// engine/signing's DSSE helpers against upstream's exact bytes.
#include <catch2/catch.hpp>

#include "signing/dsse.hpp"

using namespace chainsd;

TEST_CASE("DSSE: PAE and envelope have upstream's exact shape") {
  CHECK(signing::pae("application/vnd.in-toto+json", "{}") == "DSSEv1 28 application/vnd.in-toto+json 2 {}");
  CHECK(signing::envelope_json("t", "ab", "SHA256:x", "\x01\x02") ==
        R"({"payloadType":"t","payload":"YWI=","signatures":[{"keyid":"SHA256:x","sig":"AQI="}]})");
  CHECK(signing::base64_decode(signing::base64_encode("hello world!?")) == "hello world!?");
  CHECK_THROWS(signing::base64_decode("a$b"));
}
