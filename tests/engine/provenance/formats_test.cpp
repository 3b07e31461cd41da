// Focused cases beyond the shared corpus: type hinting (IMAGES with tags, ARTIFACT_URI/DIGEST,
// ARTIFACT_OUTPUTS/INPUTS, object results), git hints from params vs results, step results,
// deep inspection with failed and unfinished children, simplesigning, YAML input, bad input.
// Expected values follow upstream's code paths (cited per case).
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <chrono>

#include "config/config.hpp"
#include "provenance/encoding.hpp"
#include "provenance/formats.hpp"
#include "provenance/run_view.hpp"

using namespace chainsd;
using namespace chainsd::provenance;
namespace bj = boost::json;

namespace {

const std::string h1(64, '1'), h2(64, '2'), h3(64, '3'), h4(64, '4'), h5(64, '5'), h6(64, '6');
const std::string step_image = "docker-pullable://gcr.io/step@sha256:" + std::string(64, 'e');

config::config cfg(config::data_map d = {}) {
  auto r = config::parse(d);
  REQUIRE(r.ok());
  return *r.value;
}

bj::value payload(format f, const run_view& run, const std::vector<run_view>& children = {},
                  config::data_map d = {}) {
  return bj::parse(make_payload(f, run, children, cfg(std::move(d))));
}

std::string names(const bj::value& statement) {
  std::string out;
  if (!statement.as_object().contains("subject")) return out;
  for (const auto& s : statement.at("subject").as_array()) {
    if (!out.empty()) out += ' ';
    out += std::string(s.at("name").as_string());
    for (const auto& [alg, hex] : s.at("digest").as_object())
      out += "@" + std::string(alg) + ":" + std::string(hex.as_string()).substr(0, 2);
  }
  return out;
}

std::string type_hint_run() {
  return R"({"apiVersion":"tekton.dev/v1","kind":"TaskRun","metadata":{"name":"tr","uid":"u-1"},
  "spec":{"serviceAccountName":"sa","timeout":"1h","taskRef":{"name":"build","resolver":""}},
  "status":{"startTime":"2024-01-01T00:00:00Z","completionTime":"2024-01-01T00:01:00+01:00",
   "conditions":[{"type":"Succeeded","status":"True"}],
   "steps":[{"name":"s","imageID":")" + step_image + R"("}],
   "results":[
    {"name":"first-IMAGE_URL","value":"gcr.io/first"},
    {"name":"first-IMAGE_DIGEST","value":"sha256:)" + h3 + R"("},
    {"name":"IMAGES","value":"busybox:1.36@sha256:)" + h1 + R"(,\n docker.io/library/busybox@sha256:)" + h1 +
         R"(, gcr.io/x/y@sha256:)" + h2 + R"(, not-a-digest"},
    {"name":"a-ARTIFACT_URI","value":"pkg:maven/x@1"},
    {"name":"a-ARTIFACT_DIGEST","value":"sha512:)" + std::string(128, 'a') + R"("},
    {"name":"b-ARTIFACT_URI","value":"pkg:bad"},
    {"name":"b-ARTIFACT_DIGEST","value":"sha256:nothex"},
    {"name":"out-ARTIFACT_OUTPUTS","value":{"uri":"gcr.io/out","digest":"sha256:)" + h4 + R"("}},
    {"name":"in-ARTIFACT_INPUTS","value":{"uri":"git+https://in.example/repo","digest":"sha1:)" +
         std::string(40, 'f') + R"("}},
    {"name":"obj","type":"object","value":{"b":"2","a":"<1>"}}
   ]}})";
}

}  // namespace

TEST_CASE("type hinting: image pairs, IMAGES with tags, ARTIFACT_URI/DIGEST, ARTIFACT_OUTPUTS (slsa/v1)") {
  auto run = parse_run(type_hint_run(), "tr.json");
  auto st = payload(format::slsa_v1, run);
  // extract.subjectsFromTektonObject: OCI images (pairs, IMAGES, build artifacts), then
  // ARTIFACT_URI/DIGEST pairs with a valid digest, then ARTIFACT_OUTPUTS objects.
  CHECK(names(st) ==
        "gcr.io/first@sha256:33 index.docker.io/library/busybox@sha256:11 gcr.io/x/y@sha256:22 "
        "pkg:maven/x@1@sha512:aa gcr.io/out@sha256:44");
  const auto& mats = st.at("predicate").at("materials").as_array();
  REQUIRE(mats.size() == 2);
  CHECK(mats[0].at("uri") == "oci://gcr.io/step");
  CHECK(mats[1].at("uri") == "git+https://in.example/repo");
  CHECK(mats[1].at("digest").at("sha1") == bj::value(std::string(40, 'f')));
  CHECK(st.at("predicate").at("metadata").at("buildFinishedOn") == "2023-12-31T23:01:00Z");
}

