// The async event on a real io_context: waiters block until set(), all of them wake, a set event
// does not block, reset() blocks again, and a cancelled waiter returns.
#include <chainsd/plugin/async_event.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <memory>

namespace asio = boost::asio;
using chainsd::plugin::async_event;

namespace {

asio::awaitable<void> wait_and_count(std::shared_ptr<async_event> e, std::shared_ptr<int> woken) {
  co_await e->wait();
  ++*woken;
}

// Completion of a spawned waiter: it must not have thrown.
void finished(std::exception_ptr e) { CHECK_FALSE(e); }

}  // namespace

TEST_CASE("every waiter wakes when the event is set, not before") {
  asio::io_context ctx;
  auto e = std::make_shared<async_event>(ctx.get_executor());
  auto woken = std::make_shared<int>(0);
  for (int i = 0; i < 3; ++i) asio::co_spawn(ctx, wait_and_count(e, woken), finished);
  ctx.run_for(std::chrono::milliseconds(20));
  CHECK(*woken == 0);
  CHECK_FALSE(e->is_set());
  e->set();
  ctx.restart();
  ctx.run_for(std::chrono::milliseconds(20));
  CHECK(*woken == 3);
  CHECK(e->is_set());
}

TEST_CASE("a set event does not block; reset() blocks again") {
  asio::io_context ctx;
  auto e = std::make_shared<async_event>(ctx.get_executor());
  auto woken = std::make_shared<int>(0);
  e->set();
  asio::co_spawn(ctx, wait_and_count(e, woken), finished);
  ctx.run_for(std::chrono::milliseconds(20));
  CHECK(*woken == 1);
  e->reset();
  CHECK_FALSE(e->is_set());
  asio::co_spawn(ctx, wait_and_count(e, woken), finished);
  ctx.restart();
  ctx.run_for(std::chrono::milliseconds(20));
  CHECK(*woken == 1);
  e->set();
  ctx.restart();
  ctx.run_for(std::chrono::milliseconds(20));
  CHECK(*woken == 2);
}

TEST_CASE("a cancelled waiter returns without the event") {
  asio::io_context ctx;
  auto e = std::make_shared<async_event>(ctx.get_executor());
  auto woken = std::make_shared<int>(0);
  asio::cancellation_signal cancel;
  asio::co_spawn(ctx, wait_and_count(e, woken), asio::bind_cancellation_slot(cancel.slot(), finished));
  ctx.run_for(std::chrono::milliseconds(20));
  CHECK(*woken == 0);
  cancel.emit(asio::cancellation_type::terminal);
  ctx.restart();
  ctx.run_for(std::chrono::milliseconds(20));
  CHECK(*woken == 1);  // returned (callers re-check what they waited for)
  CHECK_FALSE(e->is_set());
}
