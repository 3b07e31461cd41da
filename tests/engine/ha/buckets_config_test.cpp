// Pure parts of engine/ha: lease names, the bucket function, the leader-election ConfigMap, Go
// durations, ownership and the holder identity. Expected buckets come from
// tests/engine/ha/knative_hash.py, a separate transliteration of knative's Go code.
#include <catch2/catch.hpp>

#include "ha/buckets.hpp"
#include "ha/election_config.hpp"
#include "ha/identity.hpp"
#include "ha/ownership.hpp"

#include <chrono>
#include <cstdlib>
#include <regex>

using namespace chainsd::ha;
using namespace std::chrono_literals;

namespace {

election_config with_buckets(std::uint32_t b) {
  election_config c;
  c.buckets = b;
  return c;
}

struct pin {
  const char* ns;
  const char* name;
  std::size_t bucket;
};

}  // namespace

TEST_CASE("lease names are Tekton Chains' (knative standardBucketName)") {
  auto one = lease_names(chains_component, taskrun_queue, with_buckets(1));
  REQUIRE(one == std::vector<std::string>{"watcher.github.com.tektoncd.chains.pkg.reconciler.taskrun.reconciler.00-of-01"});
  auto pr = lease_names(chains_component, pipelinerun_queue, with_buckets(10));
  REQUIRE(pr.size() == 10);
  CHECK(pr[0] == "watcher.github.com.tektoncd.chains.pkg.reconciler.pipelinerun.reconciler.00-of-10");
  CHECK(pr[9] == "watcher.github.com.tektoncd.chains.pkg.reconciler.pipelinerun.reconciler.09-of-10");

  // map-lease-prefix.<component>.<queue> (the key before lower-casing) renames; the result is lowered.
  election_config c = with_buckets(2);
  c.lease_name_prefixes["watcher.github.com.tektoncd.chains.pkg.reconciler.taskrun.Reconciler"] = "Chains-TR";
  auto renamed = lease_names(chains_component, taskrun_queue, c);
  CHECK(renamed == std::vector<std::string>{"chains-tr.00-of-02", "chains-tr.01-of-02"});
  // An empty mapping keeps the standard name (upstream: `ok && len(v) > 0`).
  c.lease_name_prefixes.begin()->second = "";
  CHECK(lease_names(chains_component, taskrun_queue, c)[0] ==
        "watcher.github.com.tektoncd.chains.pkg.reconciler.taskrun.reconciler.00-of-02");
}

TEST_CASE("FNV-1a 64 matches Go's hash/fnv New64a") {
  // Published FNV-1a 64 test vectors.
  CHECK(fnv1a("") == 0xcbf29ce484222325ull);
  CHECK(fnv1a("a") == 0xaf63dc4c8601ec8cull);
  CHECK(fnv1a("foobar") == 0x85944171f73967e8ull);
  // Streaming: hashing in pieces is hashing the concatenation.
  CHECK(fnv1a("bar", fnv1a("foo")) == fnv1a("foobar"));
}

