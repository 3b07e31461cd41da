// `chainsd config check` on files written here (issue 19 item 9): what is not a chains-config
// ConfigMap is rejected naming the problem, every plugin problem is reported, and a missing
// signing key hints at --signing-secrets. Plugins: $CHAINSD_PLUGINS (x509, tekton), copied to a
// directory of their own.
#include "../../support/run_chainsd.hpp"

#include <cstring>

using chainsd_test::outcome;
using chainsd_test::scratch;
using chainsd_test::write;
namespace fs = std::filesystem;

namespace {

std::string plugin_dir() {
  auto dir = scratch() / "plugins";
  if (fs::exists(dir)) return dir.string();
  fs::create_directories(dir);
  const char* list = std::getenv("CHAINSD_PLUGINS");
  REQUIRE(list);
  std::string s = list;
  for (std::size_t start = 0; start < s.size();) {
    auto end = s.find(':', start);
    fs::path p = s.substr(start, end == std::string::npos ? std::string::npos : end - start);
    fs::copy_file(p, dir / p.filename());
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return dir.string();
}

// A signing-secrets directory with an (unencrypted) x509.pem, as the signer reads it.
std::string secrets_dir() {
  auto dir = scratch() / "secrets";
  if (fs::exists(dir / "x509.pem")) return dir.string();
  fs::create_directories(dir);
  auto cmd = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '" + (dir / "x509.pem").string() +
             "' 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  return dir.string();
}

outcome check(const std::string& text, const std::string& extra = "") {
  auto f = write("cm.yaml", text);
  return chainsd_test::run_chainsd("config check --plugin-dir " + plugin_dir() + " " + extra + " " + f.string());
}

outcome check_with_key(const std::string& text) { return check(text, "--signing-secrets " + secrets_dir()); }

const std::string good = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: chains-config\n  namespace: tekton-chains\n"
                         "data:\n  artifacts.oci.storage: tekton\n";

}  // namespace

TEST_CASE("a chains-config ConfigMap with a key at hand is accepted") {
  auto o = check_with_key(good);
  INFO(o.out + o.err);
  CHECK(o.code == 0);
  CHECK_THAT(o.out, Catch::EndsWith("accepted (0 warnings, 0 errors)\n"));
  auto json = check_with_key(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"chains-config"},
    "data":{"artifacts.oci.storage":"tekton"}})");
  CHECK(json.code == 0);
}

TEST_CASE("empty input and non-YAML are rejected naming the problem") {
  for (auto text : {"", "   \n\n", "# only a comment\n---\n"}) {
    auto o = check_with_key(text);
    INFO(text);
    CHECK(o.code == 1);
    CHECK_THAT(o.err, Catch::Contains("cm.yaml: empty input"));
    CHECK(o.out.empty());
  }
  auto o = check_with_key("data: [unclosed\n");
  CHECK(o.code == 1);
  CHECK_THAT(o.err, Catch::Contains("cm.yaml: not valid YAML"));
  o = check_with_key("just some words\n");
  CHECK(o.code == 1);
  CHECK_THAT(o.err, Catch::Contains("cm.yaml: is a string, not an object"));
  o = check_with_key("{\"kind\": \"ConfigMap\",");
  CHECK(o.code == 1);
  CHECK_THAT(o.err, Catch::Contains("cm.yaml: not valid JSON"));
}

TEST_CASE("a document that is not a ConfigMap is rejected") {
  auto o = check_with_key("apiVersion: v1\nkind: Secret\nmetadata:\n  name: chains-config\ndata: {}\n");
  CHECK(o.code == 1);
  CHECK_THAT(o.err, Catch::Contains("cm.yaml: is a Secret, not a ConfigMap"));
  o = check_with_key("artifacts.taskrun.format: slsa/v1\n");  // the data map alone
  CHECK(o.code == 1);
  CHECK_THAT(o.err, Catch::Contains("cm.yaml: has no kind, not a ConfigMap"));
  o = check_with_key(R"({"apiVersion":"v1","kind":"List","items":[]})");
  CHECK(o.code == 1);
  CHECK_THAT(o.err, Catch::Contains("cm.yaml: holds no objects (an empty List)"));
  o = check_with_key(R"({"apiVersion":"v1","kind":"List","items":[)" + std::string(R"({"apiVersion":"v1",)") +
                     R"("kind":"ConfigMap","metadata":{"name":"chains-config"},"data":{"artifacts.oci.storage":"tekton"}}]})");
  CHECK(o.code == 0);  // `kubectl get configmap -o json` of one: a List of one ConfigMap
  o = check_with_key(good + "---\n" + good);
  CHECK(o.code == 1);
  CHECK_THAT(o.err, Catch::Contains("cm.yaml: holds 2 objects (ConfigMap tekton-chains/chains-config (document 1), "
                                    "ConfigMap tekton-chains/chains-config (document 2)); give the chains-config "
                                    "ConfigMap alone"));
}

