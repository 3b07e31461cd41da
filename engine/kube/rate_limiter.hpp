#pragma once
// Client-side token bucket (QPS with a burst), like client-go's flowcontrol: protects the API
// server from a burst of reconciles. reserve() takes a token now and says how long the caller
// must wait before using it, so waiters are served in order without a queue.

#include <algorithm>
#include <chrono>

namespace chainsd::kube {

class rate_limiter {
 public:
  using clock = std::chrono::steady_clock;

  // qps <= 0 disables limiting.
  rate_limiter(double qps, double burst) : qps_(qps), burst_(std::max(1.0, burst)), tokens_(burst_) {}

  clock::duration reserve(clock::time_point now = clock::now()) {
    if (qps_ <= 0) return clock::duration::zero();
    if (last_ != clock::time_point{}) {
      double elapsed = std::chrono::duration<double>(now - last_).count();
      tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
    }
    last_ = now;
    tokens_ -= 1.0;
    if (tokens_ >= 0) return clock::duration::zero();
    return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(-tokens_ / qps_));
  }

 private:
  double qps_;
  double burst_;
  double tokens_;
  clock::time_point last_{};
};

}  // namespace chainsd::kube
