#pragma once
// The time source of queues and deadlines, injectable so that tests advance time instead of
// sleeping. Everything that decides "is it due yet?" asks a clock; only the final wait on the
// event loop uses a real timer (for a manual clock, advance() wakes whoever subscribed).
//
// Threading: used on the executor's thread only. Ownership: a clock outlives its users.

#include <chrono>
#include <functional>
#include <utility>
#include <vector>

namespace chainsd::runtime {

class clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;
  virtual ~clock() = default;
  virtual time_point now() const = 0;
  // Called after time moved by other means than waiting (manual clocks); real clocks never call it.
  virtual void on_advance(std::function<void()> f) { (void)f; }
};

class steady_clock final : public clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
};

// The process's real clock.
inline clock& real_clock() {
  static steady_clock c;
  return c;
}

// A clock that moves only when told to (tests).
class manual_clock final : public clock {
 public:
  time_point now() const override { return now_; }
  void on_advance(std::function<void()> f) override { listeners_.push_back(std::move(f)); }
  void advance(duration d) {
    now_ += d;
    for (auto& f : listeners_) f();
  }

 private:
  time_point now_ = std::chrono::steady_clock::time_point{} + std::chrono::hours(24);
  std::vector<std::function<void()>> listeners_;
};

}  // namespace chainsd::runtime