TEST_CASE("type hinting: v2alpha4 subjects and byproducts, object result content") {
  auto run = parse_run(type_hint_run(), "tr.json");
  auto st = payload(format::slsa_v2alpha4, run);
  // SubjectsFromBuildArtifact: build artifacts (none: no isBuildArtifact) then OCI images.
  CHECK(names(st) == "gcr.io/first@sha256:33 index.docker.io/library/busybox@sha256:11 gcr.io/x/y@sha256:22");
  std::vector<std::string> bp;
  for (const auto& b : st.at("predicate").at("runDetails").at("byproducts").as_array())
    bp.emplace_back(b.at("name").as_string());
  CHECK(bp == std::vector<std::string>{"taskRunResults/tr/a-ARTIFACT_URI", "taskRunResults/tr/a-ARTIFACT_DIGEST",
                                       "taskRunResults/tr/b-ARTIFACT_URI", "taskRunResults/tr/b-ARTIFACT_DIGEST",
                                       "taskRunResults/tr/out-ARTIFACT_OUTPUTS",
                                       "taskRunResults/tr/in-ARTIFACT_INPUTS", "taskRunResults/tr/obj"});
  const auto& last = st.at("predicate").at("runDetails").at("byproducts").as_array().back();
  // Go's json.Marshal of a map: sorted keys, HTML-safe escapes.
  CHECK(last.at("content") == bj::value(base64_encode(R"({"a":"\u003c1\u003e","b":"2"})")));
  CHECK(last.at("mediaType") == "application/json");
  const auto& bd = st.at("predicate").at("buildDefinition");
  CHECK(bd.at("externalParameters").at("runSpec") ==
        bj::parse(R"({"serviceAccountName":"sa","timeout":"1h0m0s","taskRef":{"name":"build"}})"));
  CHECK(bd.at("internalParameters") == bj::object{});
  CHECK(st.at("predicate").at("runDetails").at("metadata").at("invocationId") == "u-1");
}

TEST_CASE("ARTIFACT_OUTPUTS with isBuildArtifact is an image subject and not a v2alpha4 byproduct") {
  auto run = parse_run(R"({"kind":"TaskRun","metadata":{"name":"t"},"status":{"results":[
    {"name":"img-ARTIFACT_OUTPUTS","value":{"uri":"busybox","digest":"sha256:)" + h1 + R"(","isBuildArtifact":"true"}},
    {"name":"bad-ARTIFACT_OUTPUTS","value":{"uri":"x","digest":"sha256:","isBuildArtifact":"true"}},
    {"name":"str-ARTIFACT_OUTPUTS","value":"not an object"}]}})", "t.json");
  auto st = payload(format::slsa_v2alpha4, run);
  // The build artifact, then its OCI-normalized twin (a different name, so not merged).
  CHECK(names(st) == "busybox@sha256:11 index.docker.io/library/busybox@sha256:11");
  CHECK_FALSE(st.at("predicate").at("runDetails").as_object().contains("byproducts"));
  auto images = extract_images(run);
  REQUIRE(images.size() == 1);
  CHECK(images[0].name() == "index.docker.io/library/busybox@sha256:" + h1);
}

