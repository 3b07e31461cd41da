#include <catch2/catch.hpp>

#include "runtime/backoff.hpp"

using namespace std::chrono_literals;

TEST_CASE("backoff grows to its maximum with jitter within [d/2, d]") {
  chainsd::runtime::backoff b(100ms, 1000ms);
  auto d1 = b.next();
  CHECK(d1 >= 50ms);
  CHECK(d1 <= 100ms);
  auto d2 = b.next();
  CHECK(d2 >= 100ms);
  CHECK(d2 <= 200ms);
  for (int i = 0; i < 10; ++i) CHECK(b.next() <= 1000ms);
  b.reset();
  CHECK(b.next() <= 100ms);
}
