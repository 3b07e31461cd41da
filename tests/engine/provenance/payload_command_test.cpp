// `chainsd payload` end to end: the real binary (path in $CHAINSD) on files written here.
#include "../../support/run_chainsd.hpp"

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
  CHECK(std::count(o.out.begin(), o.out.end(), '\n') == 1);  // between the two; none added after the last
  CHECK(o.out.back() == '}');
  auto nl = run("--format simplesigning --newline " + f.string());
  CHECK(nl.out == o.out + "\n");
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

// Issue 19 item 10.
TEST_CASE("the payload is printed exactly as signed: no newline added unless --newline") {
  auto f = write("tr.json", taskrun);
  auto o = run("--format slsa/v1 " + f.string());
  REQUIRE(o.code == 0);
  CHECK(o.out.back() == '}');
  CHECK(run("--format slsa/v1 --newline " + f.string()).out == o.out + "\n");
}

TEST_CASE("a file with several runs is an error naming them; --run picks one") {
  auto one = [](const std::string& name) {
    return "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: " + name +
           "\n  namespace: ci\nstatus:\n  completionTime: \"2024-01-01T00:00:00Z\"\n";
  };
  auto f = write("two.yaml", one("a") + "---\n" + one("b"));
  auto o = run("--format slsa/v1 " + f.string());
  CHECK(o.code == 1);
  CHECK(o.out.empty());
  CHECK(o.err == "chainsd payload: " + f.string() + ": holds 2 objects (TaskRun ci/a (document 1), TaskRun ci/b "
                 "(document 2)); give one run, or pick one with --run NAME\n");
  o = run("--format slsa/v1 --run b " + f.string());
  INFO(o.err);
  REQUIRE(o.code == 0);
  CHECK(bj::parse(o.out).at("predicate").at("invocation").at("configSource").is_object());
  CHECK(run("--format slsa/v1 --run ci/a " + f.string()).code == 0);
  o = run("--format slsa/v1 --run c " + f.string());
  CHECK(o.code == 1);
  CHECK_THAT(o.err, Catch::Contains("--run c: no run of that name among TaskRun ci/a (document 1), TaskRun ci/b"));
}

TEST_CASE("kubectl get -o json Lists: one item is the run, more need --run, a PipelineRun takes its TaskRuns") {
  auto list = [](const std::string& items) { return R"({"apiVersion":"v1","kind":"List","items":[)" + items + "]}"; };
  auto single = write("list1.json", list(taskrun));
  auto o = run("--format slsa/v2alpha4 " + single.string());
  INFO(o.err);
  REQUIRE(o.code == 0);
  CHECK(bj::parse(o.out).at("subject").at(0).at("name") == "index.docker.io/library/busybox");

  auto child = [](const std::string& name, const std::string& pr) {
    return R"({"apiVersion":"tekton.dev/v1","kind":"TaskRun","metadata":{"name":")" + name +
           R"(","labels":{"tekton.dev/pipelineRun":")" + pr + R"(","tekton.dev/pipelineTask":"build"}},
      "status":{"completionTime":"2024-01-01T00:00:00Z","steps":[{"name":"s","imageID":"gcr.io/x@)" + digest + R"("}]}})";
  };
  const std::string pr = R"({"apiVersion":"tekton.dev/v1","kind":"PipelineRun","metadata":{"name":"pr"},
    "status":{"completionTime":"2024-01-01T00:01:00Z","pipelineSpec":{"tasks":[{"name":"build"}]},
              "childReferences":[{"kind":"TaskRun","name":"pr-build","pipelineTaskName":"build"}]}})";
  auto mixed = write("mixed.json", list(pr + "," + child("pr-build", "pr") + "," + child("other-build", "other")));
  o = run("--format slsa/v1 " + mixed.string());
  CHECK(o.code == 1);
  CHECK_THAT(o.err, Catch::Contains("holds 3 objects (PipelineRun pr (items[0]), TaskRun pr-build (items[1]), "
                                    "TaskRun other-build (items[2]))"));
  o = run("--format slsa/v1 --run pr " + mixed.string());
  INFO(o.err);
  REQUIRE(o.code == 0);
  CHECK_THAT(o.err, Catch::Contains("1 TaskRun of the file labelled tekton.dev/pipelineRun=pr used as children"));
  auto with_file_children = o.out;
  // The same child given with --child (a List of one) gives the same statement.
  auto kids = write("kids.json", list(child("pr-build", "pr")));
  auto alone = write("pr.json", pr);
  o = run("--format slsa/v1 --child " + kids.string() + " " + alone.string());
  REQUIRE(o.code == 0);
  CHECK(o.out == with_file_children);
  CHECK(run("--format slsa/v1 " + alone.string()).out != with_file_children);  // children make a difference
  auto bad_child = write("badkids.json", list(pr));
  o = run("--format slsa/v1 --child " + bad_child.string() + " " + alone.string());
  CHECK(o.code == 1);
  CHECK_THAT(o.err, Catch::Contains("badkids.json items[0]: kind: a --child must be a TaskRun, not a PipelineRun"));
  auto cm = write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n");
  o = run("--format slsa/v1 " + cm.string());
  CHECK(o.code == 1);
  CHECK_THAT(o.err, Catch::Contains("cm.yaml: kind: is a ConfigMap, not a TaskRun or PipelineRun"));
}

