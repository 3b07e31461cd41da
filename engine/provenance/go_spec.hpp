#pragma once
// Internal: re-serializes a run's `.spec` the way Go's encoding/json writes the tekton.dev/v1
// structs after reading them (externalParameters.runSpec): unknown fields dropped, omitempty
// zero values dropped, fields without omitempty always written (e.g. Step.name, PipelineRunSpec
// .taskRunTemplate, a step's computeResources struct, EmbeddedTask's `spec: null` and
// `metadata: {}`), durations as time.Duration.String(). Kubernetes core types inside (env,
// volumes, podTemplate, securityContext, ...) are copied as given, minus nulls.

#include <simdjson.h>

#include <boost/json/object.hpp>

#include "provenance/json_path.hpp"

#include <functional>
#include <string>

namespace chainsd::provenance::gospec {

using fail_fn = std::function<void(const std::string& path, const std::string& problem)>;

boost::json::object task_run_spec(simdjson::dom::object spec, const fail_fn& fail);
boost::json::object pipeline_run_spec(simdjson::dom::object spec, const fail_fn& fail);
// v1.TaskRef / v1.PipelineRef alone (pipeline tasks in v0.2 buildConfig).
boost::json::object task_ref(simdjson::dom::object ref, const json_path& path, const fail_fn& fail);

}  // namespace chainsd::provenance::gospec
