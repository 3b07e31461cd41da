#include "ha/election_config.hpp"

#include <boost/json.hpp>

#include <cstdlib>

namespace chainsd::ha {

namespace {

using ns = std::chrono::nanoseconds;
constexpr std::uint64_t max_magnitude = std::uint64_t{1} << 63;

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::uint64_t unit_of(std::string_view u) {
  if (u == "ns") return 1;
  if (u == "us" || u == "\xC2\xB5s" /* µ U+00B5 */ || u == "\xCE\xBCs" /* μ U+03BC */) return 1'000;
  if (u == "ms") return 1'000'000;
  if (u == "s") return 1'000'000'000;
  if (u == "m") return 60'000'000'000;
  if (u == "h") return 3'600'000'000'000;
  return 0;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Go's fmtFrac: the fraction of v/10^prec without trailing zeros (and without the point when 0).
std::string frac_text(std::uint64_t& v, int prec) {
  std::string digits;
  bool print = false;
  for (int i = 0; i < prec; ++i) {
    auto digit = static_cast<char>(v % 10);
    print = print || digit != 0;
    if (print) digits.insert(digits.begin(), static_cast<char>('0' + digit));
    v /= 10;
  }
  return print ? "." + digits : std::string();
}

}  // namespace

std::optional<ns> parse_go_duration(std::string_view s, std::string* error) {
  const std::string orig = quote(s);
  auto invalid = [&](std::string msg) -> std::optional<ns> {
    if (error) *error = std::move(msg);
    return std::nullopt;
  };
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return ns(0);
  if (s.empty()) return invalid("time: invalid duration " + orig);
  std::uint64_t d = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || is_digit(s[0]))) return invalid("time: invalid duration " + orig);
    // [0-9]*
    std::uint64_t v = 0;
    std::size_t i = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      if (v > max_magnitude / 10) return invalid("time: invalid duration " + orig);
      v = v * 10 + static_cast<std::uint64_t>(s[i] - '0');
      if (v > max_magnitude) return invalid("time: invalid duration " + orig);
    }
    bool pre = i != 0;
    s.remove_prefix(i);
    // (\.[0-9]*)?
    std::uint64_t f = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      bool overflow = false;
      std::size_t j = 0;
      for (; j < s.size() && is_digit(s[j]); ++j) {
        if (overflow) continue;
        if (f > (max_magnitude - 1) / 10) {
          overflow = true;  // Go keeps consuming digits but ignores the rest
          continue;
        }
        std::uint64_t y = f * 10 + static_cast<std::uint64_t>(s[j] - '0');
        if (y > max_magnitude) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j != 0;
      s.remove_prefix(j);
    }
    if (!pre && !post) return invalid("time: invalid duration " + orig);
    std::size_t k = 0;
    for (; k < s.size() && s[k] != '.' && !is_digit(s[k]); ++k) {
    }
    if (k == 0) return invalid("time: missing unit in duration " + orig);
    std::string_view u = s.substr(0, k);
    s.remove_prefix(k);
    std::uint64_t unit = unit_of(u);
    if (unit == 0) return invalid("time: unknown unit " + quote(u) + " in duration " + orig);
    if (v > max_magnitude / unit) return invalid("time: invalid duration " + orig);
    v *= unit;
    if (f > 0) {
      v += static_cast<std::uint64_t>(static_cast<double>(f) * (static_cast<double>(unit) / scale));
      if (v > max_magnitude) return invalid("time: invalid duration " + orig);
    }
    d += v;
    if (d > max_magnitude) return invalid("time: invalid duration " + orig);
  }
  if (neg) return ns(d == max_magnitude ? INT64_MIN : -static_cast<std::int64_t>(d));
  if (d > max_magnitude - 1) return invalid("time: invalid duration " + orig);
  return ns(static_cast<std::int64_t>(d));
}

std::string format_go_duration(ns d) {
  std::int64_t n = d.count();
  bool neg = n < 0;
  std::uint64_t u = neg ? static_cast<std::uint64_t>(0) - static_cast<std::uint64_t>(n) : static_cast<std::uint64_t>(n);
  std::string out;
  if (u < 1'000'000'000) {
    if (u == 0) return "0s";
    std::string unit;
    int prec = 0;
    if (u < 1'000) {
      unit = "ns";
    } else if (u < 1'000'000) {
      prec = 3;
      unit = "\xC2\xB5s";
    } else {
      prec = 6;
      unit = "ms";
    }
    std::string frac = frac_text(u, prec);
    out = std::to_string(u) + frac + unit;
  } else {
    std::string frac = frac_text(u, 9);
    out = std::to_string(u % 60) + frac + "s";
    u /= 60;
    if (u > 0) {
      out = std::to_string(u % 60) + "m" + out;
      u /= 60;
      if (u > 0) out = std::to_string(u) + "h" + out;
    }
  }
  return neg ? "-" + out : out;
}

