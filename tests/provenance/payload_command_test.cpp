// `chainsd payload` end to end: the real binary (path in $CHAINSD) on files written here.
#include "../app/run_chainsd.hpp"

#include <boost/json.hpp>

namespace bj = boost::json;
using chainsd_test::scratch;
using chainsd_test::write;

namespace {

chainsd_test::outcome run(const std::string& args, const std::string& stdin_file = "") {
  return chainsd_test::run_chainsd("payload " + args, stdin_file);
}

const std::string digest = "sha256:" + std::string(64, 'a');
const std::string taskrun = R"({"apiVersion":"tekton.dev/v1","kind":"TaskRun","metadata":{"name":"tr","uid":"u"},
  "spec":{"serviceAccountName":"default"},
  "status":{"startTime":"2024-01-01T00:00:00Z","completionTime":"2024-01-01T00:01:00Z",
  "results":[{"name":"IMAGE_URL","value":"busybox:1.36"},{"name":"IMAGE_DIGEST","value":")" + digest + R"("},
             {"name":"IMAGES","value":"gcr.io/a/b@)" + digest + R"("}]}})";

}  // namespace

TEST_CASE("payload prints the statement and exits 0") {
  auto f = write("tr.json", taskrun);
  auto o = run("--format slsa/v2alpha4 --config builder.id=me " + f.string());
  INFO(o.err);
  REQUIRE(o.code == 0);
  auto st = bj::parse(o.out);
  CHECK(st.at("_type") == "https://in-toto.io/Statement/v1");
  CHECK(st.at("predicate").at("runDetails").at("builder").at("id") == "me");
  CHECK(st.at("subject").at(0).at("name") == "index.docker.io/library/busybox");
}

TEST_CASE("payload reads stdin and YAML, and defaults the format from --config") {
  auto f = write("tr.yaml", "kind: TaskRun\nstatus:\n  results:\n    - name: IMAGE_URL\n      value: gcr.io/x\n"
                            "    - name: IMAGE_DIGEST\n      value: " + digest + "\n");
  auto o = run("--config artifacts.taskrun.format=slsa/v2alpha3 -", f.string());
  INFO(o.err);
  REQUIRE(o.code == 0);
  CHECK(bj::parse(o.out).at("predicateType") == "https://slsa.dev/provenance/v1");
  auto in_toto = run("-", f.string());
  REQUIRE(in_toto.code == 0);
  CHECK(bj::parse(in_toto.out).at("predicateType") == "https://slsa.dev/provenance/v0.2");
}

TEST_CASE("simplesigning prints one payload per image") {
  auto f = write("tr.json", taskrun);
  auto o = run("--format simplesigning " + f.string());
  REQUIRE(o.code == 0);
  auto first = o.out.substr(0, o.out.find('\n'));
  CHECK(first == R"({"critical":{"identity":{"docker-reference":"index.docker.io/library/busybox"},)"
                 R"("image":{"docker-manifest-digest":")" + digest +
                     R"("},"type":"cosign container image signature"},"optional":null})");
  CHECK(std::count(o.out.begin(), o.out.end(), '\n') == 2);
}

TEST_CASE("bad input exits 1 with one line naming file, field and problem") {
  auto f = write("nostatus.json", R"({"kind":"TaskRun","spec":{}})");
  auto o = run("--format in-toto " + f.string());
  CHECK(o.code == 1);
  CHECK(o.out.empty());
  CHECK(o.err == "chainsd payload: " + f.string() + ": status: missing: the run has not been reconciled by Tekton yet\n");

  auto g = write("wrongtype.json", R"({"status":{"results":[{"name":"IMAGE_URL","value":42}]}})");
  o = run("--format in-toto " + g.string());
  CHECK(o.code == 1);
  CHECK(o.err == "chainsd payload: " + g.string() +
                     ": status.results[0].value: must be a string, an array of strings or an object of strings, got a number\n");

  auto c = write("child.json", R"({"kind":"TaskRun","metadata":{"labels":{"tekton.dev/pipelineTask":"a"}},
    "status":{"completionTime":"2024-01-01T00:00:00Z","steps":[{"name":"s","imageID":"gcr.io/x@nodigest"}]}})");
  auto pr = write("pr.json", R"({"kind":"PipelineRun","status":{"pipelineSpec":{"tasks":[{"name":"a"}]}}})");
  o = run("--format slsa/v1 --child " + c.string() + " " + pr.string());
  CHECK(o.code == 1);
  CHECK(o.err == "chainsd payload: " + c.string() +
                     ": status.steps[0].imageID: expected imageID \"gcr.io/x@nodigest\" to be separable by @ and :\n");

  o = run("--format in-toto " + (scratch() / "absent.json").string());
  CHECK(o.code == 1);
  CHECK(o.err.find("absent.json: cannot read: No such file or directory") != std::string::npos);
}

TEST_CASE("bad usage exits 2") {
  auto f = write("tr.json", taskrun);
  auto o = run("--format slsa/v9 " + f.string());
  CHECK(o.code == 2);
  CHECK(o.err.find("--format \"slsa/v9\": unknown, wanted one of [in-toto slsa/v1 slsa/v2alpha3 slsa/v2alpha4 simplesigning]") !=
        std::string::npos);
  o = run("--config artifacts.taskrun.storage=s3 " + f.string());
  CHECK(o.code == 2);
  CHECK(o.err.find("artifacts.taskrun.storage: invalid value \"s3\"") != std::string::npos);
  o = run("--format in-toto");
  CHECK(o.code == 2);
  o = run("--bogus " + f.string());
  CHECK(o.code == 2);
}

TEST_CASE("unknown --config keys warn with a suggestion but do not fail") {
  auto f = write("tr.json", taskrun);
  auto o = run("--config storage.pubusub.topic=x --format in-toto " + f.string());
  CHECK(o.code == 0);
  CHECK(o.err.find("did you mean storage.pubsub.topic?") != std::string::npos);
}
