#include <catch2/catch.hpp>

#include "kube/errors.hpp"
#include "kube/json_scan.hpp"

#include <vector>

using namespace chainsd::kube;

TEST_CASE("scan_list visits items with metadata and raw JSON, whatever the field order") {
  json_scanner s;
  std::vector<std::string> names, raws, rvs;
  auto collect = [&](const object_meta& m, std::string_view raw) {
    names.push_back(m.namespace_name + "/" + m.name);
    rvs.push_back(m.resource_version);
    raws.emplace_back(raw);
  };
  SECTION("metadata before items") {
    std::string body = R"({"kind":"TaskRunList","apiVersion":"tekton.dev/v1","metadata":{"resourceVersion":"42","continue":"tok"},)"
                       R"("items":[{"metadata":{"name":"a","namespace":"ns","uid":"u1","resourceVersion":"40","managedFields":[{"x":1}]},"spec":{"k":[1,2]}},)"
                       R"({"spec":{},"metadata":{"resourceVersion":"41","name":"b","namespace":"ns","uid":"u2"}}]})";
    auto lm = s.scan_list(body, collect);
    CHECK(lm.resource_version == "42");
    CHECK(lm.continue_token == "tok");
    CHECK(lm.items == 2);
    CHECK(names == std::vector<std::string>{"ns/a", "ns/b"});
    CHECK(rvs == std::vector<std::string>{"40", "41"});
    CHECK(raws[0] == R"({"metadata":{"name":"a","namespace":"ns","uid":"u1","resourceVersion":"40","managedFields":[{"x":1}]},"spec":{"k":[1,2]}})");
    CHECK(raws[1] == R"({"spec":{},"metadata":{"resourceVersion":"41","name":"b","namespace":"ns","uid":"u2"}})");
  }
  SECTION("items before metadata, escaped strings") {
    std::string body = R"({"items":[{"metadata":{"name":"a\u002db","namespace":"ns"}}],"metadata":{"resourceVersion":"7"}})";
    auto lm = s.scan_list(body, collect);
    CHECK(lm.resource_version == "7");
    CHECK(lm.continue_token.empty());
    CHECK(names == std::vector<std::string>{"ns/a-b"});
  }
  SECTION("empty and null item lists") {
    std::string b1 = R"({"metadata":{"resourceVersion":"1"},"items":[]})";
    CHECK(s.scan_list(b1, collect).items == 0);
    std::string b2 = R"({"metadata":{"resourceVersion":"1"},"items":null})";
    CHECK(s.scan_list(b2, collect).items == 0);
    std::string b3 = R"({"metadata":{"resourceVersion":"1"}})";
    CHECK(s.scan_list(b3, collect).resource_version == "1");
  }
  SECTION("malformed input throws json_error") {
    std::string bad = R"({"metadata":{"resourceVersion":"1"},"items":[{"metadata":)";
    CHECK_THROWS_AS(s.scan_list(bad, collect), json_error);
  }
}

TEST_CASE("parse_event reads type, metadata and the raw object; the parser is reused") {
  json_scanner s;
  watch_line l;
  REQUIRE(s.parse_event(R"({"type":"ADDED","object":{"metadata":{"name":"x","namespace":"n","uid":"u","resourceVersion":"5"},"status":{}}})", l));
  CHECK(l.type == raw_event_type::added);
  CHECK(l.meta.name == "x");
  CHECK(l.meta.namespace_name == "n");
  CHECK(l.meta.uid == "u");
  CHECK(l.meta.resource_version == "5");
  CHECK(l.object == R"({"metadata":{"name":"x","namespace":"n","uid":"u","resourceVersion":"5"},"status":{}})");

  // Object before type, trailing CR.
  REQUIRE(s.parse_event("{\"object\":{\"metadata\":{\"name\":\"y\",\"resourceVersion\":\"6\"}},\"type\":\"DELETED\"}\r", l));
  CHECK(l.type == raw_event_type::deleted);
  CHECK(l.meta.name == "y");
  CHECK(l.meta.namespace_name.empty());

  REQUIRE(s.parse_event(R"({"type":"BOOKMARK","object":{"kind":"TaskRun","metadata":{"resourceVersion":"99"}}})", l));
  CHECK(l.type == raw_event_type::bookmark);
  CHECK(l.meta.resource_version == "99");

  REQUIRE(s.parse_event(R"j({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}})j", l));
  CHECK(l.type == raw_event_type::error);
  CHECK(l.status.code == 410);
  CHECK(l.status.reason == "Expired");
  CHECK(l.status.message == "too old resource version: 1 (5)");

  CHECK_FALSE(s.parse_event("", l));
  CHECK_FALSE(s.parse_event("  \r", l));
  CHECK_THROWS_AS(s.parse_event("{\"type\":", l), json_error);
}

