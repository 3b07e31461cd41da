// The task group on a real io_context: tasks run concurrently, wait() returns when all are done,
// the first exception is rethrown after all finished, a cancelled wait() cancels the tasks, and a
// task finishing after its group is gone touches nothing freed (ASan would say).
#include <chainsd/plugin/task_group.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace asio = boost::asio;
using chainsd::plugin::task_group;
using namespace std::chrono_literals;

namespace {

struct log_t {
  std::vector<std::string> events;
};

asio::awaitable<void> sleeper(std::shared_ptr<log_t> log, std::string name, std::chrono::milliseconds d,
                              bool fail = false) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  log->events.push_back(name + (ec ? " cancelled" : " done"));
  if (fail) throw std::runtime_error(name + " failed");
}

asio::awaitable<void> run_group(std::shared_ptr<log_t> log, std::shared_ptr<std::string> error, bool fail) {
  task_group g(co_await asio::this_coro::executor);
  g.spawn(sleeper(log, "slow", 40ms));
  g.spawn(sleeper(log, "fast", 5ms, fail));
  CHECK(g.pending() == 2);
  try {
    co_await g.wait();
    log->events.push_back("waited");
  } catch (const std::exception& e) {
    *error = e.what();
  }
  CHECK(g.pending() == 0);
}

}  // namespace

TEST_CASE("wait() returns when every task has finished") {
  asio::io_context ctx;
  auto log = std::make_shared<log_t>();
  auto error = std::make_shared<std::string>();
  asio::co_spawn(ctx, run_group(log, error, false), [](std::exception_ptr e) { CHECK_FALSE(e); });
  ctx.run();
  CHECK(log->events == std::vector<std::string>{"fast done", "slow done", "waited"});
  CHECK(error->empty());
}

TEST_CASE("the first exception is rethrown once all tasks are done") {
  asio::io_context ctx;
  auto log = std::make_shared<log_t>();
  auto error = std::make_shared<std::string>();
  asio::co_spawn(ctx, run_group(log, error, true), [](std::exception_ptr e) { CHECK_FALSE(e); });
  ctx.run();
  CHECK(log->events == std::vector<std::string>{"fast done", "slow done"});
  CHECK(*error == "fast failed");
}

TEST_CASE("a cancelled wait() cancels the tasks and throws operation_aborted") {
  asio::io_context ctx;
  auto log = std::make_shared<log_t>();
  auto error = std::make_shared<std::string>();
  auto waiter = [](std::shared_ptr<log_t> l, std::shared_ptr<std::string> err) -> asio::awaitable<void> {
    task_group g(co_await asio::this_coro::executor);
    g.spawn(sleeper(l, "long", 10s));
    try {
      co_await g.wait();
    } catch (const boost::system::system_error& e) {
      *err = e.code() == asio::error::operation_aborted ? "aborted" : e.what();
    }
  };
  asio::cancellation_signal cancel;
  asio::co_spawn(ctx, waiter(log, error), asio::bind_cancellation_slot(cancel.slot(), [](std::exception_ptr) {}));
  ctx.run_for(20ms);
  cancel.emit(asio::cancellation_type::terminal);
  ctx.restart();
  ctx.run_for(1s);
  CHECK(*error == "aborted");
  CHECK(log->events == std::vector<std::string>{"long cancelled"});
}

TEST_CASE("a task may outlive its group") {
  asio::io_context ctx;
  auto log = std::make_shared<log_t>();
  {
    task_group g(ctx.get_executor());
    g.spawn(sleeper(log, "orphan", 5ms));
  }
  ctx.run();
  CHECK(log->events == std::vector<std::string>{"orphan done"});
}