TEST_CASE("keys outside data: are errors, each named") {
  auto o = check_with_key(good + "artifacts.taskrun.format: slsa/v1\ntransparency.enabled: \"true\"\n");
  INFO(o.out);
  CHECK(o.code == 1);
  CHECK_THAT(o.out, Catch::Contains("cm.yaml: \"artifacts.taskrun.format\" is outside data:"));
  CHECK_THAT(o.out, Catch::Contains("cm.yaml: \"transparency.enabled\" is outside data:"));
  CHECK_THAT(o.out, Catch::EndsWith("rejected (0 warnings, 2 errors)\n"));
  o = check_with_key(good + "binaryData:\n  artifacts.taskrun.format: c2xzYS92MQ==\n");
  CHECK(o.code == 1);
  CHECK_THAT(o.out, Catch::Contains("binaryData.artifacts.taskrun.format is not read by the controller"));
}

TEST_CASE("a ConfigMap not named chains-config is a warning") {
  auto text = good;
  text.replace(text.find("name: chains-config"), std::strlen("name: chains-config"), "name: chains-cfg");
  auto o = check_with_key(text);
  CHECK(o.code == 0);
  CHECK_THAT(o.out, Catch::Contains("cm.yaml: the ConfigMap is named \"chains-cfg\"; the controller reads "
                                    "only the one named chains-config"));
  CHECK_THAT(o.out, Catch::EndsWith("accepted (1 warning, 0 errors)\n"));
}

TEST_CASE("a missing signing key hints at --signing-secrets") {
  if (fs::exists("/etc/signing-secrets")) {
    WARN("/etc/signing-secrets exists on this machine: not checked");
    return;
  }
  auto o = check(good);  // the default /etc/signing-secrets
  CHECK(o.code == 0);     // the controller waits for a key: a warning, not an error of the config
  CHECK_THAT(o.out, Catch::Contains("warning: signer x509: no key in /etc/signing-secrets yet"));
  CHECK_THAT(o.out, Catch::Contains("hint: --signing-secrets DIR names the directory holding the signing-secrets"));
}

TEST_CASE("every plugin problem is reported, not only the first") {
  // oci and kafka are not installed here, pipelineruns name gcs (not installed either), and the
  // transparency log's key file does not exist.
  auto o = check(good + "  artifacts.taskrun.storage: tekton,kafka\n  artifacts.pipelinerun.storage: gcs\n"
                        "  artifacts.oci.signer: kms\n  transparency.enabled: \"true\"\n"
                        "  transparency.publickey: /nonexistent/rekor.pub\n",
                 "--signing-secrets " + secrets_dir());
  INFO(o.out + o.err);
  CHECK(o.code == 1);
  CHECK_THAT(o.out, Catch::Contains("error: artifacts.taskrun.storage: \"kafka\" names no installed storage plugin"));
  CHECK_THAT(o.out, Catch::Contains("error: artifacts.pipelinerun.storage: \"gcs\" names no installed storage plugin"));
  CHECK_THAT(o.out, Catch::Contains("error: artifacts.oci.signer: \"kms\" names no installed signer plugin"));
  CHECK_THAT(o.out, Catch::Contains("error: transparency log: "));
  CHECK_THAT(o.out, Catch::Contains("rejected (0 warnings, 4 errors)"));
}

TEST_CASE("usage errors exit 2, --help exits 0") {
  auto o = chainsd_test::run_chainsd("config check --help");
  CHECK(o.code == 0);
  CHECK_THAT(o.out, Catch::StartsWith("usage: chainsd config check"));
  CHECK(chainsd_test::run_chainsd("config --help").code == 0);
  CHECK(chainsd_test::run_chainsd("config").code == 2);
  CHECK(chainsd_test::run_chainsd("config verify x").code == 2);
  CHECK(chainsd_test::run_chainsd("config check").code == 2);
  CHECK(chainsd_test::run_chainsd("config check --bogus x").code == 2);
}
