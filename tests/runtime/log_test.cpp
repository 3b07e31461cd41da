#include <catch2/catch.hpp>

#include "runtime/log.hpp"

using namespace chainsd;

TEST_CASE("json_escape escapes quotes, backslashes and control characters") {
  std::string out;
  log::json_escape(out, "a\"b\\c\nd\x01");
  CHECK(out == "a\\\"b\\\\c\\nd\\u0001");
}

TEST_CASE("parse_level accepts the four levels in any case and rejects others") {
  log::level l{};
  CHECK(log::parse_level("DEBUG", l));
  CHECK(l == log::level::debug);
  CHECK(log::parse_level("warning", l));
  CHECK(l == log::level::warn);
  CHECK_FALSE(log::parse_level("verbose", l));
}