election_config_result parse_election_config(const std::map<std::string, std::string>& data,
                                             std::string_view source) {
  election_config_result res;
  election_config c;
  const std::string where = "leader-election ConfigMap " + std::string(source) + ": ";
  auto duration = [&](const char* key, ns& target) {
    auto it = data.find(key);
    if (it == data.end()) return;
    std::string err;
    if (auto d = parse_go_duration(it->second, &err)) target = *d;
    else res.errors.push_back(where + key + ": " + quote(it->second) + " is not a duration (" + err + ")");
  };
  // knative's order: legacy spellings first, the current ones override them.
  duration("leaseDuration", c.lease_duration);
  duration("renewDeadline", c.renew_deadline);
  duration("retryPeriod", c.retry_period);
  duration("lease-duration", c.lease_duration);
  duration("renew-deadline", c.renew_deadline);
  duration("retry-period", c.retry_period);

  bool buckets_parsed = true;
  if (auto it = data.find("buckets"); it != data.end()) {
    // strconv.ParseUint(s, 10, 32): digits only, no sign, no spaces.
    const std::string& v = it->second;
    bool digits = !v.empty();
    std::uint64_t n = 0;
    for (char ch : v) {
      if (!is_digit(ch)) {
        digits = false;
        break;
      }
      n = n * 10 + static_cast<std::uint64_t>(ch - '0');
      if (n > 0xFFFFFFFFull) {
        digits = false;
        break;
      }
    }
    if (!digits) {
      buckets_parsed = false;
      res.errors.push_back(where + "buckets: " + quote(v) + " is not a whole number between 1 and " +
                           std::to_string(max_buckets));
    } else {
      c.buckets = static_cast<std::uint32_t>(n);
    }
  }
  if (buckets_parsed && (c.buckets < 1 || c.buckets > max_buckets))
    res.errors.push_back(where + "buckets: " + std::to_string(c.buckets) + " is out of range: it must be between 1 and " +
                         std::to_string(max_buckets));

  // CollectMapEntriesWithPrefix("map-lease-prefix"): it strips one character after the prefix,
  // meant to be the dot.
  const std::string prefix = "map-lease-prefix";
  for (const auto& [k, v] : data) {
    if (k.rfind(prefix, 0) == 0 && k.size() > prefix.size() + 1) c.lease_name_prefixes[k.substr(prefix.size() + 1)] = v;
    else if (k.empty() || k[0] == '_') continue;
    else if (k != "leaseDuration" && k != "renewDeadline" && k != "retryPeriod" && k != "lease-duration" &&
             k != "renew-deadline" && k != "retry-period" && k != "buckets")
      res.warnings.push_back(where + "unknown key " + quote(k) + " ignored");
  }

  // client-go's NewLeaderElector checks, named by key. Only when the durations parsed: a bad value
  // is reported once, as itself.
  if (res.errors.empty()) {
    auto text = [](const char* key, ns d) { return std::string(key) + " " + format_go_duration(d); };
    if (c.lease_duration <= c.renew_deadline)
      res.errors.push_back(where + "lease-duration must be greater than renew-deadline (" +
                           text("lease-duration", c.lease_duration) + ", " + text("renew-deadline", c.renew_deadline) + ")");
    if (c.renew_deadline.count() <= static_cast<std::int64_t>(1.2 * static_cast<double>(c.retry_period.count())))
      res.errors.push_back(where + "renew-deadline must be greater than 1.2 x retry-period (" +
                           text("renew-deadline", c.renew_deadline) + ", " + text("retry-period", c.retry_period) + ")");
    if (c.retry_period.count() < 1)
      res.errors.push_back(where + "retry-period must be greater than zero (" + text("retry-period", c.retry_period) + ")");
    // Ours: the Lease stores whole seconds (int(leaseDuration / time.Second)); below 1s it would
    // say 0 and every candidate would take it at once.
    if (c.lease_duration < std::chrono::seconds(1))
      res.errors.push_back(where + "lease-duration must be at least 1s: a Lease holds whole seconds (" +
                           text("lease-duration", c.lease_duration) + ")");
  }
  if (res.errors.empty()) res.value = std::move(c);
  return res;
}

election_config_result election_config_from_response(const kube::result& r, std::string_view source) {
  if (r.not_found()) return parse_election_config({}, source);
  election_config_result res;
  const std::string where = "leader-election ConfigMap " + std::string(source) + ": ";
  if (!r.ok()) {
    auto st = r.error();
    res.errors.push_back(where + "cannot be read: " + std::to_string(st.code) + " " + st.reason + ": " + st.message);
    return res;
  }
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  if (ec || !v.is_object()) {
    res.errors.push_back(where + "the response is not a JSON object");
    return res;
  }
  std::map<std::string, std::string> data;
  if (auto* d = v.get_object().if_contains("data"); d && !d->is_null()) {
    if (!d->is_object()) {
      res.errors.push_back(where + "data is not an object");
      return res;
    }
    for (const auto& kv : d->get_object()) {
      if (!kv.value().is_string()) {
        res.errors.push_back(where + std::string(kv.key()) + ": the value is not a string");
        continue;
      }
      data.emplace(std::string(kv.key()), std::string(kv.value().get_string()));
    }
  }
  if (!res.errors.empty()) return res;
  return parse_election_config(data, source);
}

std::string election_configmap_name() {
  const char* v = std::getenv("CONFIG_LEADERELECTION_NAME");
  return v && *v ? v : "tekton-chains-config-leader-election";
}

}  // namespace chainsd::ha
