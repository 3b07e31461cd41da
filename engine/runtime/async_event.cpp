#include "runtime/async_event.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>

namespace chainsd::runtime {

void async_event::set() {
  set_ = true;
  for (auto* t : waiters_) t->cancel();
}

boost::asio::awaitable<bool> async_event::wait_until(std::chrono::steady_clock::time_point deadline) {
  if (set_) co_return true;
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, deadline);
  waiters_.push_back(&t);
  co_await t.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &t));
  if (set_) co_return true;
  auto cs = co_await boost::asio::this_coro::cancellation_state;
  if (cs.cancelled() != boost::asio::cancellation_type::none)
    throw boost::system::system_error(boost::asio::error::operation_aborted);
  co_return false;
}

}  // namespace chainsd::runtime
