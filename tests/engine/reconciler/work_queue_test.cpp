// The queue and the echo filter on a manual clock: client-go's workqueue semantics (with the
// backoff kept on purpose), and the three verdicts on our own patch's echo.
#include <catch2/catch.hpp>

#include "reconciler/echo_filter.hpp"
#include "reconciler/work_queue.hpp"
#include "runtime/clock.hpp"

using namespace chainsd;
using namespace chainsd::reconciler;
using namespace std::chrono_literals;

TEST_CASE("work_queue: a key is queued once; added while processing, it runs once more after done") {
  runtime::manual_clock clk;
  work_queue q(clk);
  q.add("a");
  q.add("a");
  q.add("b");
  CHECK(q.ready() == 2);
  CHECK(q.pop() == std::optional<std::string>("a"));
  CHECK(q.processing("a"));
  q.add("a");  // news while processing
  CHECK(q.ready() == 1);
  CHECK(q.pop() == std::optional<std::string>("b"));
  CHECK_FALSE(q.pop());  // "a" is not ready twice
  CHECK(q.done("a"));    // queued again
  CHECK(q.pop() == std::optional<std::string>("a"));
  CHECK_FALSE(q.done("a"));
  CHECK_FALSE(q.done("b"));
  CHECK(q.in_process() == 0);
  CHECK_FALSE(q.pop());
}

TEST_CASE("work_queue: delays wait for the clock, the earlier one wins, add() keeps a waiting key waiting") {
  runtime::manual_clock clk;
  work_queue q(clk);
  q.add_after("a", 10s);
  q.add_after("a", 5s);   // earlier wins
  q.add_after("a", 20s);  // later is ignored
  q.add("a");             // a backoff is not cut short by news
  CHECK(q.waiting("a"));
  CHECK(q.next_due() == clk.now() + 5s);
  clk.advance(4s);
  CHECK(q.promote_due() == 0);
  clk.advance(1s);
  CHECK(q.promote_due() == 1);
  CHECK(q.pop() == std::optional<std::string>("a"));
  CHECK_FALSE(q.next_due());
}

TEST_CASE("work_queue: forget drops ready and waiting keys; a processing key is not re-queued") {
  runtime::manual_clock clk;
  work_queue q(clk);
  q.add("a");
  q.add_after("b", 1s);
  q.forget("a");
  q.forget("b");
  CHECK(q.ready() == 0);
  CHECK(q.delayed() == 0);
  clk.advance(2s);
  CHECK(q.promote_due() == 0);
  CHECK_FALSE(q.pop());
  q.add("c");
  REQUIRE(q.pop() == std::optional<std::string>("c"));
  q.add("c");
  q.forget("c");
  CHECK_FALSE(q.done("c"));
  CHECK_FALSE(q.pop());
  q.add("a");  // a forgotten key comes back normally
  CHECK(q.pop() == std::optional<std::string>("a"));
}

TEST_CASE("echo_filter: our version is an echo, older is stale, newer passes; notes expire") {
  runtime::manual_clock clk;
  echo_filter f(clk, 600s);
  f.remember("u", "101", "ns/parent");
  CHECK(f.check("u", "99").v == echo_filter::verdict::stale);
  auto echo = f.check("u", "101");
  CHECK(echo.v == echo_filter::verdict::echo);
  CHECK(echo.parent == "ns/parent");
  CHECK(f.check("u", "101").v == echo_filter::verdict::pass);  // the note ended with its echo
  f.remember("v", "200", "");
  CHECK(f.check("v", "250").v == echo_filter::verdict::pass);  // someone wrote after us
  CHECK(f.size() == 0);
  f.remember("w", "300", "");
  clk.advance(601s);
  f.sweep();
  CHECK(f.size() == 0);
  CHECK(f.check("w", "1").v == echo_filter::verdict::pass);
  CHECK(older_version("9", "10"));
  CHECK_FALSE(older_version("10", "9"));
  CHECK_FALSE(older_version("abc", "10"));
}

TEST_CASE("echo_filter: while a list is read, a note outlives its echo so that the list's older copy is stale") {
  runtime::manual_clock clk;
  echo_filter f(clk, 600s);
  f.hold();
  f.remember("u", "101", "");
  CHECK(f.check("u", "101").v == echo_filter::verdict::echo);   // from the watch
  CHECK(f.check("u", "90").v == echo_filter::verdict::stale);   // the list's copy from before the patch
  CHECK(f.check("u", "101").v == echo_filter::verdict::stale);  // a second copy of our own version
  f.release();
  CHECK(f.size() == 0);
  CHECK(f.check("u", "90").v == echo_filter::verdict::pass);
}
