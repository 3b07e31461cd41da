// client-go's tryAcquireOrRenew bookkeeping (engine/ha/elector_state.hpp) driven by a fake
// clock: every time point is made up, nothing sleeps.
#include <catch2/catch.hpp>

#include "ha/elector_state.hpp"

using namespace chainsd::ha;
using chainsd::kube::lease;
using chainsd::kube::lease_spec;
using namespace std::chrono_literals;
using step = elector_state::step;

namespace {

const elector_timing timing{2s, 1500ms, 200ms};
const std::chrono::steady_clock::time_point t0{std::chrono::hours(1)};

lease held_by(const std::string& holder, std::int32_t seconds, const std::string& renew, std::int32_t transitions = 0) {
  lease l;
  l.namespace_name = "ns";
  l.name = "l";
  l.resource_version = "7";
  l.spec.holder_identity = holder;
  l.spec.lease_duration_seconds = seconds;
  l.spec.acquire_time = "2026-01-01T00:00:00.000000Z";
  l.spec.renew_time = renew;
  l.spec.lease_transitions = transitions;
  return l;
}

}  // namespace

TEST_CASE("no lease: create our record") {
  elector_state s("me", timing);
  auto d = s.decide(t0, t0 + 5ms, "W", nullptr);
  REQUIRE(d.what == step::create);
  CHECK(*d.spec.holder_identity == "me");
  CHECK(*d.spec.lease_duration_seconds == 2);
  CHECK(*d.spec.acquire_time == "W");
  CHECK(*d.spec.renew_time == "W");
  CHECK(*d.spec.lease_transitions == 0);
  s.written(t0 + 10ms, d.spec);
  CHECK(s.is_leader());
  CHECK(s.lease_valid(t0 + 2009ms));
  CHECK_FALSE(s.lease_valid(t0 + 2010ms));
  CHECK(s.fast_path(t0 + 1s));
  auto r = s.renewal("W2");
  CHECK(*r.acquire_time == "W");  // kept
  CHECK(*r.renew_time == "W2");
  CHECK(*r.lease_transitions == 0);
}

TEST_CASE("a lease held by another is respected until it goes unrenewed for its duration") {
  elector_state s("me", timing);
  auto other = held_by("other", 2, "2026-01-01T00:00:01.000000Z", 4);
  CHECK(s.decide(t0, t0 + 1ms, "W", &other).what == step::held_elsewhere);
  CHECK(s.observed_holder() == "other");
  // The same record read again does not refresh the observation time...
  CHECK(s.decide(t0 + 1500ms, t0 + 1501ms, "W", &other).what == step::held_elsewhere);
  CHECK(s.observed_time() == t0 + 1ms);
  // ...a renewal (any change, even sub-second) does.
  auto renewed = other;
  renewed.spec.renew_time = "2026-01-01T00:00:01.200000Z";
  CHECK(s.decide(t0 + 1900ms, t0 + 1901ms, "W", &renewed).what == step::held_elsewhere);
  CHECK(s.observed_time() == t0 + 1901ms);
  // Unchanged for 2 s since we saw it change: take it over, one more transition.
  CHECK(s.decide(t0 + 3900ms, t0 + 3901ms, "W", &renewed).what == step::held_elsewhere);
  auto d = s.decide(t0 + 3902ms, t0 + 3903ms, "W", &renewed);
  REQUIRE(d.what == step::update);
  CHECK(*d.spec.holder_identity == "me");
  CHECK(*d.spec.lease_transitions == 5);
  CHECK(*d.spec.acquire_time == "W");
}

TEST_CASE("the holder's own leaseDurationSeconds counts, not ours") {
  elector_state s("me", timing);
  auto other = held_by("other", 10, "R");
  s.decide(t0, t0, "W", &other);
  CHECK(s.decide(t0 + 9s, t0 + 9s, "W", &other).what == step::held_elsewhere);
  CHECK(s.decide(t0 + 10s, t0 + 10s, "W", &other).what == step::update);
}

TEST_CASE("a released lease (empty holder) is taken at once") {
  elector_state s("me", timing);
  auto released = held_by("", 1, "R", 3);
  auto d = s.decide(t0, t0, "W", &released);
  REQUIRE(d.what == step::update);
  CHECK(*d.spec.lease_transitions == 4);
}

TEST_CASE("our own record read back is a renewal: acquireTime and transitions kept") {
  elector_state s("me", timing);
  auto mine = held_by("me", 2, "R", 6);
  mine.spec.acquire_time = "A";
  auto d = s.decide(t0, t0, "W", &mine);
  REQUIRE(d.what == step::update);
  CHECK(*d.spec.acquire_time == "A");
  CHECK(*d.spec.lease_transitions == 6);
}

TEST_CASE("a leader that sees another holder stops being leader") {
  elector_state s("me", timing);
  s.written(t0, s.decide(t0, t0, "W", nullptr).spec);
  REQUIRE(s.is_leader());
  auto taken = held_by("other", 2, "R2", 1);
  CHECK(s.decide(t0 + 500ms, t0 + 501ms, "W", &taken).what == step::held_elsewhere);
  CHECK_FALSE(s.is_leader());
  CHECK_FALSE(s.fast_path(t0 + 600ms));
}

TEST_CASE("release writes an empty holder with a 1 s lease, only over our own record") {
  elector_state s("me", timing);
  auto mine = held_by("me", 2, "R", 6);
  auto r = s.release(mine, "W");
  REQUIRE(r);
  CHECK(*r->holder_identity == "");
  CHECK(*r->lease_duration_seconds == 1);
  CHECK(*r->acquire_time == "W");
  CHECK(*r->renew_time == "W");
  CHECK(*r->lease_transitions == 6);
  CHECK_FALSE(s.release(held_by("other", 2, "R"), "W"));
}

TEST_CASE("give-up time: client-go's renew deadline, capped by the last write") {
  elector_state s("me", timing);
  // Fast writes: the poll starts a retry period after the write; client-go's deadline applies.
  CHECK(s.give_up_at(t0 + 200ms, t0) == t0 + 1700ms);
  // A write that answered late (or a stalled loop): lease-duration - retry-period after it was sent.
  CHECK(s.give_up_at(t0 + 1s, t0) == t0 + 1800ms);
  // Whatever happens, before anyone could take the lease over (sent + lease-duration).
  for (std::chrono::milliseconds start : {0ms, 100ms, 500ms, 1900ms, 5000ms}) CHECK(s.give_up_at(t0 + start, t0) < t0 + 2s);
  // renew-deadline + retry-period > lease-duration (client-go would overlap): still capped.
  elector_state wide("me", elector_timing{60s, 55s, 10s});
  CHECK(wide.give_up_at(t0 + 10s, t0) == t0 + 50s);
}

TEST_CASE("acquire pause: retry-period plus up to 1.2 x jitter") {
  elector_state s("me", timing);
  CHECK(s.acquire_pause(0.0) == 200ms);
  CHECK(s.acquire_pause(0.5) == 320ms);
  CHECK(s.acquire_pause(0.999999) < 440ms);
}