TEST_CASE("bucket of a key matches knative's BucketSet.Owner (pinned by the Python transliteration)") {
  SECTION("TaskRun leases") {
    struct {
      std::uint32_t buckets;
      std::vector<pin> pins;
    } cases[] = {
        {2, {{"default", "build-1", 1}, {"default", "build-2", 0}, {"tekton-pipelines", "release-abc12", 1},
             {"team-a", "pr-7f3k", 1}, {"a", "b", 0}}},
        {6, {{"default", "build-1", 0}, {"default", "build-2", 2}, {"tekton-pipelines", "release-abc12", 1},
             {"team-a", "pr-7f3k", 2}, {"a", "b", 0}}},
        {10, {{"default", "build-1", 0}, {"default", "build-2", 8}, {"tekton-pipelines", "release-abc12", 3},
              {"team-a", "pr-7f3k", 8}, {"a", "b", 9}}},
    };
    for (const auto& c : cases) {
      bucket_set b(lease_names(chains_component, taskrun_queue, with_buckets(c.buckets)));
      for (const auto& p : c.pins) {
        INFO(c.buckets << " buckets, " << p.ns << "/" << p.name);
        CHECK(b.owner(p.ns, p.name) == p.bucket);
        CHECK(b.owner(std::string(p.ns) + "/" + p.name) == p.bucket);
      }
    }
  }
  SECTION("PipelineRun leases split keys differently (the names are hashed with the key)") {
    bucket_set b(lease_names(chains_component, pipelinerun_queue, with_buckets(6)));
    std::vector<pin> pins{{"default", "build-1", 0}, {"default", "build-2", 3}, {"tekton-pipelines", "release-abc12", 4},
                          {"team-a", "pr-7f3k", 3}, {"a", "b", 5}};
    for (const auto& p : pins) {
      INFO(p.ns << "/" << p.name);
      CHECK(b.owner(p.ns, p.name) == p.bucket);
    }
  }
  SECTION("names whose angles clash take the re-hash path") {
    // FNV-1a("bucket-12") and FNV-1a("bucket-180") agree in their low 11 bits, so for every key
    // their angles clash and the later name is re-hashed with the hash's hex digits appended.
    bucket_set b({"bucket-3", "bucket-180", "bucket-12"});
    REQUIRE(b.name(0) == "bucket-12");  // sorted
    std::vector<pin> pins{{"default", "build-1", 1}, {"default", "build-2", 0}, {"tekton-pipelines", "release-abc12", 0},
                          {"team-a", "pr-7f3k", 1}, {"a", "b", 2}, {"x", "y", 2}};
    for (const auto& p : pins) {
      INFO(p.ns << "/" << p.name);
      CHECK(b.owner(p.ns, p.name) == p.bucket);
    }
  }
  SECTION("one bucket owns everything") {
    bucket_set b(lease_names(chains_component, taskrun_queue, with_buckets(1)));
    CHECK(b.owner("any", "thing") == 0);
  }
  SECTION("index_of and limits") {
    bucket_set b({"b", "a", "a"});
    CHECK(b.size() == 2);
    CHECK(b.index_of("b") == 1);
    CHECK(b.index_of("c") == bucket_set::npos);
    CHECK_THROWS_AS(bucket_set(std::vector<std::string>{}), std::invalid_argument);
  }
}

TEST_CASE("buckets spread keys about evenly") {
  bucket_set b(lease_names(chains_component, taskrun_queue, with_buckets(6)));
  std::vector<int> count(6);
  for (int i = 0; i < 6000; ++i) ++count[b.owner("ns-" + std::to_string(i % 37), "run-" + std::to_string(i))];
  for (int c : count) CHECK((c > 600 && c < 1400));
}

TEST_CASE("leader-election ConfigMap: upstream defaults and keys") {
  const std::string src = "tekton-chains/tekton-chains-config-leader-election";
  auto d = parse_election_config({}, src);
  REQUIRE(d.ok());
  CHECK(d.value->buckets == 1);
  CHECK(d.value->lease_duration == 60s);
  CHECK(d.value->renew_deadline == 40s);
  CHECK(d.value->retry_period == 10s);

  auto r = parse_election_config({{"lease-duration", "15s"}, {"renew-deadline", "10s"}, {"retry-period", "2s"},
                                  {"buckets", "6"}, {"_example", "ignored"}},
                                 src);
  REQUIRE(r.ok());
  CHECK(r.warnings.empty());
  CHECK(r.value->lease_duration == 15s);
  CHECK(r.value->renew_deadline == 10s);
  CHECK(r.value->retry_period == 2s);
  CHECK(r.value->buckets == 6);

  // Legacy spellings are read first; the current ones win.
  auto legacy = parse_election_config({{"leaseDuration", "30s"}, {"lease-duration", "20s"}, {"renewDeadline", "15s"}}, src);
  REQUIRE(legacy.ok());
  CHECK(legacy.value->lease_duration == 20s);
  CHECK(legacy.value->renew_deadline == 15s);

  auto prefixed = parse_election_config(
      {{"map-lease-prefix.watcher.github.com.tektoncd.chains.pkg.reconciler.taskrun.Reconciler", "tr"}}, src);
  REQUIRE(prefixed.ok());
  CHECK(prefixed.value->lease_name_prefixes.at("watcher.github.com.tektoncd.chains.pkg.reconciler.taskrun.Reconciler") == "tr");

  auto unknown = parse_election_config({{"lease-duraton", "1m"}}, src);
  REQUIRE(unknown.ok());
  REQUIRE(unknown.warnings.size() == 1);
  CHECK(unknown.warnings[0].find("\"lease-duraton\"") != std::string::npos);
}

