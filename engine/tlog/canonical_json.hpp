#pragma once
// RFC 8785 JSON Canonicalization Scheme (JCS): the bytes Rekor signs in a SignedEntryTimestamp.
// We must reproduce them exactly, so this does not reuse boost::json::serialize (which neither
// sorts keys nor formats numbers as ECMAScript does).

#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace chainsd::tlog {

// Serializes `v` canonically: object members sorted by their UTF-16 code units, no whitespace,
// minimal string escapes, numbers in ECMAScript Number.prototype.toString form. Throws
// std::invalid_argument for numbers JCS cannot represent (NaN, infinities, integers beyond 2^53
// that a double would round).
std::string canonical_json(const boost::json::value& v);

// Parses `json` and canonicalizes it. Throws on malformed input.
std::string canonicalize(std::string_view json);

}  // namespace chainsd::tlog
