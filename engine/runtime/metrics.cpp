#include "runtime/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace chainsd::metrics {
namespace {
std::string format_number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that round-trips
  return std::string(buf, res.ptr);
}

void escape_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

// Label set with an extra label appended (for histogram "le").
std::string with_extra(const std::string& rendered, std::string_view key, std::string_view value) {
  std::string extra;
  extra += key;
  extra += "=\"";
  escape_label_value(extra, value);
  extra += '"';
  if (rendered.empty()) return "{" + extra + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + extra + "}";
}
}  // namespace

histogram::histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  counts_.assign(bounds_.size() + 1, 0);
}

void histogram::observe(double v) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
  ++count_;
  sum_ += v;
}

std::string render_labels(const labels& l) {
  if (l.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : l) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    escape_label_value(out, v);
    out += '"';
  }
  out += '}';
  return out;
}

registry::family& registry::get_family(std::string_view name, std::string_view help,
                                       std::string_view type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), family{}).first;
    it->second.help = help;
    it->second.type = type;
  } else if (it->second.type != type) {
    throw std::logic_error("metric " + std::string(name) + " registered with two types");
  }
  return it->second;
}

counter& registry::get_counter(std::string_view name, std::string_view help, const labels& l) {
  auto& f = get_family(name, help, "counter");
  auto& slot = f.counters[render_labels(l)];
  if (!slot) slot = std::make_unique<counter>();
  return *slot;
}

gauge& registry::get_gauge(std::string_view name, std::string_view help, const labels& l) {
  auto& f = get_family(name, help, "gauge");
  auto& slot = f.gauges[render_labels(l)];
  if (!slot) slot = std::make_unique<gauge>();
  return *slot;
}

histogram& registry::get_histogram(std::string_view name, std::string_view help,
                                   std::vector<double> bounds, const labels& l) {
  auto& f = get_family(name, help, "histogram");
  auto& slot = f.histograms[render_labels(l)];
  if (!slot) slot = std::make_unique<histogram>(std::move(bounds));
  return *slot;
}

std::string registry::render() const {
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + f.type + "\n";
    for (const auto& [l, c] : f.counters) out += name + l + " " + format_number(c->value()) + "\n";
    for (const auto& [l, g] : f.gauges) out += name + l + " " + format_number(g->value()) + "\n";
    for (const auto& [l, h] : f.histograms) {
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < h->bounds().size(); ++i) {
        cumulative += h->buckets()[i];
        out += name + "_bucket" + with_extra(l, "le", format_number(h->bounds()[i])) + " " +
               std::to_string(cumulative) + "\n";
      }
      out += name + "_bucket" + with_extra(l, "le", "+Inf") + " " + std::to_string(h->count()) + "\n";
      out += name + "_sum" + l + " " + format_number(h->sum()) + "\n";
      out += name + "_count" + l + " " + std::to_string(h->count()) + "\n";
    }
  }
  return out;
}

registry& global() {
  static registry r;
  return r;
}

}  // namespace chainsd::metrics
