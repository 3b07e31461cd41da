#include <catch2/catch.hpp>

#include <optional>

#include <chainsd/plugin/encoding.hpp>

#include "provenance/encoding.hpp"
#include "provenance/image_ref.hpp"

using namespace chainsd::provenance;

TEST_CASE("strings are quoted like Go's json.Marshal") {
  std::string out;
  append_go_json_string(out, "a<b>&\"\\\n\t\b\f\x01 \xe2\x80\xa8 \xff");
  CHECK(out == "\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\t\\b\\f\\u0001 \\u2028 \\ufffd\"");
  std::string plain;
  append_json_string(plain, "a<b>&\xc3\xa9");
  CHECK(plain == "\"a<b>&\xc3\xa9\"");
}

TEST_CASE("base64 is standard and padded") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("\"gcr.io/my/image\"") == "Imdjci5pby9teS9pbWFnZSI=");
}

TEST_CASE("base64 of every length and byte value decodes back; RFC 4648 vectors") {
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_encode("fooba") == "Zm9vYmE=");
  CHECK(base64_encode(std::string("\xff\xfe\xfd\x00", 4)) == "//79AA==");
  std::string data;
  for (int i = 0; i < 1030; ++i) data += static_cast<char>((i * 131 + 7) & 0xff);
  for (std::size_t len = 0; len < data.size(); len += (len < 64 ? 1 : 97)) {
    auto in = data.substr(0, len);
    auto enc = base64_encode(in);
    REQUIRE(enc.size() == (len + 2) / 3 * 4);
    REQUIRE(chainsd::plugin::base64_decode(enc) == in);
  }
}

TEST_CASE("base64: the vector path writes what the byte loop writes, for every length and offset") {
  // A textbook encoder as the reference; lengths around the 24-byte steps and the 28-byte read.
  auto reference = [](std::string_view in) {
    static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
      unsigned v = unsigned(static_cast<unsigned char>(in[i])) << 16 |
                   unsigned(static_cast<unsigned char>(in[i + 1])) << 8 | static_cast<unsigned char>(in[i + 2]);
      for (int k = 18; k >= 0; k -= 6) out += a[(v >> k) & 63];
    }
    if (in.size() - i == 1) {
      unsigned v = unsigned(static_cast<unsigned char>(in[i])) << 16;
      out += a[v >> 18];
      out += a[(v >> 12) & 63];
      out += "==";
    } else if (in.size() - i == 2) {
      unsigned v = unsigned(static_cast<unsigned char>(in[i])) << 16 | unsigned(static_cast<unsigned char>(in[i + 1])) << 8;
      out += a[v >> 18];
      out += a[(v >> 12) & 63];
      out += a[(v >> 6) & 63];
      out += '=';
    }
    return out;
  };
  std::string data;
  std::uint32_t x = 12345;
  for (int i = 0; i < 70000; ++i) {
    x = x * 1103515245u + 12345u;
    data += static_cast<char>(i < 256 ? i : x >> 24);  // every byte value first
  }
  for (std::size_t off = 0; off < 5; ++off)
    for (std::size_t len = 0; len < 200; ++len) {
      auto in = std::string_view(data).substr(off, len);
      REQUIRE(base64_encode(in) == reference(in));
    }
  REQUIRE(base64_encode(data) == reference(data));
  REQUIRE(base64_encode(std::string(1000, '\xff')) == reference(std::string(1000, '\xff')));
}

TEST_CASE("base64 decoding: the four-at-a-time path accepts and rejects what the bit loop does") {
  // The previous decoder, one character at a time, as the reference.
  auto reference = [](std::string_view in) -> std::optional<std::string> {
    auto val = [](char c) -> int {
      if (c >= 'A' && c <= 'Z') return c - 'A';
      if (c >= 'a' && c <= 'z') return c - 'a' + 26;
      if (c >= '0' && c <= '9') return c - '0' + 52;
      if (c == '+') return 62;
      if (c == '/') return 63;
      return -1;
    };
    std::string out;
    unsigned acc = 0;
    int bits = 0;
    bool padding = false;
    for (char c : in) {
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
      if (c == '=') {
        padding = true;
        continue;
      }
      int v = val(c);
      if (v < 0 || padding) return std::nullopt;
      acc = (acc << 6) | static_cast<unsigned>(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += static_cast<char>((acc >> bits) & 0xff);
      }
    }
    if (bits >= 6) return std::nullopt;
    return out;
  };
  auto ours = [](std::string_view in) -> std::optional<std::string> {
    try {
      return chainsd::plugin::base64_decode(in);
    } catch (const std::invalid_argument&) {
      return std::nullopt;
    }
  };
  std::string data;
  for (int i = 0; i < 3000; ++i) data += static_cast<char>((i * 197 + 11) & 0xff);
  const std::string enc = base64_encode(data);
  const char* noise[] = {" ", "\n", "\r\n", "\t", "=", "==", "*", "-", "\x80", "A", "AB"};
  std::uint32_t x = 7;
  for (int round = 0; round < 4000; ++round) {
    x = x * 1103515245u + 12345u;
    std::size_t len = (x >> 8) % 200;
    std::string in = enc.substr((x >> 4) % 64 * 4, len);
    x = x * 1103515245u + 12345u;
    if (round % 3) in.insert((x >> 8) % (in.size() + 1), noise[(x >> 20) % std::size(noise)]);
    REQUIRE(ours(in) == reference(in));
  }
  REQUIRE(ours(enc) == std::optional<std::string>(data));
  REQUIRE(ours("Zm9v\nYmFy") == std::optional<std::string>("foobar"));
  REQUIRE_FALSE(ours("Zm9v=YmFy").has_value());
}