TEST_CASE("git hints: taskSpec defaults < spec params < results") {
  auto make = [](const std::string& spec_params, const std::string& results) {
    return parse_run(R"({"kind":"TaskRun","spec":{"params":)" + spec_params + R"(},"status":{
      "taskSpec":{"params":[{"name":"CHAINS-GIT_URL","default":"https://default"},
                            {"name":"CHAINS-GIT_COMMIT","default":"c0"}]},
      "results":)" + results + "}}",
                     "t.json");
  };
  auto git = [](const run_view& r) {
    auto st = payload(format::slsa_v1, r);
    const auto& m = st.at("predicate").at("materials").as_array().back();
    return std::string(m.at("uri").as_string()) + " " + std::string(m.at("digest").at("sha1").as_string());
  };
  CHECK(git(make("[]", "[]")) == "git+https://default.git c0");
  CHECK(git(make(R"([{"name":"CHAINS-GIT_COMMIT","value":"c1"}])", "[]")) == "git+https://default.git c1");
  CHECK(git(make(R"([{"name":"CHAINS-GIT_COMMIT","value":"c1"}])",
                 R"([{"name":"CHAINS-GIT_COMMIT","value":"c2"},{"name":"CHAINS-GIT_URL","value":"git+https://r.git"}])")) ==
        "git+https://r.git c2");
  // v2: the same material is named inputs/result; the pipelineResource copy is deduplicated away.
  auto st = payload(format::slsa_v2alpha3, make("[]", "[]"));
  const auto& deps = st.at("predicate").at("buildDefinition").at("resolvedDependencies").as_array();
  REQUIRE(deps.size() == 1);
  CHECK(deps[0].at("name") == "inputs/result");
}

TEST_CASE("git hints: a PipelineRun needs both URL and commit; results override params") {
  auto pr = [](const std::string& results) {
    return parse_run(R"({"kind":"PipelineRun","spec":{"params":[{"name":"CHAINS-GIT_URL","value":"https://p"}]},
      "status":{"pipelineSpec":{"params":[{"name":"CHAINS-GIT_COMMIT","default":"d0"}],"tasks":[]},
      "results":)" + results + "}}",
                     "pr.json");
  };
  auto st = payload(format::slsa_v1, pr("[]"));
  CHECK(st.at("predicate").at("materials") == bj::parse(R"([{"uri":"git+https://p.git","digest":{"sha1":"d0"}}])"));
  st = payload(format::slsa_v1, pr(R"([{"name":"CHAINS-GIT_COMMIT","value":"r1"}])"));
  CHECK(st.at("predicate").at("materials") == bj::parse(R"([{"uri":"git+https://p.git","digest":{"sha1":"r1"}}])"));
  st = payload(format::slsa_v1, pr(R"([{"name":"CHAINS-GIT_URL","value":""}])"));
  CHECK_FALSE(st.at("predicate").as_object().contains("materials"));
}

TEST_CASE("step results (v2alpha4): subjects, step-action inputs, remote StepActions, byproducts") {
  auto run = parse_run(R"({"kind":"TaskRun","metadata":{"name":"tr"},
    "status":{"completionTime":"2024-01-01T00:00:00Z","steps":[
      {"name":"clone","imageID":")" + step_image + R"(","results":[
        {"name":"CHAINS-GIT_URL","value":"https://git.example/repo"},
        {"name":"CHAINS-GIT_COMMIT","value":"abc"}]},
      {"name":"fetch","imageID":")" + step_image + R"(","results":[
        {"name":"dep-ARTIFACT_INPUTS","value":{"uri":"pkg:npm/x","digest":"sha256:)" + h2 + R"("}}]},
      {"name":"push","imageID":")" + step_image + R"(","provenance":{"refSource":{"uri":"oci://actions/push","digest":{"sha256":")" + h6 + R"("}}},
       "results":[{"name":"img-ARTIFACT_OUTPUTS","value":{"uri":"gcr.io/built","digest":"sha256:)" + h5 + R"(","isBuildArtifact":"true"}}]}],
    "results":[]}})", "tr.json");
  auto st = payload(format::slsa_v2alpha4, run);
  CHECK(names(st) == "gcr.io/built@sha256:55");
  auto deps = st.at("predicate").at("buildDefinition").at("resolvedDependencies");
  CHECK(deps == bj::parse(R"([
    {"uri":"oci://gcr.io/step","digest":{"sha256":")" + std::string(64, 'e') + R"("}},
    {"name":"inputs/result","uri":"git+https://git.example/repo.git","digest":{"sha1":"abc"}},
    {"name":"inputs/result","uri":"pkg:npm/x","digest":{"sha256":")" + h2 + R"("}},
    {"name":"stepAction/push","uri":"oci://actions/push","digest":{"sha256":")" + h6 + R"("}}])"));
  std::vector<std::string> bp;
  for (const auto& b : st.at("predicate").at("runDetails").at("byproducts").as_array())
    bp.emplace_back(b.at("name").as_string());
  CHECK(bp == std::vector<std::string>{"stepResults/tr/CHAINS-GIT_URL", "stepResults/tr/CHAINS-GIT_COMMIT",
                                       "stepResults/tr/dep-ARTIFACT_INPUTS"});
  // v2alpha3 ignores step results entirely.
  auto st3 = payload(format::slsa_v2alpha3, run);
  CHECK(names(st3) == "");
  CHECK(st3.at("predicate").at("buildDefinition").at("resolvedDependencies").as_array().size() == 1);
}

namespace {
std::string child(const std::string& name, const std::string& task, const std::string& status,
                  bool completed, const std::string& digest) {
  return R"({"kind":"TaskRun","metadata":{"name":")" + name + R"(","labels":{"tekton.dev/pipelineTask":")" + task +
         R"("}},"spec":{"params":[{"name":"p","value":"v"}]},"status":{"startTime":"2024-01-01T00:00:00Z",)" +
         (completed ? R"("completionTime":"2024-01-01T00:01:00Z",)" : "") + R"("conditions":[{"type":"Succeeded","status":")" +
         status + R"("}],"steps":[{"name":"s","imageID":")" + step_image + R"("}],
         "taskSpec":{"steps":[{"name":"s","command":["make","all"],"args":["-j"]}]},
         "results":[{"name":"IMAGE_URL","value":"gcr.io/)" + name + R"("},{"name":"IMAGE_DIGEST","value":"sha256:)" + digest +
         R"("}]}})";
}

