#pragma once
// Runs several coroutines concurrently on one executor and waits for all of them. Exceptions
// are captured per task (first one rethrown by wait()); nothing is detached unobserved.
//
// Ownership: the group's state is shared with its tasks' completion handlers, so a task that
// completes (or is destroyed with its io_context) after the group is gone touches nothing freed.
// Tasks must not borrow from the frame that owns the group unless that frame outlives them: a
// cancelled wait() returns before they have finished.
// Cancellation: each task has its own cancellation slot. cancel() emits a terminal cancellation
// to every task still running; a wait() that is itself cancelled does the same, then throws
// operation_aborted (so cancelling the awaiting coroutine cancels its tasks too).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <list>
#include <memory>
#include <vector>

namespace chainsd::runtime {

class task_group {
 public:
  explicit task_group(boost::asio::any_io_executor ex) : ex_(ex), state_(std::make_shared<state>(ex)) {}

  void spawn(boost::asio::awaitable<void> task) {
    ++state_->pending;
    auto sig = state_->signals.emplace(state_->signals.end());
    auto done = [s = state_, sig](std::exception_ptr e) {
      if (e && !s->error) s->error = e;
      s->signals.erase(sig);
      if (--s->pending == 0) s->timer.cancel();
    };
    boost::asio::co_spawn(ex_, std::move(task), boost::asio::bind_cancellation_slot(sig->slot(), done));
  }

  // Terminal cancellation of every task still running (they finish on their own schedule).
  void cancel() {
    // A task's completion erases its signal: iterate over a copy of the positions.
    std::vector<boost::asio::cancellation_signal*> live;
    for (auto& s : state_->signals) live.push_back(&s);
    for (auto* s : live) s->emit(boost::asio::cancellation_type::terminal);
  }

  boost::asio::awaitable<void> wait() {
    auto s = state_;
    while (s->pending > 0) {
      auto [ec] = co_await s->timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec && s->pending > 0 && is_cancelled(co_await boost::asio::this_coro::cancellation_state)) {
        cancel();
        throw boost::system::system_error(boost::asio::error::operation_aborted);
      }
    }
    if (s->error) std::rethrow_exception(s->error);
  }

  std::size_t pending() const { return state_->pending; }

 private:
  static bool is_cancelled(boost::asio::cancellation_state st) {
    return st.cancelled() != boost::asio::cancellation_type::none;
  }
  struct state {
    explicit state(boost::asio::any_io_executor ex) : timer(ex) {
      timer.expires_at(boost::asio::steady_timer::time_point::max());
    }
    boost::asio::steady_timer timer;
    std::size_t pending = 0;
    std::exception_ptr error;
    std::list<boost::asio::cancellation_signal> signals;  // one per running task (stable addresses)
  };
  boost::asio::any_io_executor ex_;
  std::shared_ptr<state> state_;
};

}  // namespace chainsd::runtime
