// externalParameters.runSpec follows Go's re-serialization of the v1 structs.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "provenance/run_view.hpp"

using namespace chainsd::provenance;
namespace bj = boost::json;

TEST_CASE("TaskRun spec: omitempty, always-written fields, unknown fields dropped") {
  auto run = parse_run(R"({"kind":"TaskRun","spec":{
    "params":[],"unknownField":1,"retries":0,"timeout":"90m",
    "taskSpec":{"steps":[{"image":"bash","script":"echo","computeResources":null,"extra":"x","workspaces":[{"name":"w"}]}],
                "params":[{"name":"p","type":"string","default":["a"]}],
                "results":[{"name":"r","description":""}],
                "workspaces":[{"name":"src","readOnly":false}]},
    "workspaces":[{"name":"src","emptyDir":{}}],
    "podTemplate":{"nodeSelector":{"a":"b"}}},"status":{}})", "t.json");
  CHECK(run.run_spec == bj::parse(R"({
    "serviceAccountName":"",
    "timeout":"1h30m0s",
    "taskSpec":{"steps":[{"name":"","image":"bash","script":"echo","computeResources":{},
                          "workspaces":[{"name":"w","mountPath":""}]}],
                "params":[{"name":"p","type":"string","default":["a"]}],
                "results":[{"name":"r"}],
                "workspaces":[{"name":"src"}]},
    "workspaces":[{"name":"src","emptyDir":{}}],
    "podTemplate":{"nodeSelector":{"a":"b"}}})"));
}

TEST_CASE("PipelineRun spec: embedded tasks carry spec null and metadata {}") {
  auto run = parse_run(R"J({"kind":"PipelineRun","spec":{
    "timeouts":{"pipeline":"1h","tasks":"30m"},
    "pipelineSpec":{"tasks":[{"name":"t","taskSpec":{"steps":[{"name":"s","image":"i"}]},
                              "when":[{"input":"$(params.x)","operator":"in","values":["a"]}],
                              "runAfter":[],"params":[{"name":"x","value":{"k":"v"}}]}],
                    "results":[{"name":"r","value":"$(tasks.t.results.y)"}]},
    "taskRunSpecs":[{"pipelineTaskName":"t","stepSpecs":[{"name":"s"}]}]},"status":{}})J",
                       "p.json");
  CHECK(run.run_spec == bj::parse(R"J({
    "timeouts":{"pipeline":"1h0m0s","tasks":"30m0s"},
    "taskRunTemplate":{},
    "pipelineSpec":{"tasks":[{"name":"t","taskSpec":{"spec":null,"metadata":{},
                                                      "steps":[{"name":"s","image":"i","computeResources":{}}]},
                              "when":[{"input":"$(params.x)","operator":"in","values":["a"]}],
                              "params":[{"name":"x","value":{"k":"v"}}]}],
                    "results":[{"name":"r","description":"","value":"$(tasks.t.results.y)"}]},
    "taskRunSpecs":[{"pipelineTaskName":"t","stepSpecs":[{"name":"s","computeResources":{}}]}]})J"));
}

TEST_CASE("spec fields of the wrong type are reported with their path") {
  auto error_of = [](const std::string& doc) {
    try {
      (void)parse_run(doc, "r.json");
    } catch (const input_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of(R"({"kind":"TaskRun","spec":{"taskSpec":{"steps":{}}},"status":{}})") ==
        "r.json: spec.taskSpec.steps: must be an array, got an object");
  CHECK(error_of(R"({"kind":"TaskRun","spec":{"timeout":"soon"},"status":{}})") ==
        "r.json: spec.timeout: \"soon\" is not a duration");
  CHECK(error_of(R"({"kind":"PipelineRun","spec":{"pipelineSpec":{"tasks":[{"retries":"2"}]}},"status":{}})") ==
        "r.json: spec.pipelineSpec.tasks[0].retries: must be an integer, got a string");
  // Paths through nested lists, maps and the status (built only when an error is reported).
  CHECK(error_of(R"({"kind":"TaskRun","spec":{"taskSpec":{"steps":[{},{"args":["a",1]}]}},"status":{}})") ==
        "r.json: spec.taskSpec.steps[1].args[1]: must be a string, got a number");
  CHECK(error_of(R"({"kind":"TaskRun","spec":{"params":[{"name":"p","value":{"k":[]}}]},"status":{}})") ==
        "r.json: spec.params[0].value.k: must be a string, got an array");
  CHECK(error_of(R"({"kind":"TaskRun","spec":{},"status":{"steps":[{},{"provenance":{"refSource":{"uri":2}}}]}})") ==
        "r.json: status.steps[1].provenance.refSource.uri: must be a string, got a number");
  CHECK(error_of(R"({"kind":"TaskRun","spec":{},"status":{"sidecars":[{"imageID":[]}]}})") ==
        "r.json: status.sidecars[0].imageID: must be a string, got an array");
  CHECK(error_of(R"({"kind":"TaskRun","metadata":{"labels":{"a":1}},"status":{}})") ==
        "r.json: metadata.labels.a: must be a string, got a number");
  CHECK(error_of(R"({"kind":"TaskRun","status":{"provenance":{"featureFlags":{"EnableAPIFields":1}}}})") ==
        "r.json: status.provenance.featureFlags.EnableAPIFields: must be a string, got a number");
}
