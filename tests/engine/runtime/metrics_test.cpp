#include <catch2/catch.hpp>

#include "runtime/metrics.hpp"

using namespace chainsd;

TEST_CASE("registry renders counters with labels in text format") {
  metrics::registry r;
  r.get_counter("watcher_taskrun_sign_created_total", "signed", {{"ns", "a\"b"}}).inc();
  r.get_counter("watcher_taskrun_sign_created_total", "signed", {{"ns", "a\"b"}}).inc(2);
  auto text = r.render();
  CHECK(text.find("# TYPE watcher_taskrun_sign_created_total counter\n") != std::string::npos);
  CHECK(text.find("watcher_taskrun_sign_created_total{ns=\"a\\\"b\"} 3\n") != std::string::npos);
}

TEST_CASE("histogram buckets are cumulative and end with +Inf") {
  metrics::registry r;
  auto& h = r.get_histogram("lat_seconds", "latency", {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  auto text = r.render();
  CHECK(text.find("lat_seconds_bucket{le=\"0.1\"} 1\n") != std::string::npos);
  CHECK(text.find("lat_seconds_bucket{le=\"1\"} 2\n") != std::string::npos);
  CHECK(text.find("lat_seconds_bucket{le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(text.find("lat_seconds_count 3\n") != std::string::npos);
}

TEST_CASE("a metric name cannot be registered with two types") {
  metrics::registry r;
  r.get_counter("x", "h");
  CHECK_THROWS_AS(r.get_gauge("x", "h"), std::logic_error);
}