run_view pipeline() {
  return parse_run(R"J({"kind":"PipelineRun","metadata":{"name":"pr"},
    "spec":{"pipelineRef":{"name":"p"},"taskRunTemplate":{"serviceAccountName":"sa"}},
    "status":{"startTime":"2024-01-01T00:00:00Z","completionTime":"2024-01-01T00:05:00Z",
     "pipelineSpec":{"tasks":[{"name":"a","taskRef":{"name":"ta"}},
                              {"name":"b","taskRef":{"name":"tb"},"params":[{"name":"x","value":"$(tasks.a.results.IMAGE_URL)"}]}],
                     "finally":[{"name":"f","taskSpec":{"steps":[]}}]},
     "results":[{"name":"IMAGE_URL","value":"gcr.io/pr"},{"name":"IMAGE_DIGEST","value":"sha256:)J" + h1 + R"("}]}})",
                   "pr.json");
}
}  // namespace

TEST_CASE("deep inspection with a failed and an unfinished child (slsa/v1)") {
  std::vector<run_view> children{parse_run(child("tr-a", "a", "False", true, h2), "a.json"),
                                 parse_run(child("tr-b", "b", "Unknown", false, h3), "b.json"),
                                 parse_run(child("tr-f", "f", "True", true, h4), "f.json")};
  auto pr = pipeline();
  // Children first (pipeline order, unfinished ones skipped), then the PipelineRun's own.
  CHECK(names(payload(format::slsa_v1, pr, children, {{"artifacts.pipelinerun.enable-deep-inspection", "true"}})) ==
        "gcr.io/tr-a@sha256:22 gcr.io/tr-f@sha256:44 gcr.io/pr@sha256:11");
  auto st = payload(format::slsa_v1, pr, children);
  CHECK(names(st) == "gcr.io/pr@sha256:11");
  const auto& tasks = st.at("predicate").at("buildConfig").at("tasks").as_array();
  REQUIRE(tasks.size() == 2);
  CHECK(tasks[0].at("name") == "a");
  CHECK(tasks[0].at("status") == "Failed");
  CHECK(tasks[0].at("ref") == bj::parse(R"({"name":"ta"})"));
  CHECK(tasks[0].at("serviceAccountName") == "sa");
  CHECK(tasks[0].at("steps").at(0).at("entryPoint") == "make all");
  CHECK(tasks[0].at("steps").at(0).at("arguments") == bj::parse(R"(["-j"])"));
  CHECK_FALSE(tasks[0].as_object().contains("after"));
  CHECK(tasks[1].at("name") == "f");
  CHECK(tasks[1].at("ref") == bj::object{});
  // Upstream's "last" is the last pipeline task that has any TaskRun, finished or not.
  CHECK(tasks[1].at("after") == bj::parse(R"(["b"])"));
}

