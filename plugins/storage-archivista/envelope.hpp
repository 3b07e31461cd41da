#pragma once
// The body upstream Tekton Chains POSTs to Archivista for one artifact, and its gitoid. Pure.
//
// Upstream parses the stored signature (the DSSE envelope JSON) into go-witness's dsse.Envelope
// and lets Go's json.Encoder write it again: fields payload, payloadType, signatures[{keyid, sig,
// certificate?, intermediates?}] in that order, Go's string escaping (<, >, & as \u003c...), and
// a final newline. Archivista names the object by the gitoid of exactly those bytes
// (sha256 over "blob <length>\0<bytes>", hex), so chainsd writes the same bytes to get the same
// gitoid for the same envelope.

#include <chainsd/plugin/errors.hpp>

#include <string>
#include <string_view>

namespace storage_archivista {

// permanent error when `signature` is not a DSSE envelope (a simplesigning signature).
chainsd::plugin::result<std::string> upload_body(std::string_view signature);

// sha256 gitoid of `bytes`, 64 lowercase hex digits (what Archivista answers as "gitoid").
std::string gitoid_sha256(std::string_view bytes);

// A string as Go's encoding/json writes it (HTML-safe escaping), quotes included.
std::string go_json_string(std::string_view s);

}  // namespace storage_archivista
