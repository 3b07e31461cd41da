#pragma once
// A one-loop event coroutines wait on: wait() returns at once while the event is set, else when
// set() is called (every waiter is woken). reset() makes later waits block again. Built on a
// steady_timer that never expires on its own, so waiting costs no thread and no polling.
//
// Ownership: waiters must not outlive the event (hold it in a shared_ptr when they might).
// Cancellation: a waiter whose coroutine is cancelled returns from wait() early; callers re-check
// the state they waited for after every wait(), as for any co_await. Not thread-safe: all calls
// on the executor's thread.

#include "chainsd/plugin/config.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace chainsd::plugin {

class async_event {
 public:
  explicit async_event(boost::asio::any_io_executor ex) : timer_(std::move(ex)) {
    timer_.expires_at(boost::asio::steady_timer::time_point::max());
  }

  bool is_set() const { return set_; }
  void set() {
    set_ = true;
    timer_.cancel();  // wakes every waiter
  }
  void reset() {
    set_ = false;
    timer_.expires_at(boost::asio::steady_timer::time_point::max());
  }
  boost::asio::awaitable<void> wait() {
    if (set_) co_return;
    auto [ec] = co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    (void)ec;  // operation_aborted: set() was called (or the waiter was cancelled)
  }

 private:
  bool set_ = false;
  boost::asio::steady_timer timer_;
};

}  // namespace chainsd::plugin