TEST_CASE("an invalid IMAGE_DIGEST warns instead of silently dropping the image") {
  auto f = write("baddigest.json", R"({"kind":"TaskRun","metadata":{"name":"tr"},
    "status":{"completionTime":"2024-01-01T00:00:00Z","results":[
      {"name":"IMAGE_URL","value":"gcr.io/x/app"},{"name":"IMAGE_DIGEST","value":"sha256:abc"},
      {"name":"LIB_IMAGE_DIGEST","value":")" + digest + R"("},
      {"name":"IMAGES","value":"gcr.io/x/ok@)" + digest + R"(, gcr.io/x/nodigest:latest"}]}})");
  auto o = run("--format slsa/v1 " + f.string());
  INFO(o.err);
  REQUIRE(o.code == 0);
  CHECK_THAT(o.err, Catch::Contains("warning: " + f.string() + ": result IMAGE_DIGEST \"sha256:abc\" (with IMAGE_URL "
                                    "\"gcr.io/x/app\") is not a valid image digest"));
  CHECK_THAT(o.err, Catch::Contains("result LIB_IMAGE_DIGEST has no LIB_IMAGE_URL beside it"));
  CHECK_THAT(o.err, Catch::Contains("result IMAGES entry \"gcr.io/x/nodigest:latest\" is not repo@sha256"));
  CHECK_THAT(o.err, !Catch::Contains("gcr.io/x/ok"));
  auto subjects = bj::parse(o.out).at("subject").as_array();
  REQUIRE(subjects.size() == 1);
  CHECK(subjects[0].at("name") == "gcr.io/x/ok");
}

TEST_CASE("kubectl get -o yaml Lists are read like JSON ones") {
  auto f = write("list.yaml", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: tekton.dev/v1\n  kind: TaskRun\n"
                              "  metadata:\n    name: only\n  status:\n    completionTime: \"2024-01-01T00:00:00Z\"\n"
                              "    results:\n    - name: IMAGES\n      value: gcr.io/x/y@" + digest + "\n"
                              "metadata:\n  resourceVersion: \"\"\n");
  auto o = run("--format slsa/v1 " + f.string());
  INFO(o.err);
  REQUIRE(o.code == 0);
  CHECK(bj::parse(o.out).at("subject").at(0).at("name") == "gcr.io/x/y");
  auto empty = write("empty-list.json", R"({"apiVersion":"v1","kind":"List","items":[]})");
  o = run("--format slsa/v1 " + empty.string());
  CHECK(o.code == 1);
  CHECK_THAT(o.err, Catch::EndsWith("empty-list.json: holds no objects (an empty List)\n"));
}
