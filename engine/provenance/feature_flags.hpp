#pragma once
// Internal: status.provenance.featureFlags as Tekton's config.FeatureFlags struct re-marshals it.

#include <simdjson.h>

#include <boost/json/object.hpp>

#include "provenance/json_path.hpp"
#include "provenance/run_reader.hpp"

namespace chainsd::provenance {

// Go matches JSON keys to fields case-insensitively and writes them back with the struct's tags,
// dropping zero values (omitempty) and unknown fields; a field of the wrong type is an error.
boost::json::object feature_flags_json(const reader& r, simdjson::dom::object flags, const json_path& path);

}  // namespace chainsd::provenance
