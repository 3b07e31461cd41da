#pragma once
// Runs several coroutines concurrently on one executor and waits for all of them. Exceptions
// are captured per task (first one rethrown by wait()); nothing is detached unobserved.
//
// Ownership: the group must outlive its tasks, i.e. co_await wait() before it goes out of scope.
// Cancellation: wait() is cancellable; tasks keep running (cancel them through their own slots).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>

#include <exception>

namespace chainsd::runtime {

class task_group {
 public:
  explicit task_group(boost::asio::any_io_executor ex) : ex_(ex), timer_(ex) {
    timer_.expires_at(boost::asio::steady_timer::time_point::max());
  }

  void spawn(boost::asio::awaitable<void> task) {
    ++pending_;
    auto done = [this](std::exception_ptr e) {
      if (e && !error_) error_ = e;
      if (--pending_ == 0) timer_.cancel();
    };
    boost::asio::co_spawn(ex_, std::move(task), done);
  }

  boost::asio::awaitable<void> wait() {
    while (pending_ > 0) co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (error_) std::rethrow_exception(error_);
  }

  std::size_t pending() const { return pending_; }

 private:
  boost::asio::any_io_executor ex_;
  boost::asio::steady_timer timer_;
  std::size_t pending_ = 0;
  std::exception_ptr error_;
};

}  // namespace chainsd::runtime