TEST_CASE("deep inspection with failed children (slsa/v2alpha4)") {
  std::vector<run_view> children{parse_run(child("tr-a", "a", "False", true, h2), "a.json"),
                                 parse_run(child("tr-b", "b", "Unknown", false, h3), "b.json")};
  auto st = payload(format::slsa_v2alpha4, pipeline(), children,
                    {{"artifacts.pipelinerun.enable-deep-inspection", "true"}});
  CHECK(names(st) == "gcr.io/pr@sha256:11 gcr.io/tr-a@sha256:22");
  CHECK(st.at("predicate").at("buildDefinition").at("externalParameters").at("runSpec") ==
        bj::parse(R"({"pipelineRef":{"name":"p"},"taskRunTemplate":{"serviceAccountName":"sa"}})"));
}

TEST_CASE("slsa-tekton build type adds labels and annotations and pipelineTask content") {
  std::vector<run_view> children{parse_run(child("tr-a", "a", "True", true, h2), "a.json")};
  auto st = payload(format::slsa_v2alpha3, pipeline(), children,
                    {{"builddefinition.buildtype", "https://tekton.dev/chains/v2/slsa-tekton"}});
  const auto& bd = st.at("predicate").at("buildDefinition");
  CHECK(bd.at("buildType") == "https://tekton.dev/chains/v2/slsa-tekton");
  CHECK(bd.at("internalParameters") == bj::parse(R"({"labels":null,"annotations":null})"));
  CHECK(bd.at("resolvedDependencies").at(0).at("name") == "pipelineTask");
  CHECK(bd.at("resolvedDependencies").at(0).as_object().contains("content"));
}

TEST_CASE("remote runs carry buildConfigSource; the smallest digest algorithm is the ref") {
  auto run = parse_run(R"({"kind":"TaskRun","spec":{"taskRef":{"resolver":"git","params":[{"name":"url","value":"u"}]}},
    "status":{"provenance":{"refSource":{"uri":"git+https://r","digest":{"sha256":"bb","sha1":"aa"},"entryPoint":"t.yaml"}}}})",
                       "t.json");
  auto st = payload(format::slsa_v2alpha3, run);
  CHECK(st.at("predicate").at("buildDefinition").at("externalParameters").at("buildConfigSource") ==
        bj::parse(R"({"ref":"sha1:aa","repository":"git+https://r","path":"t.yaml"})"));
}

TEST_CASE("simplesigning payloads, one per image") {
  auto run = parse_run(type_hint_run(), "tr.json");
  auto images = extract_images(run);
  REQUIRE(images.size() == 3);
  CHECK(make_simplesigning_payload(images[1]) ==
        R"({"critical":{"identity":{"docker-reference":"index.docker.io/library/busybox"},"image":{"docker-manifest-digest":"sha256:)" +
            h1 + R"("},"type":"cosign container image signature"},"optional":null})");
  CHECK(parse_format("in-toto") == format::slsa_v1);
  CHECK(parse_format("simplesigning") == format::simplesigning);
  CHECK_FALSE(parse_format("tekton"));
}

TEST_CASE("YAML and JSON give the same payload") {
  const std::string yaml = R"(apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: tr
  labels:
    app: "42"
spec:
  params:
    - name: count
      value: "3"
status:
  startTime: "2024-01-01T00:00:00Z"
  completionTime: 2024-01-01T00:01:00Z
  results:
    - name: IMAGE_URL
      value: gcr.io/y
    - name: IMAGE_DIGEST
      value: sha256:)" + h1 + "\n";
  const std::string json = R"({"apiVersion":"tekton.dev/v1","kind":"TaskRun","metadata":{"name":"tr","labels":{"app":"42"}},
    "spec":{"params":[{"name":"count","value":"3"}]},"status":{"startTime":"2024-01-01T00:00:00Z",
    "completionTime":"2024-01-01T00:01:00Z","results":[{"name":"IMAGE_URL","value":"gcr.io/y"},
    {"name":"IMAGE_DIGEST","value":"sha256:)" + h1 + R"("}]}})";
  auto a = make_payload(format::slsa_v2alpha4, parse_run_document(yaml, "tr.yaml"), {}, cfg());
  auto b = make_payload(format::slsa_v2alpha4, parse_run_document(json, "tr.json"), {}, cfg());
  CHECK(a == b);
}

