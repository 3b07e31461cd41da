#pragma once
// Process-wide metrics rendered in the Prometheus text exposition format (version 0.0.4).
// Families are created once (usually at start-up) and live for the process; the returned
// references stay valid forever. Updates happen on the io_context thread; rendering too.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace chainsd::metrics {

using labels = std::vector<std::pair<std::string, std::string>>;

class counter {
 public:
  void inc(double by = 1) { value_ += by; }
  double value() const { return value_; }

 private:
  double value_ = 0;
};

class gauge {
 public:
  void set(double v) { value_ = v; }
  void add(double by) { value_ += by; }
  double value() const { return value_; }

 private:
  double value_ = 0;
};

class histogram {
 public:
  explicit histogram(std::vector<double> bounds);
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  const std::vector<std::uint64_t>& buckets() const { return counts_; }  // non-cumulative
  std::uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

class registry {
 public:
  counter& get_counter(std::string_view name, std::string_view help, const labels& l = {});
  gauge& get_gauge(std::string_view name, std::string_view help, const labels& l = {});
  histogram& get_histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                           const labels& l = {});
  std::string render() const;

 private:
  struct family {
    std::string help;
    std::string type;
    std::map<std::string, std::unique_ptr<counter>> counters;  // key: rendered label set
    std::map<std::string, std::unique_ptr<gauge>> gauges;
    std::map<std::string, std::unique_ptr<histogram>> histograms;
  };
  family& get_family(std::string_view name, std::string_view help, std::string_view type);
  std::map<std::string, family, std::less<>> families_;
};

// The process's registry.
registry& global();

// Renders {k="v",...} with the text format's escaping; empty string for no labels.
std::string render_labels(const labels& l);

}  // namespace chainsd::metrics
