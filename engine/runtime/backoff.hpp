#pragma once
// Exponential backoff with full jitter, for retries of watches and requests.

#include <chrono>
#include <cstdint>
#include <random>

namespace chainsd::runtime {

class backoff {
 public:
  backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, double factor = 2.0)
      : initial_(initial), max_(max), factor_(factor), current_(initial) {}

  // The next delay: uniform in [current/2, current], then current grows by `factor` up to max.
  std::chrono::milliseconds next() {
    auto cur = current_.count();
    std::uniform_int_distribution<std::int64_t> dist(cur / 2, cur);
    auto d = std::chrono::milliseconds(dist(*rng_));
    auto grown = static_cast<std::int64_t>(static_cast<double>(cur) * factor_);
    current_ = std::chrono::milliseconds(grown > max_.count() ? max_.count() : grown);
    return d;
  }
  void reset() { current_ = initial_; }

 private:
  std::chrono::milliseconds initial_, max_;
  double factor_;
  std::chrono::milliseconds current_;
  // Seeded once per thread: std::random_device opens /dev/urandom, too slow for every request.
  static std::minstd_rand& seeded_rng() {
    thread_local std::minstd_rand rng{std::random_device{}()};
    return rng;
  }
  std::minstd_rand* rng_ = &seeded_rng();
};

}  // namespace chainsd::runtime
