#include <catch2/catch.hpp>

#include "runtime/json_escape.hpp"

#include <string>

using chainsd::runtime::append_json_escaped;
using chainsd::runtime::append_json_quoted;
using chainsd::runtime::json_escape;

namespace {

std::string esc(std::string_view s, json_escape m) {
  std::string out;
  append_json_escaped(out, s, m);
  return out;
}

// The same input at every offset inside runs of 1..40 plain bytes: the 16- and 8-byte fast paths
// must hand each special byte to the slow path wherever it falls.
void check_everywhere(std::string_view special, json_escape m, std::string_view want) {
  for (std::size_t len = 0; len < 40; ++len)
    for (std::size_t pos = 0; pos <= len; ++pos) {
      std::string s(len, 'x');
      s.insert(pos, special);
      std::string expected(pos, 'x');
      expected += want;
      expected.append(len - pos, 'x');
      REQUIRE(esc(s, m) == expected);
    }
}

constexpr json_escape all_modes[] = {json_escape::minimal, json_escape::jcs, json_escape::protojson,
                                     json_escape::go_json};

}  // namespace

TEST_CASE("every mode: quote, backslash, \\n \\r \\t short; other C0 controls as lower-case \\u00XX") {
  for (auto m : all_modes) {
    check_everywhere("\"", m, "\\\"");
    check_everywhere("\\", m, "\\\\");
    check_everywhere("\n", m, "\\n");
    check_everywhere("\r", m, "\\r");
    check_everywhere("\t", m, "\\t");
    check_everywhere(std::string_view("\0", 1), m, "\\u0000");
    check_everywhere("\x01", m, "\\u0001");
    check_everywhere("\x1b", m, "\\u001b");
    check_everywhere("\x1f", m, "\\u001f");
    check_everywhere("\x7f", m, "\x7f");  // DEL is not a control character to JSON
    check_everywhere(" ~/", m, " ~/");
    check_everywhere("\xc3\xa9\xf0\x9f\x98\x80", m, "\xc3\xa9\xf0\x9f\x98\x80");  // valid UTF-8 as is
  }
}

TEST_CASE("\\b and \\f: \\u00XX in log lines (minimal), short forms elsewhere") {
  CHECK(esc("\b\f", json_escape::minimal) == "\\u0008\\u000c");
  for (auto m : {json_escape::jcs, json_escape::protojson, json_escape::go_json}) {
    check_everywhere("\b", m, "\\b");
    check_everywhere("\f", m, "\\f");
  }
}

TEST_CASE("< > & and U+2028 U+2029: escaped only by Go's encoding/json") {
  for (auto m : {json_escape::minimal, json_escape::jcs, json_escape::protojson}) {
    check_everywhere("<>&", m, "<>&");
    check_everywhere("\xe2\x80\xa8\xe2\x80\xa9", m, "\xe2\x80\xa8\xe2\x80\xa9");
  }
  check_everywhere("<", json_escape::go_json, "\\u003c");
  check_everywhere(">", json_escape::go_json, "\\u003e");
  check_everywhere("&", json_escape::go_json, "\\u0026");
  check_everywhere("\xe2\x80\xa8", json_escape::go_json, "\\u2028");
  check_everywhere("\xe2\x80\xa9", json_escape::go_json, "\\u2029");
  check_everywhere("\xe2\x80\xaa", json_escape::go_json, "\xe2\x80\xaa");  // U+202A is not special
}

TEST_CASE("invalid UTF-8: as is (minimal, jcs), U+FFFD (protojson), \\ufffd (go_json), per byte") {
  const std::string_view invalid[] = {"\xff", "\x80", "\xc0\x80" /* overlong */, "\xed\xa0\x80" /* surrogate */,
                                      "\xf4\x90\x80\x80" /* above U+10FFFF */, "\xe2\x80" /* cut short */};
  for (auto bad : invalid) {
    check_everywhere(bad, json_escape::minimal, bad);
    check_everywhere(bad, json_escape::jcs, bad);
    std::string raw, escaped;
    for (std::size_t i = 0; i < bad.size(); ++i) {
      raw += "\xef\xbf\xbd";
      escaped += "\\ufffd";
    }
    check_everywhere(bad, json_escape::protojson, raw);
    check_everywhere(bad, json_escape::go_json, escaped);
  }
}

TEST_CASE("append_json_quoted adds the quotes; both append to what is there") {
  std::string out = "k:";
  append_json_quoted(out, "a\"<", json_escape::go_json);
  CHECK(out == "k:\"a\\\"\\u003c\"");
  append_json_escaped(out, "", json_escape::minimal);
  append_json_quoted(out, "", json_escape::jcs);
  CHECK(out == "k:\"a\\\"\\u003c\"\"\"");
}
