#include "tlog/json_fields.hpp"

#include "chainsd/plugin/encoding.hpp"

#include <boost/json/parse.hpp>

#include <charconv>

namespace chainsd::tlog::detail {
namespace json = boost::json;

json::value parse_json(std::string_view text, std::string_view where) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec) throw verify_error(std::string(where) + ": not JSON: " + ec.message());
  return v;
}

const json::value* find(const json::value& v, std::string_view key) {
  const auto* o = v.if_object();
  return o ? o->if_contains(key) : nullptr;
}

const json::value& at(const json::value& v, std::string_view key, std::string_view where) {
  const json::value* r = find(v, key);
  if (!r) throw verify_error(std::string(where) + ": missing \"" + std::string(key) + "\"");
  return *r;
}

std::string str(const json::value& v, std::string_view key, std::string_view where) {
  const auto& r = at(v, key, where);
  if (!r.is_string()) throw verify_error(std::string(where) + ": \"" + std::string(key) + "\" is not a string");
  return std::string(r.get_string());
}

std::int64_t num(const json::value& v, std::string_view key, std::string_view where) {
  const auto& r = at(v, key, where);
  if (r.is_int64()) return r.get_int64();
  if (r.is_uint64() && r.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(r.get_uint64());
  throw verify_error(std::string(where) + ": \"" + std::string(key) + "\" is not an integer");
}

std::int64_t int64_field(const json::value& v, std::string_view key, std::string_view where) {
  const auto& r = at(v, key, where);
  if (r.is_string()) {
    std::string_view s = r.get_string();
    std::int64_t out = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec == std::errc() && end == s.data() + s.size() && !s.empty()) return out;
    throw verify_error(std::string(where) + ": \"" + std::string(key) + "\" is not a decimal integer");
  }
  return num(v, key, where);
}

std::string bytes_field(const json::value& v, std::string_view key, std::string_view where) {
  auto s = str(v, key, where);
  try {
    return plugin::base64_decode(s);
  } catch (const std::invalid_argument&) {
    throw verify_error(std::string(where) + ": \"" + std::string(key) + "\" is not base64");
  }
}

}  // namespace chainsd::tlog::detail
