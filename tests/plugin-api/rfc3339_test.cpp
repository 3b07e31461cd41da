// RFC 3339 UTC with second precision, as Go's time.RFC3339 formats a UTC time.
#include <chainsd/plugin/rfc3339.hpp>

#include <catch2/catch.hpp>

#include <regex>

using namespace chainsd::plugin;

TEST_CASE("rfc3339 formats UTC seconds") {
  using namespace std::chrono;
  CHECK(rfc3339(system_clock::time_point{}) == "1970-01-01T00:00:00Z");
  CHECK(rfc3339(system_clock::time_point{seconds{1700000000}}) == "2023-11-14T22:13:20Z");
  // Fractions are dropped, not rounded (Go's RFC3339 layout has no fraction).
  CHECK(rfc3339(system_clock::time_point{seconds{1700000000} + milliseconds{999}}) == "2023-11-14T22:13:20Z");
  CHECK(rfc3339(system_clock::time_point{seconds{951782400}}) == "2000-02-29T00:00:00Z");  // leap day
}

TEST_CASE("rfc3339_now is now") {
  const auto before = std::chrono::system_clock::now();
  const std::string now = rfc3339_now();
  CHECK(std::regex_match(now, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)")));
  const auto after = std::chrono::system_clock::now();
  CHECK(now >= rfc3339(before - std::chrono::seconds(1)));
  CHECK(now <= rfc3339(after));
}
