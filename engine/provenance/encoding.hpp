#pragma once
// Byte-level encodings the formats must reproduce exactly: Go encoding/json string quoting (it
// lands inside base64 byproduct content, so every escape matters), standard base64, RFC 3339
// times normalized to UTC, and Go time.Duration re-formatting (metav1.Duration round-trips
// through time.Duration, so "1h" is re-serialized as "1h0m0s").

#include <optional>
#include <string>
#include <string_view>

namespace chainsd::provenance {

// Appends `s` quoted the way Go's json.Marshal quotes strings (HTML-safe escapes for <, >, &,
// U+2028/U+2029; \b \f \n \r \t short forms; other control characters as \u00XX).
void append_go_json_string(std::string& out, std::string_view s);

// Appends `s` as a JSON string for our own output (no HTML escaping, as protojson).
void append_json_string(std::string& out, std::string_view s);

std::string base64_encode(std::string_view bytes);

// Parses an RFC 3339 time (any offset, optional fraction) and renders it in UTC as
// "YYYY-MM-DDTHH:MM:SS[.fraction]Z" (Go's RFC3339Nano: trailing zeros of the fraction dropped).
std::optional<std::string> normalize_rfc3339(std::string_view text);

// Parses a Go duration ("1h30m", "90s", "1.5h") and formats it as time.Duration.String().
std::optional<std::string> normalize_go_duration(std::string_view text);

}  // namespace chainsd::provenance
