#pragma once
// Cross-key rules of chainsd's own transparency keys (Rekor v2, RFC 3161 timestamps, Sigstore
// signing config): each key alone is read by config.cpp's rules; what only holds for a
// combination is checked here, each message naming both keys. Files the keys name are read
// where the transparency logger is built (engine/tlog/setup.cpp), not here (parse is pure).

#include "config/config.hpp"

namespace chainsd::config {

void validate_transparency(const data_map& data, config& cfg, parse_result& result);

}  // namespace chainsd::config
