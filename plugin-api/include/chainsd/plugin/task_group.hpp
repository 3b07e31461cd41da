#pragma once
// Runs several coroutines concurrently on the host's executor and waits for all of them, for
// plugins that fan out (one push per image, one request per key). Exceptions are captured per
// task (the first is rethrown by wait()); nothing is detached unobserved. The engine's own
// runtime::task_group has the same contract.
//
// Ownership: the group's state is shared with its tasks' completion handlers, so a task that
// completes (or is destroyed with its io_context) after the group is gone touches nothing freed.
// Tasks must not borrow from the frame that owns the group unless that frame outlives them: a
// cancelled wait() returns before they have finished (a plugin whose tasks use the instance makes
// close() wait for them).
// Cancellation: each task has its own cancellation slot. cancel() emits a terminal cancellation
// to every task still running; a wait() that is itself cancelled does the same, then throws
// operation_aborted. Not thread-safe: all calls on the executor's thread.

#include "chainsd/plugin/config.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <exception>
#include <list>
#include <memory>
#include <vector>

namespace chainsd::plugin {

class task_group {
 public:
  explicit task_group(boost::asio::any_io_executor ex) : ex_(ex), state_(std::make_shared<state>(ex)) {}

  void spawn(boost::asio::awaitable<void> task) {
    ++state_->pending;
    auto slot = state_->signals.emplace(state_->signals.end());
    auto finished = [s = state_, slot](std::exception_ptr e) {
      if (e && !s->first_error) s->first_error = e;
      s->signals.erase(slot);
      if (--s->pending == 0) s->all_done.cancel();
    };
    boost::asio::co_spawn(ex_, std::move(task), boost::asio::bind_cancellation_slot(slot->slot(), finished));
  }

  // Terminal cancellation of every task still running (they end on their own schedule).
  void cancel() {
    std::vector<boost::asio::cancellation_signal*> running;  // a finishing task erases its own
    for (auto& s : state_->signals) running.push_back(&s);
    for (auto* s : running) s->emit(boost::asio::cancellation_type::terminal);
  }

  // Returns when every task has finished; rethrows the first exception one of them threw.
  boost::asio::awaitable<void> wait() {
    auto s = state_;
    while (s->pending > 0) {
      auto [ec] = co_await s->all_done.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (!ec || s->pending == 0) continue;
      auto cs = co_await boost::asio::this_coro::cancellation_state;
      if (cs.cancelled() != boost::asio::cancellation_type::none) {
        cancel();
        throw boost::system::system_error(boost::asio::error::operation_aborted);
      }
    }
    if (s->first_error) std::rethrow_exception(s->first_error);
  }

  std::size_t pending() const { return state_->pending; }

 private:
  struct state {
    explicit state(boost::asio::any_io_executor ex) : all_done(ex) {
      all_done.expires_at(boost::asio::steady_timer::time_point::max());
    }
    boost::asio::steady_timer all_done;
    std::size_t pending = 0;
    std::exception_ptr first_error;
    std::list<boost::asio::cancellation_signal> signals;  // one per running task (stable addresses)
  };
  boost::asio::any_io_executor ex_;
  std::shared_ptr<state> state_;
};

}  // namespace chainsd::plugin
