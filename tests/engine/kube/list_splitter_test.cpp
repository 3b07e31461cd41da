#include <catch2/catch.hpp>

#include "kube/list_splitter.hpp"

#include <string>
#include <vector>

using namespace chainsd::kube;

namespace {

struct collected {
  std::vector<std::string> raw;
  std::vector<object_meta> meta;
  std::vector<std::pair<std::string, std::size_t>> oversize;  // name, bytes
};

list_meta split(std::string_view body, std::size_t piece, std::size_t max_item, collected& out) {
  list_splitter s(
      max_item,
      [&](const object_meta& m, std::string_view raw) {
        out.meta.push_back(m);
        out.raw.emplace_back(raw);
      },
      [&](const object_meta& m, std::size_t bytes) { out.oversize.emplace_back(m.namespace_name + "/" + m.name, bytes); });
  for (std::size_t i = 0; i < body.size(); i += piece) s.feed(body.substr(i, piece));
  return s.finish();
}

const std::string item_a =
    R"({"apiVersion":"tekton.dev/v1","kind":"TaskRun","metadata":{"name":"a","namespace":"ns1","uid":"u-a",)"
    R"("resourceVersion":"11","annotations":{"name":"not-me","x":"}{][\"\\"},"ownerReferences":[{"name":"owner","uid":"o"}]},)"
    R"("spec":{"params":[{"name":"p","value":["}",{"metadata":{"name":"deep"}}]}]}})";
const std::string item_b = R"({"metadata":{"namespace":"ns2","name":"b\u0041\/","resourceVersion":"12","uid":"u-b"},"status":{}})";

std::string list_of(const std::vector<std::string>& items, std::string_view cont = "tok\\/en") {
  std::string s = R"({"kind":"TaskRunList","apiVersion":"tekton.dev/v1","metadata":{"resourceVersion":"99","continue":")" +
                  std::string(cont) + R"("},"items":[)";
  for (std::size_t i = 0; i < items.size(); ++i) s += (i ? ",\n  " : "") + items[i];
  return s + "]}\n";
}

}  // namespace

TEST_CASE("list_splitter: items come out whole, with their metadata, whatever the piece size") {
  const auto body = list_of({item_a, item_b});
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{64}, body.size()}) {
    collected c;
    auto lm = split(body, piece, 1 << 20, c);
    INFO("piece " << piece);
    CHECK(lm.resource_version == "99");
    CHECK(lm.continue_token == "tok/en");
    CHECK(lm.items == 2);
    REQUIRE(c.raw.size() == 2);
    CHECK(c.raw[0] == item_a);
    CHECK(c.raw[1] == item_b);
    CHECK(c.meta[0].name == "a");  // not the annotation, owner or spec "name"s
    CHECK(c.meta[0].namespace_name == "ns1");
    CHECK(c.meta[0].uid == "u-a");
    CHECK(c.meta[0].resource_version == "11");
    CHECK(c.meta[1].name == "bA/");
    CHECK(c.meta[1].namespace_name == "ns2");
    CHECK(c.oversize.empty());
  }
}

TEST_CASE("list_splitter: metadata after items, empty and null items") {
  collected c;
  auto lm = split(R"({"items":[)" + item_b + R"(],"metadata":{"resourceVersion":"5"}})", 3, 1 << 20, c);
  CHECK(lm.resource_version == "5");
  CHECK(lm.continue_token.empty());
  CHECK(c.raw.size() == 1);
  collected e;
  CHECK(split(R"({"metadata":{"resourceVersion":"6"},"items":[]})", 5, 100, e).items == 0);
  CHECK(split(R"({"metadata":{"resourceVersion":"6"},"items":null})", 5, 100, e).resource_version == "6");
  CHECK(e.raw.empty());
}

TEST_CASE("list_splitter: an item over the limit is skipped and named, the rest still come") {
  const std::string big = R"({"metadata":{"name":"huge","namespace":"ns"},"status":{"log":")" +
                          std::string(5000, 'x') + R"("}})";
  collected c;
  auto lm = split(list_of({item_a, big, item_b}), 100, 1000, c);
  CHECK(lm.items == 3);
  REQUIRE(c.raw.size() == 2);
  CHECK(c.raw[1] == item_b);
  REQUIRE(c.oversize.size() == 1);
  CHECK(c.oversize[0].first == "ns/huge");
  CHECK(c.oversize[0].second == big.size());
}

TEST_CASE("list_splitter: malformed bodies throw json_error") {
  collected c;
  CHECK_THROWS_AS(split(R"({"items":[{"a":1}])", 4, 100, c), json_error);   // unbalanced
  CHECK_THROWS_AS(split(R"({"items":[{"a":1}]})" "x", 4, 100, c), json_error);  // trailing bytes
  CHECK_THROWS_AS(split(R"({"items":[{"a":1})", 4, 100, c), json_error);    // truncated
  CHECK_THROWS_AS(split(R"([1,2])", 4, 100, c), json_error);                // not an object
}