TEST_CASE("payloads are deterministic bytes") {
  auto run = parse_run(type_hint_run(), "tr.json");
  for (auto f : {format::slsa_v1, format::slsa_v2alpha3, format::slsa_v2alpha4})
    CHECK(make_payload(f, run, {}, cfg()) == make_payload(f, parse_run(type_hint_run(), "tr.json"), {}, cfg()));
  auto p = make_payload(format::slsa_v1, run, {}, cfg());
  // Statement fields in protobuf order, predicate keys sorted.
  CHECK(p.rfind(R"({"_type":"https://in-toto.io/Statement/v0.1","subject":[)", 0) == 0);
  CHECK(p.find(R"("predicateType":"https://slsa.dev/provenance/v0.2","predicate":{"buildConfig":)") != std::string::npos);
}

TEST_CASE("bad input names the file, the field and the problem") {
  auto error_of = [](const std::string& doc) {
    try {
      auto r = parse_run_document(doc, "run.json");
      (void)make_payload(format::slsa_v1, r, {}, cfg());
    } catch (const input_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of(R"({"kind":"TaskRun","spec":{}})") ==
        "run.json: status: missing: the run has not been reconciled by Tekton yet");
  CHECK(error_of(R"({"status":{"results":[{"name":"x","value":3}]}})") ==
        "run.json: status.results[0].value: must be a string, an array of strings or an object of strings, got a number");
  CHECK(error_of(R"({"status":{"results":{"name":"x"}}})") == "run.json: status.results: must be an array, got an object");
  CHECK(error_of(R"({"status":{"results":[{"name":"x","value":{"a":1}}]}})") ==
        "run.json: status.results[0].value.a: must be a string, got a number");
  CHECK(error_of(R"({"status":{"steps":[{"name":"s","imageID":"gcr.io/x:latest"}]}})") ==
        "run.json: status.steps[0].imageID: expected imageID \"gcr.io/x:latest\" to be separable by @");
  CHECK(error_of(R"({"status":{"startTime":"monday"}})") ==
        "run.json: status.startTime: \"monday\" is not an RFC 3339 time");
  CHECK(error_of(R"({"apiVersion":"tekton.dev/v1beta1","status":{}})") ==
        "run.json: apiVersion: \"tekton.dev/v1beta1\" is not supported; fetch the run as tekton.dev/v1");
  CHECK(error_of(R"({"status":)").rfind("run.json: not valid JSON", 0) == 0);
  CHECK(error_of("a: [b").rfind("run.json: not valid YAML", 0) == 0);
  CHECK(error_of(R"({"kind":"Pod","status":{}})") == "run.json: kind: \"Pod\" is neither TaskRun nor PipelineRun");
}

TEST_CASE("a 10 MB run with 10,000 results is processed in linear time") {
  std::string doc = R"({"kind":"TaskRun","metadata":{"name":"big"},"status":{"steps":[{"name":"s","imageID":")" +
                    step_image + R"("}],"results":[)";
  const std::string pad(1600, 'p');
  for (int i = 0; i < 10000; ++i) {
    if (i) doc += ',';
    char hex[65];
    std::snprintf(hex, sizeof hex, "%064x", i);
    switch (i % 4) {
      case 0: doc += R"({"name":"r)" + std::to_string(i) + R"(-IMAGE_URL","value":"gcr.io/img)" + std::to_string(i) + R"("})"; break;
      case 1: doc += R"({"name":"r)" + std::to_string(i - 1) + R"(-IMAGE_DIGEST","value":"sha256:)" + hex + R"("})"; break;
      case 2: doc += R"({"name":"o)" + std::to_string(i) + R"(-ARTIFACT_OUTPUTS","value":{"uri":"pkg:x/)" + std::to_string(i) + R"(","digest":"sha256:)" + hex + R"(","isBuildArtifact":"true","pad":")" + pad + R"("}})"; break;
      default: doc += R"({"name":"in)" + std::to_string(i) + R"(-ARTIFACT_INPUTS","value":{"uri":"pkg:same","digest":"sha256:)" + hex + R"(","pad":")" + pad + pad + R"("}})";
    }
  }
  doc += "]}}";
  REQUIRE(doc.size() > 10'000'000);
  auto start = std::chrono::steady_clock::now();
  auto run = parse_run(doc, "big.json");
  for (auto f : {format::slsa_v1, format::slsa_v2alpha3, format::slsa_v2alpha4}) {
    auto st = bj::parse(make_payload(f, run, {}, cfg()));
    CHECK(st.at("subject").as_array().size() >= 5000);
  }
  CHECK(extract_images(run).size() == 2500);  // "pkg:x/N" is no image reference
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO("took " << seconds << " s");
  CHECK(seconds < 30);
}
