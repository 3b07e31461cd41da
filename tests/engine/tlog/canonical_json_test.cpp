#include "tlog/canonical_json.hpp"

#include <boost/json/value.hpp>
#include <catch2/catch.hpp>

using chainsd::tlog::canonicalize;

TEST_CASE("canonical json sorts keys by UTF-16 code units (RFC 8785 3.2.3)") {
  // The RFC's example: U+1F600 (a surrogate pair) sorts before U+FB33 in UTF-16, after it in UTF-8.
  std::string in =
      "{\"\\u20ac\":\"Euro Sign\",\"\\r\":\"Carriage Return\",\"\\ufb33\":\"Hebrew Letter Dalet With Dagesh\","
      "\"1\":\"One\",\"\\ud83d\\ude00\":\"Emoji: Grinning Face\",\"\\u0080\":\"Control\","
      "\"\\u00f6\":\"Latin Small Letter O With Diaeresis\"}";
  std::string want =
      "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\",\"\xc3\xb6\":\"Latin Small Letter O With "
      "Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\",\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\",\"\xef\xac\xb3\":\"Hebrew "
      "Letter Dalet With Dagesh\"}";
  CHECK(canonicalize(in) == want);
}

TEST_CASE("canonical json numbers follow ECMAScript (RFC 8785 3.2.2.3)") {
  CHECK(canonicalize("[1E30, 4.50, 2e-3, 0.000001, 1e-7, 1E21, 1e20, -0, 10, -12]") ==
        "[1e+30,4.5,0.002,0.000001,1e-7,1e+21,100000000000000000000,0,10,-12]");
  // From a literal: Boost.JSON 1.81's parser does not round every long mantissa correctly.
  CHECK(chainsd::tlog::canonical_json(boost::json::value(333333333.33333329)) == "333333333.3333333");
  CHECK(chainsd::tlog::canonical_json(boost::json::value(-5e-324)) == "-5e-324");
  CHECK(canonicalize("[9007199254740992]") == "[9007199254740992]");
  CHECK_THROWS(canonicalize("[9007199254740993]"));
}

TEST_CASE("canonical json escapes only what it must") {
  CHECK(canonicalize("{\"a\":\"\\u0001\\u001f\\b\\t\\n\\f\\r\\\"\\\\/\\u007f\\u00e9\"}") ==
        "{\"a\":\"\\u0001\\u001f\\b\\t\\n\\f\\r\\\"\\\\/\x7f\xc3\xa9\"}");
}

TEST_CASE("canonical json drops whitespace and nests") {
  CHECK(canonicalize(" { \"b\" : [ true , null , { \"d\":1, \"c\":2 } ], \"a\" : {} } ") ==
        "{\"a\":{},\"b\":[true,null,{\"c\":2,\"d\":1}]}");
}

TEST_CASE("the SET payload shape Rekor signs") {
  CHECK(canonicalize(R"({"logIndex":7,"logID":"ab","integratedTime":1700000000,"body":"eyJ9"})") ==
        R"({"body":"eyJ9","integratedTime":1700000000,"logID":"ab","logIndex":7})");
}
