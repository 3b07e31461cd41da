#include <catch2/catch.hpp>

#include "runtime/async_event.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <exception>
#include <optional>

using chainsd::runtime::async_event;
using steady = std::chrono::steady_clock;
namespace asio = boost::asio;

namespace {

asio::awaitable<bool> wait_on(async_event& e, steady::time_point deadline) { co_return co_await e.wait_until(deadline); }

}  // namespace

TEST_CASE("async_event: set() wakes every waiter before its deadline; later waits return at once") {
  asio::io_context io;
  async_event e;
  std::optional<bool> a, b;
  const auto start = steady::now();
  asio::co_spawn(io, wait_on(e, start + std::chrono::seconds(30)), [&](std::exception_ptr ex, bool r) {
    REQUIRE_FALSE(ex);
    a = r;
  });
  asio::co_spawn(io, wait_on(e, start + std::chrono::seconds(20)), [&](std::exception_ptr ex, bool r) {
    REQUIRE_FALSE(ex);
    b = r;
  });
  io.poll();
  CHECK_FALSE(a);
  CHECK_FALSE(e.is_set());
  asio::post(io, [&] { e.set(); });
  io.run();
  CHECK(a == true);
  CHECK(b == true);
  CHECK(steady::now() - start < std::chrono::seconds(5));
  std::optional<bool> c;
  io.restart();
  asio::co_spawn(io, wait_on(e, start), [&](std::exception_ptr, bool r) { c = r; });  // deadline passed
  io.run();
  CHECK(c == true);
}

TEST_CASE("async_event: the deadline ends a wait with false") {
  asio::io_context io;
  async_event e;
  std::optional<bool> r;
  asio::co_spawn(io, wait_on(e, steady::now() + std::chrono::milliseconds(20)), [&](std::exception_ptr, bool v) { r = v; });
  io.run();
  CHECK(r == false);
  CHECK_FALSE(e.is_set());
}

TEST_CASE("async_event: a cancelled wait throws operation_aborted") {
  asio::io_context io;
  async_event e;
  asio::cancellation_signal sig;
  std::exception_ptr error;
  bool done = false;
  asio::co_spawn(io, wait_on(e, steady::now() + std::chrono::seconds(30)),
                 asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr ex, bool) {
                   error = ex;
                   done = true;
                 }));
  io.poll();
  sig.emit(asio::cancellation_type::terminal);
  io.run();
  REQUIRE(done);
  REQUIRE(error);
  try {
    std::rethrow_exception(error);
  } catch (const boost::system::system_error& ex) {
    CHECK(ex.code() == asio::error::operation_aborted);
  }
}
