#pragma once
// Reading fields of log answers (internal to engine/tlog): each failure a verify_error naming
// where and which field, so a malformed answer is reported, never trusted.

#include "tlog/entry.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace chainsd::tlog::detail {

boost::json::value parse_json(std::string_view text, std::string_view where);
const boost::json::value& at(const boost::json::value& v, std::string_view key, std::string_view where);
// Null when absent (optional fields).
const boost::json::value* find(const boost::json::value& v, std::string_view key);
std::string str(const boost::json::value& v, std::string_view key, std::string_view where);
// A JSON integer (Rekor v1).
std::int64_t num(const boost::json::value& v, std::string_view key, std::string_view where);
// protobuf JSON int64: a decimal string or a number.
std::int64_t int64_field(const boost::json::value& v, std::string_view key, std::string_view where);
// protobuf JSON bytes: standard base64 decoded.
std::string bytes_field(const boost::json::value& v, std::string_view key, std::string_view where);

}  // namespace chainsd::tlog::detail