TEST_CASE("leader-election ConfigMap: errors name the ConfigMap, the key and the value") {
  const std::string src = "tekton-chains/tekton-chains-config-leader-election";
  auto bad = parse_election_config({{"lease-duration", "abc"}, {"buckets", "-1"}}, src);
  REQUIRE_FALSE(bad.ok());
  REQUIRE(bad.errors.size() == 2);
  CHECK(bad.errors[0] ==
        "leader-election ConfigMap tekton-chains/tekton-chains-config-leader-election: lease-duration: \"abc\" is not a "
        "duration (time: invalid duration \"abc\")");
  CHECK(bad.errors[1].find("buckets: \"-1\" is not a whole number between 1 and 10") != std::string::npos);

  for (const char* b : {"0", "11", "4294967295"}) {
    auto e = parse_election_config({{"buckets", b}}, src);
    REQUIRE_FALSE(e.ok());
    CHECK(e.errors[0].find(std::string("buckets: ") + b + " is out of range: it must be between 1 and 10") !=
          std::string::npos);
  }
  CHECK_FALSE(parse_election_config({{"buckets", "4294967296"}}, src).ok());  // beyond uint32
  CHECK_FALSE(parse_election_config({{"buckets", " 2"}}, src).ok());          // ParseUint takes no spaces
  CHECK(parse_election_config({{"buckets", "10"}}, src).ok());

  // client-go's NewLeaderElector conditions.
  auto order = parse_election_config({{"lease-duration", "10s"}, {"renew-deadline", "10s"}}, src);
  REQUIRE_FALSE(order.ok());
  CHECK(order.errors[0].find("lease-duration must be greater than renew-deadline (lease-duration 10s, renew-deadline 10s)") !=
        std::string::npos);
  auto jitter = parse_election_config({{"renew-deadline", "12s"}, {"retry-period", "10s"}}, src);
  REQUIRE_FALSE(jitter.ok());
  CHECK(jitter.errors[0].find("renew-deadline must be greater than 1.2 x retry-period") != std::string::npos);
  CHECK_FALSE(parse_election_config({{"retry-period", "0"}}, src).ok());
  auto tiny = parse_election_config({{"lease-duration", "900ms"}, {"renew-deadline", "500ms"}, {"retry-period", "100ms"}}, src);
  REQUIRE_FALSE(tiny.ok());
  CHECK(tiny.errors[0].find("lease-duration must be at least 1s") != std::string::npos);
  CHECK(parse_election_config({{"lease-duration", "2s"}, {"renew-deadline", "1.5s"}, {"retry-period", "200ms"}}, src).ok());
}

TEST_CASE("leader-election ConfigMap from the API response") {
  const std::string src = "ns/cm";
  chainsd::kube::result missing{404, R"({"kind":"Status","code":404,"reason":"NotFound"})"};
  auto d = election_config_from_response(missing, src);
  REQUIRE(d.ok());
  CHECK(d.value->buckets == 1);

  chainsd::kube::result cm{200, R"({"kind":"ConfigMap","metadata":{"name":"cm"},"data":{"buckets":"3","retry-period":"5s"}})"};
  auto r = election_config_from_response(cm, src);
  REQUIRE(r.ok());
  CHECK(r.value->buckets == 3);
  CHECK(r.value->retry_period == 5s);

  chainsd::kube::result forbidden{403, R"({"kind":"Status","code":403,"reason":"Forbidden","message":"no"})"};
  auto f = election_config_from_response(forbidden, src);
  REQUIRE_FALSE(f.ok());
  CHECK(f.errors[0] == "leader-election ConfigMap ns/cm: cannot be read: 403 Forbidden: no");
}

TEST_CASE("the ConfigMap name follows CONFIG_LEADERELECTION_NAME") {
  ::unsetenv("CONFIG_LEADERELECTION_NAME");
  CHECK(election_configmap_name() == "tekton-chains-config-leader-election");
  ::setenv("CONFIG_LEADERELECTION_NAME", "my-le", 1);
  CHECK(election_configmap_name() == "my-le");
  ::unsetenv("CONFIG_LEADERELECTION_NAME");
}

