#include "ha/elector_state.hpp"

#include <algorithm>

namespace chainsd::ha {

elector_state::elector_state(std::string identity, elector_timing t) : identity_(std::move(identity)), timing_(t) {}

bool elector_state::is_leader() const noexcept { return observed_.holder_identity.value_or("") == identity_; }

bool elector_state::lease_valid(time_point now) const noexcept {
  auto secs = std::chrono::seconds(observed_.lease_duration_seconds.value_or(0));
  return observed_time_ + secs > now;
}

kube::lease_spec elector_state::own_record(const std::string& wall_now) const {
  kube::lease_spec s;
  s.holder_identity = identity_;
  // int(LeaseDuration / time.Second): whole seconds, truncated.
  s.lease_duration_seconds =
      static_cast<std::int32_t>(std::chrono::duration_cast<std::chrono::seconds>(timing_.lease_duration).count());
  s.acquire_time = wall_now;
  s.renew_time = wall_now;
  s.lease_transitions = 0;
  return s;
}

kube::lease_spec elector_state::renewal(const std::string& wall_now) const {
  kube::lease_spec s = own_record(wall_now);
  s.acquire_time = observed_.acquire_time;
  s.lease_transitions = observed_.lease_transitions.value_or(0);
  return s;
}

void elector_state::observe(time_point at, const kube::lease_spec& spec) {
  observed_ = spec;
  observed_time_ = at;
}

elector_state::decision elector_state::decide(time_point now, time_point observed_at, const std::string& wall_now,
                                              const kube::lease* current) {
  decision d;
  d.spec = own_record(wall_now);
  if (!current) {
    d.what = step::create;
    return d;
  }
  const kube::lease_spec& fresh = current->spec;
  if (!observed_raw_ || *observed_raw_ != fresh) {
    observe(observed_at, fresh);
    observed_raw_ = fresh;
  }
  if (!fresh.holder_identity.value_or("").empty() && lease_valid(now) && !is_leader()) {
    d.what = step::held_elsewhere;
    return d;
  }
  if (is_leader()) {
    d.spec.acquire_time = fresh.acquire_time;
    d.spec.lease_transitions = fresh.lease_transitions.value_or(0);
  } else {
    d.spec.lease_transitions = fresh.lease_transitions.value_or(0) + 1;
  }
  d.what = step::update;
  return d;
}

void elector_state::written(time_point at, const kube::lease_spec& spec) { observe(at, spec); }

std::optional<kube::lease_spec> elector_state::release(const kube::lease& current, const std::string& wall_now) const {
  if (current.spec.holder_identity.value_or("") != identity_) return std::nullopt;
  kube::lease_spec s;
  s.holder_identity = "";
  s.lease_duration_seconds = 1;
  s.acquire_time = wall_now;
  s.renew_time = wall_now;
  s.lease_transitions = current.spec.lease_transitions.value_or(0);
  return s;
}

elector_state::time_point elector_state::give_up_at(time_point poll_start, time_point last_write_sent) const noexcept {
  auto by_poll = poll_start + timing_.renew_deadline;
  auto by_write = last_write_sent + timing_.lease_duration - timing_.retry_period;
  return std::min(by_poll, by_write);
}

std::chrono::nanoseconds elector_state::acquire_pause(double u) const noexcept {
  auto r = static_cast<double>(timing_.retry_period.count());
  return std::chrono::nanoseconds(timing_.retry_period.count() + static_cast<std::int64_t>(u * 1.2 * r));
}

}  // namespace chainsd::ha
