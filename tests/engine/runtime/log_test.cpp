#include <catch2/catch.hpp>

#include "runtime/log.hpp"

#include <unistd.h>

#include <cstdio>
#include <string>

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

namespace {
// Points fd 1 at a temporary file for the test's lifetime; contents() reads what reached it.
struct captured_stdout {
  std::FILE* file = std::tmpfile();
  int saved = ::dup(1);
  captured_stdout() {
    std::fflush(stdout);
    ::dup2(::fileno(file), 1);
  }
  ~captured_stdout() {
    std::fflush(stdout);
    ::dup2(saved, 1);
    ::close(saved);
    std::fclose(file);
  }
  std::string contents() const {
    std::string out;
    std::rewind(file);
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, file)) > 0;) out.append(buf, n);
    return out;
  }
};
std::size_t count(const std::string& s, std::string_view what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("buffered logging keeps info lines until flush, and writes at once on a warning") {
  captured_stdout out;
  log::set_buffered(true);
  log::info("first kept", {{"run", "ns/a"}});
  log::info("second kept");
  CHECK(out.contents().empty());
  log::warn("a warning");  // writes what was kept, then itself, in order
  auto text = out.contents();
  REQUIRE(count(text, "\n") == 3);
  CHECK(text.find("first kept") < text.find("second kept"));
  CHECK(text.find("second kept") < text.find("a warning"));
  log::info("third kept");
  CHECK(count(out.contents(), "\n") == 3);
  log::flush();
  CHECK(count(out.contents(), "\"third kept\"") == 1);
  // 64 KB of kept lines go out without waiting for flush().
  const std::string big(1000, 'x');
  for (int i = 0; i < 80; ++i) log::info("bulk", {{"v", big}});
  CHECK(count(out.contents(), "\"bulk\"") >= 60);
  log::info("last kept");
  log::set_buffered(false);  // turning it off writes the rest
  text = out.contents();
  CHECK(count(text, "\"bulk\"") == 80);
  CHECK(count(text, "\"last kept\"") == 1);
  log::info("unbuffered");
  CHECK(count(out.contents(), "\"unbuffered\"") == 1);
}