TEST_CASE("Go durations parse and print as time.ParseDuration / Duration.String") {
  struct {
    const char* text;
    std::int64_t ns;
  } ok[] = {{"0", 0},        {"5s", 5'000'000'000},  {"+5s", 5'000'000'000},   {"-5s", -5'000'000'000},
            {"1.5s", 1'500'000'000}, {".5s", 500'000'000}, {"5.s", 5'000'000'000}, {"1m30s", 90'000'000'000},
            {"1h", 3'600'000'000'000}, {"2h45m", 9'900'000'000'000}, {"300ms", 300'000'000},
            {"10us", 10'000}, {"10\xC2\xB5s", 10'000}, {"10\xCE\xBCs", 10'000}, {"7ns", 7},
            {"0.000000001s", 1}, {"9223372036854775807ns", INT64_MAX}, {"1.0000000000000000000000001s", 1'000'000'000}};
  for (const auto& c : ok) {
    INFO(c.text);
    std::string err;
    auto d = parse_go_duration(c.text, &err);
    REQUIRE(d);
    CHECK(d->count() == c.ns);
  }
  struct {
    const char* text;
    const char* err;
  } bad[] = {{"", "time: invalid duration \"\""},
             {"abc", "time: invalid duration \"abc\""},
             {"1", "time: missing unit in duration \"1\""},
             {"1x", "time: unknown unit \"x\" in duration \"1x\""},
             {"1 s", "time: unknown unit \" s\" in duration \"1 s\""},
             {".s", "time: invalid duration \".s\""},
             {"9223372036854775808ns", "time: invalid duration \"9223372036854775808ns\""},
             {"3000000h", "time: invalid duration \"3000000h\""}};
  for (const auto& c : bad) {
    INFO(c.text);
    std::string err;
    CHECK_FALSE(parse_go_duration(c.text, &err));
    CHECK(err == c.err);
  }
  CHECK(format_go_duration(0s) == "0s");
  CHECK(format_go_duration(60s) == "1m0s");
  CHECK(format_go_duration(1500ms) == "1.5s");
  CHECK(format_go_duration(200ms) == "200ms");
  CHECK(format_go_duration(std::chrono::hours(2) + 45min) == "2h45m0s");
  CHECK(format_go_duration(-1500us) == "-1.5ms");
  CHECK(format_go_duration(std::chrono::nanoseconds(7)) == "7ns");
}

TEST_CASE("ownership: held buckets decide, everything() owns all") {
  election_config c = with_buckets(6);
  ownership own(c);
  const auto tr = reconciler_kind::task_run;
  const auto pr = reconciler_kind::pipeline_run;
  CHECK_FALSE(own.owns(tr, "default", "build-2"));
  own.set_held(tr, 2, true);  // default/build-2 is TaskRun bucket 2 (pinned above)
  CHECK(own.owns(tr, "default", "build-2"));
  CHECK_FALSE(own.owns(tr, "default", "build-1"));
  CHECK_FALSE(own.owns(pr, "default", "build-2"));
  CHECK(own.held_count(tr) == 1);
  CHECK(own.held_list(tr) == "2");
  for (std::size_t i = 0; i < 6; ++i) own.set_held(tr, i, true);
  CHECK(own.owns(tr, "any", "run"));
  CHECK(own.held_list(tr) == "0,1,2,3,4,5");
  own.set_held(tr, 0, false);
  CHECK_FALSE(own.owns(tr, "default", "build-1"));
  own.set_held(tr, 99, true);  // out of range: ignored
  CHECK(own.held_count(tr) == 5);
  CHECK(own.bucket_of(pr, "a", "b") == 5);

  ownership all = ownership::everything();
  CHECK(all.disabled());
  CHECK(all.owns(tr, "x", "y"));
  CHECK(all.owns(pr, "x", "y"));
  CHECK(all.held_list(pr) == "all");
}

TEST_CASE("holder identity is the pod name, '_' and a UUID") {
  ::setenv("POD_NAME", "tekton-chains-controller-7d9f-abcde", 1);
  auto a = unique_identity();
  auto b = unique_identity();
  ::unsetenv("POD_NAME");
  std::regex shape("tekton-chains-controller-7d9f-abcde_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  CHECK(std::regex_match(a, shape));
  CHECK(a != b);
  CHECK(unique_identity().find('_') != std::string::npos);  // hostname when POD_NAME is unset
}