TEST_CASE("JSON strings: the bulk copy of plain bytes escapes exactly what a byte loop does") {
  // Specials at every offset of strings around the 8-byte word size, in both escaping modes,
  // against a byte-by-byte reference (ASCII and one valid two-byte character).
  auto reference = [](std::string_view s, bool html) {
    static const char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (unsigned char c : s) {
      if (c == '"') out += "\\\"";
      else if (c == '\\') out += "\\\\";
      else if (c == '\n') out += "\\n";
      else if (c < 0x20 || (html && (c == '<' || c == '>' || c == '&'))) {
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
      } else out += static_cast<char>(c);
    }
    return out + "\"";
  };
  const char* specials[] = {"\"", "\\", "\n", "\x01", "\x1f", "<", ">", "&", "\x7f", "\xc3\xa9"};
  for (std::size_t len = 1; len < 26; ++len)
    for (std::size_t pos = 0; pos < len; ++pos)
      for (const char* sp : specials) {
        std::string s(len, 'a');
        s.replace(pos, 1, sp);
        std::string go, plain;
        append_go_json_string(go, s);
        append_json_string(plain, s);
        REQUIRE(go == reference(s, true));
        REQUIRE(plain == reference(s, false));
      }
}

TEST_CASE("RFC 3339 times are rendered in UTC") {
  CHECK(normalize_rfc3339("2021-03-29T09:50:00Z") == "2021-03-29T09:50:00Z");
  CHECK(normalize_rfc3339("2021-03-29T21:50:00+12:00") == "2021-03-29T09:50:00Z");
  CHECK(normalize_rfc3339("2021-03-01T01:00:00+02:00") == "2021-02-28T23:00:00Z");
  CHECK(normalize_rfc3339("2020-12-31T23:30:00-01:00") == "2021-01-01T00:30:00Z");
  CHECK(normalize_rfc3339("2021-03-29T09:50:00.120Z") == "2021-03-29T09:50:00.12Z");
  CHECK_FALSE(normalize_rfc3339("2021-02-30T09:50:00Z"));
  CHECK_FALSE(normalize_rfc3339("yesterday"));
  CHECK_FALSE(normalize_rfc3339("2021-03-29 09:50:00Z"));
}

TEST_CASE("durations are re-formatted as Go's time.Duration.String") {
  CHECK(normalize_go_duration("1h") == "1h0m0s");
  CHECK(normalize_go_duration("90s") == "1m30s");
  CHECK(normalize_go_duration("1h30m") == "1h30m0s");
  CHECK(normalize_go_duration("1.5h") == "1h30m0s");
  CHECK(normalize_go_duration("0") == "0s");
  CHECK(normalize_go_duration("500ms") == "500ms");
  CHECK(normalize_go_duration("1500ms") == "1.5s");
  CHECK(normalize_go_duration("-2m") == "-2m0s");
  CHECK_FALSE(normalize_go_duration("1d"));
  CHECK_FALSE(normalize_go_duration(""));
}

TEST_CASE("image references follow go-containerregistry") {
  const std::string hex(64, 'a');
  auto d = parse_digest_ref("busybox@sha256:" + hex);
  REQUIRE(d);
  CHECK(d->repository == "index.docker.io/library/busybox");
  CHECK(d->name() == "index.docker.io/library/busybox@sha256:" + hex);
  CHECK(parse_digest_ref("docker.io/foo/bar@sha256:" + hex)->repository == "index.docker.io/foo/bar");
  CHECK(parse_digest_ref("docker.io/busybox@sha256:" + hex)->repository == "index.docker.io/library/busybox");
  CHECK(parse_digest_ref("busybox:1.36@sha256:" + hex)->repository == "index.docker.io/library/busybox");
  CHECK(parse_digest_ref("gcr.io/p/img:v1@sha256:" + hex)->repository == "gcr.io/p/img");
  CHECK(parse_digest_ref("localhost:5000/x@sha256:" + hex)->repository == "localhost:5000/x");
  CHECK(parse_digest_ref("localhost:5000/x:tag@sha256:" + hex)->repository == "localhost:5000/x");
  CHECK(parse_digest_ref("localhost/x@sha256:" + hex)->repository == "localhost/x");
  std::string err;
  CHECK_FALSE(parse_digest_ref("busybox", &err));
  CHECK(err.find("exactly one '@'") != std::string::npos);
  CHECK_FALSE(parse_digest_ref("busybox@sha512:" + hex));
  CHECK_FALSE(parse_digest_ref("busybox@sha256:" + std::string(64, 'A')));
  CHECK_FALSE(parse_digest_ref("busybox@sha256:abc"));
  CHECK_FALSE(parse_digest_ref("Busybox@sha256:" + hex));
  CHECK_FALSE(parse_digest_ref("a@b@sha256:" + hex));
}

TEST_CASE("artifact digests follow Chains' ParseDigest") {
  auto d = parse_digest(" SHA256 : " + std::string(64, 'b') + " ");
  REQUIRE(d);
  CHECK(d->algorithm == "sha256");
  CHECK(d->hex == std::string(64, 'b'));
  CHECK(parse_digest("sha1:" + std::string(40, 'c')));
  CHECK(parse_digest("sha512:" + std::string(128, 'c')));
  CHECK_FALSE(parse_digest("sha256:"));
  CHECK_FALSE(parse_digest("md5:abc"));
  CHECK_FALSE(parse_digest("sha1:abc"));
  CHECK_FALSE(parse_digest("sha256"));
  CHECK_FALSE(parse_digest("sha256:a:b"));
}
