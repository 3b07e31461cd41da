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

TEST_CASE("json_escape (eight bytes at a time) matches a byte-by-byte escape at every offset") {
  auto reference = [](std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
      if (c == '"') out += "\\\"";
      else if (c == '\\') out += "\\\\";
      else if (c == '\n') out += "\\n";
      else if (c == '\r') out += "\\r";
      else if (c == '\t') out += "\\t";
      else if (c < 0x20) {
        static const char hex[] = "0123456789abcdef";
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
      } else out += static_cast<char>(c);
    }
    return out;
  };
  const std::string specials = std::string("\"\\\n\r\t\x01\x1f", 7) + "\x7f\xc3\xa9 ~";
  for (std::size_t len = 0; len < 40; ++len)
    for (std::size_t pos = 0; pos < len; ++pos)
      for (char sp : specials) {
        std::string s(len, 'a');
        s[pos] = sp;
        if (pos + 9 < len) s[pos + 9] = '"';
        std::string out = "x";
        log::json_escape(out, s);
        REQUIRE(out == "x" + reference(s));
      }
}
