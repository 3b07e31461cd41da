// Unit tests of kube-testserver's I/O-free core: patch formats (RFC 7386 / RFC 6902 examples),
// strategic merge, server-side apply ownership, selectors, YAML typing, metadata validation,
// protobuf bodies, and the API router driven directly (no sockets).

#include "api.hpp"
#include "crypto.hpp"
#include "patch.hpp"
#include "protobuf.hpp"
#include "selectors.hpp"
#include "store.hpp"
#include "util.hpp"
#include "validation.hpp"

#include <catch2/catch.hpp>

namespace ts = chainsd::testserver;
namespace json = boost::json;

namespace {

json::value j(std::string_view s) { return json::parse(s); }

}  // namespace

TEST_CASE("merge patch follows RFC 7386") {
  // The RFC's appendix A cases.
  struct c { const char* target; const char* patch; const char* result; };
  for (auto [t, p, r] : {c{R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
                         c{R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
                         c{R"({"a":"b"})", R"({"a":null})", R"({})"},
                         c{R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
                         c{R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
                         c{R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
                         c{R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
                         c{R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"}}) {
    json::value v = j(t);
    ts::apply_merge_patch(v, j(p));
    CHECK(v == j(r));
  }
}

TEST_CASE("to_json writes what json::serialize writes, as a value") {
  std::string controls;
  for (int c = 0; c < 0x20; ++c) controls += static_cast<char>(c);
  json::object o{{"empty", ""},
                 {"quotes \"and\\ slashes/", "a\"b\\c/d"},
                 {"controls", controls},
                 {"utf8", "\xc3\xa9\xe2\x80\xa8\xf0\x9f\x94\x91"},
                 {"long", std::string(100000, 'x') + "\"" + std::string(33, 'y') + "\n"},
                 {"numbers", json::array{0, -1, std::int64_t{-9223372036854775807LL - 1}, std::uint64_t{18446744073709551615ULL},
                                         1.5, -0.0, 1e300, 3.0}},
                 {"literals", json::array{true, false, nullptr}},
                 {"nested", json::object{{"a", json::array{json::object{}, json::array{}, json::object{{"b", json::array{1}}}}}}}};
  json::value v = o;
  const std::string ours = ts::to_json(v);
  CHECK(json::parse(ours) == v);
  CHECK(ours.size() >= json::serialize(v).size() - 8);  // same escapes, give or take \u00xx spellings
  for (const char* doc : {"{}", "[]", R"({"a":[1,{"b":null}],"c":"\u0001"})", "\"s\"", "-12", "true"})
    CHECK(ts::to_json(j(doc)) == json::serialize(j(doc)));
}

TEST_CASE("json patch follows RFC 6902") {
  json::value v = j(R"({"foo":["bar","baz"],"a":{"b":1}})");
  ts::apply_json_patch(v, j(R"([
    {"op":"add","path":"/foo/1","value":"qux"},
    {"op":"remove","path":"/a/b"},
    {"op":"add","path":"/foo/-","value":"end"},
    {"op":"replace","path":"/a","value":{"x~y/z":2}},
    {"op":"copy","from":"/a/x~0y~1z","path":"/c"},
    {"op":"move","from":"/c","path":"/d"},
    {"op":"test","path":"/d","value":2}])"));
  CHECK(v == j(R"({"foo":["bar","qux","baz","end"],"a":{"x~y/z":2},"d":2})"));
  json::value before = v;
  CHECK_THROWS_AS(ts::apply_json_patch(v, j(R"([{"op":"test","path":"/d","value":3}])")), ts::api_error);
  CHECK_THROWS_AS(ts::apply_json_patch(v, j(R"([{"op":"remove","path":"/nope"}])")), ts::api_error);
  CHECK_THROWS_AS(ts::apply_json_patch(v, j(R"([{"op":"frobnicate","path":"/d"}])")), ts::api_error);
}

TEST_CASE("strategic merge patch merges maps and keyed lists") {
  json::value pod = j(R"({"metadata":{"labels":{"a":"1"},"finalizers":["x"]},
    "spec":{"containers":[{"name":"app","image":"v1"},{"name":"side","image":"s1"}],"args":["a"]}})");
  ts::apply_strategic_merge_patch(pod, j(R"({"metadata":{"labels":{"b":"2"},"finalizers":["y"]},
    "spec":{"containers":[{"name":"app","image":"v2"},{"name":"side","$patch":"delete"}],"args":["b"]}})"));
  CHECK(pod == j(R"({"metadata":{"labels":{"a":"1","b":"2"},"finalizers":["x","y"]},
    "spec":{"containers":[{"name":"app","image":"v2"}],"args":["b"]}})"));
  json::value cm = j(R"({"data":{"a":"1","b":"2"}})");
  ts::apply_strategic_merge_patch(cm, j(R"({"data":{"$patch":"replace","c":"3"}})"));
  CHECK(cm == j(R"({"data":{"c":"3"}})"));
}

TEST_CASE("server-side apply tracks owners, conflicts and removals") {
  ts::field_manager_context alice{"alice", "v1", "", true, false};
  ts::field_manager_context bob{"bob", "v1", "", true, false};
  json::value live = j(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"k":"1"}})");
  json::value a1 = ts::server_side_apply(&live, j(R"({"apiVersion":"v1","kind":"ConfigMap","data":{"k":"1","mine":"a"}})"), alice, false);
  CHECK(a1.at_pointer("/data/mine") == "a");
  // Same value: shared ownership, no conflict.
  CHECK_NOTHROW(ts::server_side_apply(&a1, j(R"({"apiVersion":"v1","kind":"ConfigMap","data":{"mine":"a"}})"), bob, false));
  // Different value: 409 unless forced.
  try {
    ts::server_side_apply(&a1, j(R"({"apiVersion":"v1","kind":"ConfigMap","data":{"mine":"b"}})"), bob, false);
    FAIL("no conflict");
  } catch (const ts::api_error& e) {
    CHECK(e.code == 409);
    CHECK(std::string(e.what()).find("alice") != std::string::npos);
    CHECK(e.causes.size() == 1);
  }
  json::value b = ts::server_side_apply(&a1, j(R"({"apiVersion":"v1","kind":"ConfigMap","data":{"mine":"b"}})"), bob, true);
  CHECK(b.at_pointer("/data/mine") == "b");
  // alice no longer owns data.mine; dropping it from her config leaves bob's value.
  json::value a2 = ts::server_side_apply(&b, j(R"({"apiVersion":"v1","kind":"ConfigMap","data":{"k":"1"}})"), alice, false);
  CHECK(a2.at_pointer("/data/mine") == "b");
  // Dropping a field only alice owns removes it.
  json::value a3 = ts::server_side_apply(&a2, j(R"({"apiVersion":"v1","kind":"ConfigMap"})"), alice, false);
  CHECK(a3.at_pointer("/data").get_object().count("k") == 0);
  // A plain update hands changed fields to its manager.
  json::value upd = a3;
  upd.as_object()["data"].as_object()["mine"] = "u";
  ts::field_manager_context editor{"editor", "v1", "", true, false};
  ts::record_update(&a3, upd, editor);
  bool editor_owns = false, bob_owns = false;
  for (const auto& m : upd.at_pointer("/metadata/managedFields").as_array()) {
    auto fields = json::serialize(m.at("fieldsV1"));
    if (m.at("manager") == "editor") editor_owns = fields.find("f:mine") != std::string::npos;
    if (m.at("manager") == "bob") bob_owns = fields.find("f:mine") != std::string::npos;
  }
  CHECK(editor_owns);
  CHECK_FALSE(bob_owns);
}

TEST_CASE("label and field selectors") {
  ts::label_map labels{{"app", "chains"}, {"tier", "backend"}};
  auto match = [&](const char* text) {
    ts::label_selector s;
    std::string err;
    REQUIRE(s.parse(text, err));
    return s.matches(labels);
  };
  CHECK(match(""));
  CHECK(match("app=chains"));
  CHECK(match("app==chains,tier"));
  CHECK_FALSE(match("app!=chains"));
  CHECK(match("!missing"));
  CHECK_FALSE(match("missing"));
  CHECK(match("tier in (frontend, backend)"));
  CHECK_FALSE(match("tier notin (backend)"));
  ts::label_selector bad;
  std::string err;
  CHECK_FALSE(bad.parse("a in (b", err));

  ts::field_selector f;
  REQUIRE(f.parse("metadata.name=x,status.phase!=Running", err));
  CHECK_FALSE(f.metadata_only());
  CHECK(f.matches("ns", "x", R"({"status":{"phase":"Succeeded"}})"));
  CHECK_FALSE(f.matches("ns", "x", R"({"status":{"phase":"Running"}})"));
  CHECK_FALSE(f.matches("ns", "y", R"({})"));
}

TEST_CASE("YAML scalars are typed like kube's YAML decoder") {
  json::value v = ts::parse_json_or_yaml("a: 1\nb: \"1\"\nc: true\nd: 'true'\ne: ~\nf: 1.5\ng: text\nh: [x, 2]\n");
  CHECK(v == j(R"({"a":1,"b":"1","c":true,"d":"true","e":null,"f":1.5,"g":"text","h":["x",2]})"));
  auto docs = ts::parse_documents("---\na: 1\n---\n---\nb: 2\n");
  CHECK(docs.size() == 2);
  auto lines = ts::parse_documents("{\"a\":1}\n{\"b\":2}\n\n{\"c\":3}");
  CHECK(lines.size() == 3);
}

TEST_CASE("the router serves objects, lists and errors without sockets") {
  ts::resource_registry reg;
  ts::store st(reg, 100, 1000, false);
  st.ensure_namespace("default", false);
  ts::token_issuer issuer("https://kubernetes.default.svc");
  ts::api a(st, issuer, ts::api_options{});
  auto call = [&](std::string method, std::string target, std::string body = {},
                  std::string ct = "application/json") {
    ts::api_request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    r.content_type = std::move(ct);
    auto d = a.handle(r);
    REQUIRE(d.response);
    std::string text;
    for (const auto& p : d.response->parts) text += *p;
    return std::pair{d.response->status, j(text)};
  };
  auto [s1, created] = call("POST", "/apis/tekton.dev/v1/namespaces/default/taskruns",
                            R"({"metadata":{"name":"a","labels":{"x":"1"}},"spec":{},"status":{"podName":"p"}})");
  CHECK(s1 == 201);
  CHECK_FALSE(created.as_object().contains("status"));
  auto [s2, list] = call("GET", "/apis/tekton.dev/v1/taskruns?labelSelector=x%3D1");
  CHECK(s2 == 200);
  CHECK(list.at("kind") == "TaskRunList");
  CHECK(list.at("items").as_array().size() == 1);
  auto [s3, err] = call("GET", "/apis/tekton.dev/v1/namespaces/default/taskruns/nope");
  CHECK(s3 == 404);
  CHECK(err.at("reason") == "NotFound");
  CHECK(err.at_pointer("/details/kind") == "taskruns");
  auto [s4, disc] = call("GET", "/apis/tekton.dev/v1");
  CHECK(s4 == 200);
  CHECK(disc.at("resources").as_array().size() == 4);  // taskruns, /status, pipelineruns, /status
  ts::api_request w;
  w.method = "GET";
  w.target = "/apis/tekton.dev/v1/taskruns?watch=1&allowWatchBookmarks=true&timeoutSeconds=5";
  auto d = a.handle(w);
  REQUIRE(d.watch);
  CHECK(d.watch->bookmarks);
  CHECK(d.watch->timeout == std::chrono::seconds(5));
  auto stats = a.stats_json();
  CHECK(stats.at("verbs").at("create") == 1);
  CHECK(stats.at("verbs").at("watch") == 1);
}

TEST_CASE("metadata validation: kube's limits at their edges") {
  ts::resource_registry reg;
  const ts::resource_type& cm = reg.at(*reg.find("", "v1", "configmaps"));
  auto errors = [&](std::string_view md, bool creating = true) {
    std::vector<std::string> out;
    for (const auto& e : ts::validate_object_meta(cm, j(md).as_object(), creating)) out.push_back(e.field + ": " + e.body);
    return out;
  };
  CHECK(errors(R"({"name":"a.b-c","namespace":"default"})").empty());
  CHECK(errors(R"({"name":"x","namespace":"default","labels":{"example.com/A_b.c":"","k":"v-1.X_2"}})").empty());
  // Keys plus values: 262144 bytes pass, one more is refused.
  std::string ok = R"({"name":"x","namespace":"default","annotations":{"a":")" + std::string(262143, 'v') + R"("}})";
  CHECK(errors(ok).empty());
  std::string over = R"({"name":"x","namespace":"default","annotations":{"ab":")" + std::string(262143, 'v') + R"("}})";
  CHECK(errors(over) == std::vector<std::string>{"metadata.annotations: Too long: must have at most 262144 bytes"});
  // On update only labels and annotations are checked: the name cannot change.
  CHECK(errors(R"({"name":"Bad","labels":{"k":"-"}})", false) ==
        std::vector<std::string>{"metadata.labels: Invalid value: \"-\": a valid label must be an empty string or consist of "
                                 "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                                 "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                                 "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"});
  CHECK(errors(R"({"name":")" + std::string(254, 'a') + R"(","namespace":"default"})").size() == 1);
  CHECK(errors(R"({"name":"a..b","namespace":"default"})").size() == 1);
  CHECK(ts::go_quote("a\"b\\\n\x01") == R"("a\"b\\\n\x01")");
  try {
    ts::throw_invalid(cm, "x", {{"FieldValueInvalid", "metadata.labels", "one"}, {"FieldValueInvalid", "metadata.labels", "one"},
                                {"FieldValueTooLong", "metadata.annotations", "two"}});
  } catch (const ts::api_error& e) {
    // Repeated messages appear once in the text, every cause stays.
    CHECK(std::string(e.what()) == R"(ConfigMap "x" is invalid: [metadata.labels: one, metadata.annotations: two])");
    CHECK(e.details.at("causes").as_array().size() == 3);
    CHECK(e.details.at("kind") == "ConfigMap");
    CHECK_FALSE(e.details.contains("group"));
  }
}

TEST_CASE("protobuf bodies: the k8s envelope around a Secret, as kubectl 1.32 writes it") {
  // `kubectl create secret generic s1 --from-literal=user=admin --type=kubernetes.io/basic-auth`
  // (its -v=9 dump): every non-pointer field is written, empty ones too.
  const unsigned char wire[] = {
      0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0c, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x06, 0x53, 0x65, 0x63, 0x72, 0x65, 0x74, 0x12,
      0x3d, 0x0a, 0x12, 0x0a, 0x02, 0x73, 0x31, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00,
      0x42, 0x00, 0x12, 0x0d, 0x0a, 0x04, 0x75, 0x73, 0x65, 0x72, 0x12, 0x05, 0x61, 0x64, 0x6d, 0x69, 0x6e, 0x1a, 0x18,
      0x6b, 0x75, 0x62, 0x65, 0x72, 0x6e, 0x65, 0x74, 0x65, 0x73, 0x2e, 0x69, 0x6f, 0x2f, 0x62, 0x61, 0x73, 0x69, 0x63,
      0x2d, 0x61, 0x75, 0x74, 0x68, 0x1a, 0x00, 0x22, 0x00};
  json::value o = ts::decode_protobuf_object(std::string_view(reinterpret_cast<const char*>(wire), sizeof wire));
  CHECK(o == j(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s1"},"data":{"user":"YWRtaW4="},"type":"kubernetes.io/basic-auth"})"));
  // Truncated: a length beyond the end is a 400, not a crash.
  try {
    ts::decode_protobuf_object(std::string_view(reinterpret_cast<const char*>(wire), 30));
    FAIL("truncated body decoded");
  } catch (const ts::api_error& e) {
    CHECK(e.code == 400);
  }
  // An envelope of a kind without a decoder: 415.
  std::string pod = std::string("k8s\0", 4) + "\x0a\x09\x0a\x02v1\x12\x03Pod" + std::string("\x12\x00", 2);
  try {
    ts::decode_protobuf_object(pod);
    FAIL("Pod decoded");
  } catch (const ts::api_error& e) {
    CHECK(e.code == 415);
  }
}