TEST_CASE("parse_event in place: a line inside a larger buffer reads as the copied line does") {
  json_scanner copy_scanner, place_scanner;
  const std::string big(70000, 'Q');  // an annotation the size of stored payloads
  const std::vector<std::string> events = {
      R"({"type":"MODIFIED","object":{"metadata":{"name":"x","namespace":"n","uid":"u","resourceVersion":"7",)"
      R"("annotations":{"chains.tekton.dev/payload-taskrun-u":")" + big + R"("}},"status":{}}})",
      R"({"type":"ADDED","object":{"metadata":{"name":"y","namespace":"n","uid":"v","resourceVersion":"8"}}})",
      R"({"object":{"metadata":{"name":"z","resourceVersion":"9"}},"type":"DELETED"})" "\r",
      R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"gone"}})"};
  // The bytes after each line are what a stream buffer holds there: the next events, a partial
  // one, then whatever the allocation held before (here: characters that would break JSON).
  std::string buf;
  for (const auto& e : events) buf += e + "\n";
  buf += R"({"type":"MODIFIED","object":{"metad)";
  const std::size_t used = buf.size();
  buf.append(200, '{');
  buf.resize(used);  // size back, the stale bytes stay in the capacity
  REQUIRE(buf.capacity() >= used + json_scanner::parse_padding);
  std::size_t start = 0;
  for (const auto& e : events) {
    const std::size_t nl = buf.find('\n', start);
    const std::string_view line = std::string_view(buf).substr(start, nl - start);
    watch_line a, b;
    REQUIRE(copy_scanner.parse_event(e, a));
    REQUIRE(place_scanner.parse_event(line, b, buf.capacity() - nl));
    CHECK(b.object.data() >= buf.data());  // parsed where it lies: the object is a view of buf
    CHECK(b.object.data() < buf.data() + buf.size());
    CHECK(a.type == b.type);
    CHECK(a.object == b.object);
    CHECK(a.meta.name == b.meta.name);
    CHECK(a.meta.uid == b.meta.uid);
    CHECK(a.meta.resource_version == b.meta.resource_version);
    CHECK(a.status.code == b.status.code);
    start = nl + 1;
  }
  // Less room than the padding after the line: copied, still read right.
  std::string tight = events[1];
  tight.shrink_to_fit();
  watch_line c;
  REQUIRE(place_scanner.parse_event(tight, c, tight.capacity() - tight.size()));
  CHECK(c.meta.name == "y");
  CHECK((c.object.data() < tight.data() || c.object.data() >= tight.data() + tight.size()));
  // A truncated line in place is an error, not a read of what follows it.
  watch_line d;
  CHECK_THROWS_AS(place_scanner.parse_event(std::string_view(buf).substr(0, 40), d, buf.capacity() - 40), json_error);
}

TEST_CASE("Status objects decode into code, reason and message") {
  auto st = decode_status(404, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
                               R"("message":"taskruns.tekton.dev \"x\" not found","reason":"NotFound",)"
                               R"("details":{"name":"x","group":"tekton.dev","kind":"taskruns"},"code":404})");
  CHECK(st.code == 404);
  CHECK(st.reason == "NotFound");
  CHECK(st.message == "taskruns.tekton.dev \"x\" not found");

  auto conflict = decode_status(409, R"({"kind":"Status","reason":"AlreadyExists","message":"exists","code":409})");
  CHECK(conflict.reason == "AlreadyExists");

  // Not a Status (e.g. a proxy page): reason from the HTTP status, message from the body.
  auto html = decode_status(503, "<html>upstream unavailable</html>");
  CHECK(html.code == 503);
  CHECK(html.reason == "ServiceUnavailable");
  CHECK(html.message == "<html>upstream unavailable</html>");

  auto empty = decode_status(429, "");
  CHECK(empty.reason == "TooManyRequests");
}

TEST_CASE("result: 404/409/410 are branches; value() throws kube_error") {
  result ok{200, "{}"};
  CHECK(ok.ok());
  CHECK(ok.value() == "{}");
  result nf{404, R"({"kind":"Status","reason":"NotFound","message":"nope","code":404})"};
  CHECK(nf.not_found());
  CHECK_FALSE(nf.ok());
  CHECK(result{409, ""}.conflict());
  CHECK(result{410, ""}.gone());
  try {
    nf.value();
    FAIL("no throw");
  } catch (const kube_error& e) {
    CHECK(e.code() == 404);
    CHECK(e.reason() == "NotFound");
    CHECK(e.message() == "nope");
    CHECK(std::string(e.what()) == "404 NotFound: nope");
  }
}

TEST_CASE("quick_resource_version finds metadata.resourceVersion and nothing else, or gives up") {
  using chainsd::kube::quick_resource_version;
  const std::string big(70000, 'A');
  // Annotations before the version, escaped quotes and lookalike text inside strings, nested
  // resourceVersion fields elsewhere, numbers and literals to skip, whitespace between tokens.
  const std::string doc = R"({ "apiVersion" : "tekton.dev/v1", "n": -1.5e3, "t": [true, null, {"x": []}],
    "spec": {"resourceVersion": "wrong", "metadata": {"resourceVersion": "nested"}},
    "s": "\"metadata\":{\"resourceVersion\":\"fake\"} \\",
    "metadata" : { "annotations": {"a": ")" + big + R"(", "b": "x\\\"y"},
                   "resourceVersion" : "4711", "name": "r" }, "status": {}})";
  CHECK(quick_resource_version(doc) == std::optional<std::string>("4711"));
  // Agrees with the full parse.
  std::string copy = doc;
  CHECK(chainsd::kube::json_scanner().scan_object(copy).resource_version == "4711");
  CHECK(quick_resource_version(R"({"metadata":{"resourceVersion":"1"}})") == std::optional<std::string>("1"));
  // Not found or not readable: nullopt, never a wrong value.
  for (const char* bad : {"", "[]", "{", R"({"metadata":{}})", R"({"metadata":{"name":"x"}})", R"({"metadata":"x"})",
                          R"({"metadata":{"resourceVersion":7}})", R"({"metadata":{"resourceVersion":"a\u0031"}})",
                          R"({"spec":{"metadata":{"resourceVersion":"2"}}})", R"({"a":"unterminated)",
                          R"({"a":{"b":[1,2}, "metadata":{"resourceVersion":"3"})"})
    CHECK_FALSE(quick_resource_version(bad).has_value());
}
