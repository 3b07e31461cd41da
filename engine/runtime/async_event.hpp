#pragma once
// A level-triggered event for coroutines on one executor: set() wakes every waiter and later
// waits return at once. Single-threaded (call everything on the executor). The event must
// outlive its waiters.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <vector>

namespace chainsd::runtime {

class async_event {
 public:
  async_event() = default;
  async_event(const async_event&) = delete;
  async_event& operator=(const async_event&) = delete;

  void set();
  bool is_set() const noexcept { return set_; }

  // True once the event is set, false when `deadline` comes first. Cancellation (the awaiting
  // coroutine's slot) throws boost::system::system_error(operation_aborted).
  boost::asio::awaitable<bool> wait_until(std::chrono::steady_clock::time_point deadline);

 private:
  bool set_ = false;
  std::vector<boost::asio::steady_timer*> waiters_;  // each waiter's own timer, at its deadline
};

}  // namespace chainsd::runtime
