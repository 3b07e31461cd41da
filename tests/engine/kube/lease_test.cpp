// engine/kube/lease.hpp without a server: parsing, request bodies, MicroTime.
#include <catch2/catch.hpp>

#include "kube/lease.hpp"

#include <boost/json.hpp>

using namespace chainsd::kube;
namespace json = boost::json;

TEST_CASE("a Lease as the API server returns it") {
  const char* body = R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
    "metadata":{"name":"l","namespace":"ns","uid":"u-1","resourceVersion":"42","labels":{"a":"b"},
                "managedFields":[{"manager":"chains"}]},
    "spec":{"holderIdentity":"pod_1","leaseDurationSeconds":60,"acquireTime":"2026-01-02T03:04:05.123456Z",
            "renewTime":"2026-01-02T03:04:15.000001Z","leaseTransitions":3}})";
  lease l = parse_lease(body);
  CHECK(l.namespace_name == "ns");
  CHECK(l.name == "l");
  CHECK(l.uid == "u-1");
  CHECK(l.resource_version == "42");
  CHECK(*l.spec.holder_identity == "pod_1");
  CHECK(*l.spec.lease_duration_seconds == 60);
  CHECK(*l.spec.acquire_time == "2026-01-02T03:04:05.123456Z");
  CHECK(*l.spec.renew_time == "2026-01-02T03:04:15.000001Z");
  CHECK(*l.spec.lease_transitions == 3);
  CHECK_FALSE(l.spec.strategy);

  // Absent spec fields stay unset; a Lease with no spec at all is valid.
  lease bare = parse_lease(R"({"metadata":{"name":"x","namespace":"ns","resourceVersion":"1"}})");
  CHECK_FALSE(bare.spec.holder_identity);
  CHECK_FALSE(bare.spec.lease_duration_seconds);

  CHECK_THROWS_WITH(parse_lease(R"({"metadata":{},"spec":{"holderIdentity":5}})"),
                    "spec.holderIdentity is not a string");
  CHECK_THROWS_WITH(parse_lease(R"({"metadata":{},"spec":{"leaseDurationSeconds":"60"}})"),
                    "spec.leaseDurationSeconds is not an integer");
  CHECK_THROWS_WITH(parse_lease(R"({"metadata":{},"spec":{"leaseTransitions":4294967296}})"),
                    "spec.leaseTransitions is out of the int32 range");
  CHECK_THROWS_AS(parse_lease("not json"), lease_error);
  CHECK_THROWS_WITH(parse_lease(R"({"spec":{}})"), "lease body has no metadata object");
}

TEST_CASE("create and update bodies") {
  lease_spec s;
  s.holder_identity = "";
  s.lease_duration_seconds = 1;
  s.acquire_time = "T";
  s.renew_time = "T";
  s.lease_transitions = 2;
  auto c = json::parse(lease_create_body("ns", "name", s)).as_object();
  CHECK(c.at("apiVersion") == "coordination.k8s.io/v1");
  CHECK(c.at("kind") == "Lease");
  CHECK(c.at("metadata").at("name") == "name");
  CHECK(c.at("metadata").at("namespace") == "ns");
  // A released lease carries holderIdentity "" (client-go sends the pointer to an empty string).
  CHECK(c.at("spec").at("holderIdentity") == "");
  CHECK(c.at("spec").at("leaseDurationSeconds") == 1);
  CHECK_FALSE(c.at("spec").as_object().contains("preferredHolder"));

  lease cur = parse_lease(R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
    "metadata":{"name":"l","namespace":"ns","resourceVersion":"42","labels":{"a":"b"}},
    "spec":{"holderIdentity":"old","preferredHolder":"p","strategy":"OldestEmulationVersion"}})");
  lease_spec mine;
  mine.holder_identity = "me";
  auto u = json::parse(lease_update_body(cur, mine)).as_object();
  // Metadata goes back as read (resourceVersion = the precondition, labels kept)...
  CHECK(u.at("metadata").at("resourceVersion") == "42");
  CHECK(u.at("metadata").at("labels").at("a") == "b");
  // ...and the spec is replaced as a whole, as client-go's LeaseLock.Update does.
  CHECK(u.at("spec").as_object().size() == 1);
  CHECK(u.at("spec").at("holderIdentity") == "me");
}

TEST_CASE("MicroTime: six fraction digits in UTC, any RFC 3339 read") {
  using namespace std::chrono;
  system_clock::time_point t{seconds(1767323045) + microseconds(123456)};  // 2026-01-02T03:04:05.123456Z
  CHECK(format_micro_time(t) == "2026-01-02T03:04:05.123456Z");
  CHECK(format_micro_time(system_clock::time_point{seconds(0)}) == "1970-01-01T00:00:00.000000Z");
  CHECK(parse_micro_time("2026-01-02T03:04:05.123456Z") == t);
  CHECK(parse_micro_time("2026-01-02T05:04:05.123456+02:00") == t);
  CHECK(parse_micro_time("2026-01-02T03:04:05Z") == system_clock::time_point{seconds(1767323045)});
  CHECK(parse_micro_time("2026-01-02T03:04:05.5Z") == system_clock::time_point{seconds(1767323045) + milliseconds(500)});
  CHECK(parse_micro_time("2024-02-29T00:00:00Z") == system_clock::time_point{seconds(1709164800)});
  for (const char* bad : {"", "2026-01-02", "2026-01-02 03:04:05Z", "2026-13-02T03:04:05Z", "2026-01-02T03:04:05",
                          "2026-01-02T03:04:05.Z", "2026-01-02T03:04:05Zjunk", "2026-01-02T03:04:05+0200"})
    CHECK_FALSE(parse_micro_time(bad));
  // Round trip over a range of times.
  for (std::int64_t us = 0; us < 4'000'000'000'000'000; us += 97'000'000'001'337) {
    system_clock::time_point x{duration_cast<system_clock::duration>(microseconds(us))};
    INFO(us);
    CHECK(parse_micro_time(format_micro_time(x)) == x);
  }
}
