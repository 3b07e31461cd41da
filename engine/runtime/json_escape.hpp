#pragma once
// One JSON string escaper for every layer, with the modes whose bytes we must reproduce exactly.
// It lives in runtime (the lowest layer) so log lines, DSSE envelopes, provenance payloads and
// Rekor's canonical JSON share it without any layer including upward.
//
//                         minimal   jcs   protojson   go_json
//   " \  \n \r \t           short    short   short      short
//   \b \f                   \u00XX   short   short      short
//   other C0 controls       \u00XX   \u00XX  \u00XX     \u00XX
//   < > &                   as is    as is   as is      \u003c \u003e \u0026
//   U+2028 U+2029           as is    as is   as is      \u2028 \u2029
//   invalid UTF-8 (a byte)  as is    as is   U+FFFD     \ufffd
//   DEL, other characters   as is    as is   as is      as is
// Hex digits are lower case, as in Go and RFC 8785.

#include <string>
#include <string_view>

namespace chainsd::runtime {

enum class json_escape {
  minimal,    // our log lines and DSSE envelopes (log::json_escape)
  jcs,        // RFC 8785 section 3.2.2.2 (Rekor's SignedEntryTimestamp bytes)
  protojson,  // Go protojson, as the provenance predicate is written
  go_json,    // Go encoding/json (HTML-safe) json.Marshal, as byproduct content is written
};

// Appends `s` escaped as the inside of a JSON string (no surrounding quotes).
void append_json_escaped(std::string& out, std::string_view s, json_escape mode);

// Appends `s` as a JSON string: '"', the escaped text, '"'.
void append_json_quoted(std::string& out, std::string_view s, json_escape mode);

}  // namespace chainsd::runtime
