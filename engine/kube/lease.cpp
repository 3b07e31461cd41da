#include "kube/lease.hpp"

#include <boost/json.hpp>

#include <cstdio>
#include <ctime>
#include <limits>

namespace chainsd::kube {
namespace json = boost::json;

namespace {

const char* const api_version = "coordination.k8s.io/v1";

std::optional<std::string> string_field(const json::object& o, std::string_view key, std::string_view where) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::nullopt;
  if (!it->value().is_string())
    throw lease_error(std::string(where) + "." + std::string(key) + " is not a string");
  return std::string(it->value().get_string());
}

std::optional<std::int32_t> int32_field(const json::object& o, std::string_view key, std::string_view where) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::nullopt;
  const json::value& v = it->value();
  std::int64_t n = 0;
  if (v.is_int64()) n = v.get_int64();
  else if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max()))
    n = static_cast<std::int64_t>(v.get_uint64());
  else
    throw lease_error(std::string(where) + "." + std::string(key) + " is not an integer");
  if (n < std::numeric_limits<std::int32_t>::min() || n > std::numeric_limits<std::int32_t>::max())
    throw lease_error(std::string(where) + "." + std::string(key) + " is out of the int32 range");
  return static_cast<std::int32_t>(n);
}

json::object spec_json(const lease_spec& s) {
  json::object o;
  // client-go always sends these five (pointers to its record's values), holderIdentity "" for a
  // released lease; the two coordinated-election fields only when set.
  if (s.holder_identity) o["holderIdentity"] = *s.holder_identity;
  if (s.lease_duration_seconds) o["leaseDurationSeconds"] = *s.lease_duration_seconds;
  if (s.acquire_time) o["acquireTime"] = *s.acquire_time;
  if (s.renew_time) o["renewTime"] = *s.renew_time;
  if (s.lease_transitions) o["leaseTransitions"] = *s.lease_transitions;
  if (s.strategy) o["strategy"] = *s.strategy;
  if (s.preferred_holder) o["preferredHolder"] = *s.preferred_holder;
  return o;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// Results are bound to a variable before use: g++ 12 mishandles temporaries inside co_await
// expressions.
lease_result finish(result res) {
  lease_result r{std::move(res), std::nullopt};
  if (r.raw.ok()) r.value = parse_lease(r.raw.body);
  return r;
}

}  // namespace

lease parse_lease(std::string body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) throw lease_error("lease body is not JSON: " + ec.message());
  if (!v.is_object()) throw lease_error("lease body is not a JSON object");
  const json::object& o = v.get_object();
  lease l;
  if (auto it = o.find("metadata"); it != o.end() && it->value().is_object()) {
    const json::object& md = it->value().get_object();
    l.namespace_name = string_field(md, "namespace", "metadata").value_or("");
    l.name = string_field(md, "name", "metadata").value_or("");
    l.uid = string_field(md, "uid", "metadata").value_or("");
    l.resource_version = string_field(md, "resourceVersion", "metadata").value_or("");
  } else {
    throw lease_error("lease body has no metadata object");
  }
  if (auto it = o.find("spec"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_object()) throw lease_error("lease spec is not an object");
    const json::object& sp = it->value().get_object();
    l.spec.holder_identity = string_field(sp, "holderIdentity", "spec");
    l.spec.lease_duration_seconds = int32_field(sp, "leaseDurationSeconds", "spec");
    l.spec.acquire_time = string_field(sp, "acquireTime", "spec");
    l.spec.renew_time = string_field(sp, "renewTime", "spec");
    l.spec.lease_transitions = int32_field(sp, "leaseTransitions", "spec");
    l.spec.strategy = string_field(sp, "strategy", "spec");
    l.spec.preferred_holder = string_field(sp, "preferredHolder", "spec");
  }
  l.raw = std::move(body);
  return l;
}

std::string lease_create_body(std::string_view ns, std::string_view name, const lease_spec& spec) {
  json::object o;
  o["apiVersion"] = api_version;
  o["kind"] = "Lease";
  json::object md;
  md["name"] = name;
  md["namespace"] = ns;
  o["metadata"] = std::move(md);
  o["spec"] = spec_json(spec);
  return json::serialize(o);
}

std::string lease_update_body(const lease& current, const lease_spec& spec) {
  boost::system::error_code ec;
  json::value v = json::parse(current.raw, ec);
  json::object o;
  if (!ec && v.is_object()) o = std::move(v.get_object());
  o["apiVersion"] = api_version;
  o["kind"] = "Lease";
  if (!o.contains("metadata") || !o["metadata"].is_object()) o["metadata"] = json::object{};
  json::object& md = o["metadata"].get_object();
  md["name"] = current.name;
  md["namespace"] = current.namespace_name;
  md["resourceVersion"] = current.resource_version;
  o["spec"] = spec_json(spec);
  return json::serialize(o);
}

std::string format_micro_time(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  auto us = duration_cast<microseconds>(t.time_since_epoch()).count();
  std::int64_t secs = us / 1'000'000;
  std::int64_t frac = us % 1'000'000;
  if (frac < 0) {
    frac += 1'000'000;
    --secs;
  }
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(frac));
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_micro_time(std::string_view s) {
  int y, mo, d, h, mi, se;
  if (!digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || s[10] != 'T' || !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) ||
      s[16] != ':' || !digits(s, 17, 2, se))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) return std::nullopt;
  std::size_t p = 19;
  std::int64_t nanos = 0;
  if (p < s.size() && s[p] == '.') {
    ++p;
    std::size_t start = p;
    std::int64_t scale = 100'000'000;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      nanos += (s[p] - '0') * scale;
      scale /= 10;
      ++p;
    }
    if (p == start) return std::nullopt;
  }
  std::int64_t offset_s = 0;
  if (p < s.size() && s[p] == 'Z') {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    int oh, om;
    if (!digits(s, p + 1, 2, oh) || p + 3 >= s.size() || s[p + 3] != ':' || !digits(s, p + 4, 2, om) || oh > 23 ||
        om > 59)
      return std::nullopt;
    offset_s = (oh * 3600 + om * 60) * (s[p] == '-' ? -1 : 1);
    p += 6;
  } else {
    return std::nullopt;
  }
  if (p != s.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  std::int64_t secs = static_cast<std::int64_t>(::timegm(&tm)) - offset_s;
  auto since = std::chrono::seconds(secs) + std::chrono::nanoseconds(nanos);
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(since));
}

boost::asio::awaitable<lease_result> lease_client::get(std::string ns, std::string name) {
  result res = co_await client_->get(leases_v1(), std::move(ns), std::move(name));
  co_return finish(std::move(res));
}

boost::asio::awaitable<lease_result> lease_client::create(std::string ns, std::string name, lease_spec spec) {
  std::string body = lease_create_body(ns, name, spec);
  result res = co_await client_->create(leases_v1(), std::move(ns), std::move(body));
  co_return finish(std::move(res));
}

boost::asio::awaitable<lease_result> lease_client::update(lease current, lease_spec spec) {
  std::string body = lease_update_body(current, spec);
  result res = co_await client_->update(leases_v1(), current.namespace_name, current.name, std::move(body));
  co_return finish(std::move(res));
}

}  // namespace chainsd::kube
