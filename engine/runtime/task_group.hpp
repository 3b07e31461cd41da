#pragma once
// Runs several coroutines concurrently on one executor and waits for all of them. Exceptions
// are captured per task (first one rethrown by wait()); nothing is detached unobserved.
//
// Ownership: the group's state is shared with its tasks' completion handlers, so a task that
// completes (or is destroyed with its io_context) after the group is gone touches nothing freed.
// Cancellation: wait() is cancellable; tasks keep running (cancel them through their own slots).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <memory>

namespace chainsd::runtime {

class task_group {
 public:
  explicit task_group(boost::asio::any_io_executor ex) : ex_(ex), state_(std::make_shared<state>(ex)) {}

  void spawn(boost::asio::awaitable<void> task) {
    ++state_->pending;
    auto done = [s = state_](std::exception_ptr e) {
      if (e && !s->error) s->error = e;
      if (--s->pending == 0) s->timer.cancel();
    };
    boost::asio::co_spawn(ex_, std::move(task), done);
  }

  boost::asio::awaitable<void> wait() {
    auto s = state_;
    while (s->pending > 0) co_await s->timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (s->error) std::rethrow_exception(s->error);
  }

  std::size_t pending() const { return state_->pending; }

 private:
  struct state {
    explicit state(boost::asio::any_io_executor ex) : timer(ex) {
      timer.expires_at(boost::asio::steady_timer::time_point::max());
    }
    boost::asio::steady_timer timer;
    std::size_t pending = 0;
    std::exception_ptr error;
  };
  boost::asio::any_io_executor ex_;
  std::shared_ptr<state> state_;
};

}  // namespace chainsd::runtime
