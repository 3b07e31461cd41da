#include <catch2/catch.hpp>

#include "kube/config.hpp"
#include "../../support/temp_dir.hpp"

#include <cstdlib>
#include <thread>

using namespace chainsd::kube;
using chainsd::test_support::temp_dir;

namespace {

// "CA PEM" and friends, base64-encoded.
constexpr const char* ca_b64 = "Q0EgUEVN";          // CA PEM
constexpr const char* cert_b64 = "Q0VSVCBQRU0=";    // CERT PEM
constexpr const char* key_b64 = "S0VZIFBFTQ==";     // KEY PEM

std::string require_error(const std::filesystem::path& p, const std::string& ctx = {}) {
  try {
    load_kubeconfig(p, ctx);
  } catch (const config_error& e) {
    return e.what();
  }
  FAIL("expected config_error");
  return {};
}

}  // namespace

TEST_CASE("base64 decoding accepts padding, no padding and line breaks") {
  CHECK(base64_decode("Q0EgUEVN") == "CA PEM");
  CHECK(base64_decode("Q0VSVCBQRU0=") == "CERT PEM");
  CHECK(base64_decode("Q0VSVCBQRU0") == "CERT PEM");
  CHECK(base64_decode("Q0VS\nVCBQ\r\nRU0=") == "CERT PEM");
  CHECK_THROWS_AS(base64_decode("Q0V*"), config_error);
  CHECK_THROWS_AS(base64_decode("Q0VSV"), config_error);  // a lone sextet cannot be a byte
  CHECK(base64_decode("-_8=") == "\xfb\xff");  // the URL-safe alphabet too
  CHECK(base64_decode("+/8=") == "\xfb\xff");
}

TEST_CASE("kubeconfig: current-context with inline CA data and a token") {
  temp_dir d;
  auto p = d.write("config", std::string(R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: c1
  cluster:
    server: https://api.example:6443/
    certificate-authority-data: )") + ca_b64 + R"(
contexts:
- name: dev
  context:
    cluster: c1
    user: u1
    namespace: tekton-chains
- name: other
  context:
    cluster: c1
    user: u2
users:
- name: u1
  user:
    token: abc123
- name: u2
  user:
    client-certificate-data: )" + cert_b64 + R"(
    client-key-data: )" + key_b64 + "\n");
  auto cfg = load_kubeconfig(p);
  CHECK(cfg.server == "https://api.example:6443");
  CHECK(cfg.tls.ca_pem == "CA PEM");
  CHECK(cfg.tls.ca_file.empty());
  CHECK(cfg.tls.verify);
  REQUIRE(cfg.token);
  CHECK(cfg.token->get() == "abc123");
  CHECK_FALSE(cfg.token->from_file());
  CHECK(cfg.namespace_name == "tekton-chains");
  CHECK(cfg.source.find("context dev") != std::string::npos);

  SECTION("explicit context overrides current-context") {
    auto o = load_kubeconfig(p, "other");
    CHECK(o.namespace_name == "default");
    CHECK_FALSE(o.token);
    CHECK(o.tls.client_cert_pem == "CERT PEM");
    CHECK(o.tls.client_key_pem == "KEY PEM");
  }
  SECTION("an unknown context is named in the error") {
    auto msg = require_error(p, "nope");
    CHECK(msg.find(p.string()) != std::string::npos);
    CHECK(msg.find("context \"nope\" not found") != std::string::npos);
  }
}

TEST_CASE("kubeconfig: file references resolve against the kubeconfig's folder") {
  temp_dir d;
  d.write("kube/pki/ca.crt", "CA FILE");
  d.write("kube/pki/client.crt", "CLIENT CERT");
  d.write("kube/pki/client.key", "CLIENT KEY");
  d.write("kube/token", "file-token\n");
  auto p = d.write("kube/config", R"(current-context: ctx
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:1234
    certificate-authority: pki/ca.crt
    insecure-skip-tls-verify: true
contexts:
- name: ctx
  context: {cluster: c, user: u}
users:
- name: u
  user:
    tokenFile: token
    client-certificate: pki/client.crt
    client-key: pki/client.key
)");
  auto cfg = load_kubeconfig(p);
  CHECK(cfg.tls.ca_file == (d.path() / "kube/pki/ca.crt").string());
  CHECK(cfg.tls.ca_pem.empty());
  CHECK_FALSE(cfg.tls.verify);
  REQUIRE(cfg.token);
  CHECK(cfg.token->from_file());
  CHECK(cfg.token->get() == "file-token");
  CHECK(cfg.tls.client_cert_pem == "CLIENT CERT");
  CHECK(cfg.tls.client_key_pem == "CLIENT KEY");
}

TEST_CASE("kubeconfig: missing fields give errors naming file and field") {
  temp_dir d;
  SECTION("no server") {
    auto p = d.write("c", "current-context: x\nclusters:\n- name: c\n  cluster: {certificate-authority-data: Q0E=}\n"
                          "contexts:\n- name: x\n  context: {cluster: c}\n");
    auto msg = require_error(p);
    CHECK(msg.find(p.string()) != std::string::npos);
    CHECK(msg.find("cluster \"c\" has no field \"server\"") != std::string::npos);
  }
  SECTION("no current-context") {
    auto p = d.write("c", "clusters: []\ncontexts: []\n");
    CHECK(require_error(p).find("current-context") != std::string::npos);
  }
  SECTION("context without cluster") {
    auto p = d.write("c", "current-context: x\ncontexts:\n- name: x\n  context: {user: u}\n");
    CHECK(require_error(p).find("context \"x\" has no field \"cluster\"") != std::string::npos);
  }
  SECTION("unknown cluster") {
    auto p = d.write("c", "current-context: x\ncontexts:\n- name: x\n  context: {cluster: gone}\nclusters: []\n");
    CHECK(require_error(p).find("cluster \"gone\" not found") != std::string::npos);
  }
  SECTION("unknown user") {
    auto p = d.write("c", "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: who}\n"
                          "clusters:\n- name: c\n  cluster: {server: 'https://h'}\nusers: []\n");
    CHECK(require_error(p).find("user \"who\" not found") != std::string::npos);
  }
  SECTION("missing CA file") {
    auto p = d.write("c", "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
                          "clusters:\n- name: c\n  cluster: {server: 'https://h', certificate-authority: nope.crt}\n");
    auto msg = require_error(p);
    CHECK(msg.find("certificate-authority") != std::string::npos);
    CHECK(msg.find("nope.crt") != std::string::npos);
  }
  SECTION("missing tokenFile") {
    auto p = d.write("c", "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                          "clusters:\n- name: c\n  cluster: {server: 'https://h'}\n"
                          "users:\n- name: u\n  user: {tokenFile: /nonexistent/token}\n");
    auto msg = require_error(p);
    CHECK(msg.find("tokenFile") != std::string::npos);
    CHECK(msg.find("/nonexistent/token") != std::string::npos);
  }
  SECTION("cert without key") {
    auto p = d.write("c", "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                          "clusters:\n- name: c\n  cluster: {server: 'https://h'}\n"
                          "users:\n- name: u\n  user: {client-certificate-data: Q0E=}\n");
    CHECK(require_error(p).find("client-key") != std::string::npos);
  }
  SECTION("exec plugins are refused clearly") {
    auto p = d.write("c", "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                          "clusters:\n- name: c\n  cluster: {server: 'https://h'}\n"
                          "users:\n- name: u\n  user: {exec: {command: gke-gcloud-auth-plugin}}\n");
    CHECK(require_error(p).find("exec") != std::string::npos);
  }
  SECTION("bad base64") {
    auto p = d.write("c", "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
                          "clusters:\n- name: c\n  cluster: {server: 'https://h', certificate-authority-data: '***'}\n");
    CHECK(require_error(p).find("certificate-authority-data") != std::string::npos);
  }
  SECTION("not YAML / not a file") {
    auto p = d.write("c", "{{{{");
    CHECK(require_error(p).find(p.string()) != std::string::npos);
    CHECK(require_error(d.path() / "absent").find("cannot be read") != std::string::npos);
  }
}

TEST_CASE("in-cluster config reads the service-account folder and follows token rotation") {
  temp_dir d;
  d.write("token", "first\n");
  d.write("ca.crt", "CA");
  d.write("namespace", "tekton-chains\n");
  auto cfg = load_in_cluster(d.path(), "10.0.0.1", "443");
  CHECK(cfg.server == "https://10.0.0.1:443");
  CHECK(cfg.tls.ca_file == (d.path() / "ca.crt").string());
  CHECK(cfg.namespace_name == "tekton-chains");
  REQUIRE(cfg.token);
  CHECK(cfg.token->get() == "first");

  SECTION("IPv6 hosts are bracketed") {
    CHECK(load_in_cluster(d.path(), "fd00::1", "6443").server == "https://[fd00::1]:6443");
  }
  SECTION("rotation is picked up when mtime changes") {
    token_source ts(d.path() / "token", std::chrono::milliseconds(0));
    CHECK(ts.get() == "first");
    auto p = d.write("token", "second\n");
    // Guarantee a different mtime even on coarse-grained file systems.
    std::filesystem::last_write_time(p, std::filesystem::last_write_time(p) + std::chrono::seconds(2));
    CHECK(ts.get() == "second");
    SECTION("an empty file mid-rotation keeps the old token") {
      auto p2 = d.write("token", "");
      std::filesystem::last_write_time(p2, std::filesystem::last_write_time(p2) + std::chrono::seconds(4));
      CHECK(ts.get() == "second");
    }
  }
  SECTION("the check interval limits file-system calls; max age forces a re-read") {
    token_source ts(d.path() / "token", std::chrono::hours(1), std::chrono::hours(2));
    d.write("token", "third");
    CHECK(ts.get() == "first");  // not looked at again within the interval
    CHECK(ts.reload());
    CHECK(ts.get() == "third");
    token_source aged(d.path() / "token", std::chrono::milliseconds(0), std::chrono::milliseconds(0));
    d.write("token", "fourth");  // even with an unchanged mtime
    CHECK(aged.get() == "fourth");
  }
  SECTION("the environment selects the folder and the service address") {
    ::setenv("CHAINSD_SERVICEACCOUNT_DIR", d.path().c_str(), 1);
    ::setenv("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc", 1);
    ::setenv("KUBERNETES_SERVICE_PORT", "8443", 1);
    auto c = load_in_cluster();
    CHECK(c.server == "https://kubernetes.default.svc:8443");
    CHECK(c.token->get() == "first");
    ::unsetenv("KUBERNETES_SERVICE_HOST");
    CHECK_THROWS_WITH(load_in_cluster(), Catch::Contains("KUBERNETES_SERVICE_HOST"));
    ::unsetenv("KUBERNETES_SERVICE_PORT");
    ::unsetenv("CHAINSD_SERVICEACCOUNT_DIR");
  }
  SECTION("missing files are named") {
    temp_dir empty;
    empty.write("ca.crt", "CA");
    CHECK_THROWS_WITH(load_in_cluster(empty.path(), "h", "1"), Catch::Contains("token"));
    temp_dir noca;
    noca.write("token", "t");
    CHECK_THROWS_WITH(load_in_cluster(noca.path(), "h", "1"), Catch::Contains("ca.crt"));
  }
}

TEST_CASE("load_default prefers the flag, then the first $KUBECONFIG file") {
  temp_dir d;
  auto good = d.write("a", "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
                           "clusters:\n- name: c\n  cluster: {server: 'https://from-a'}\n");
  auto other = d.write("b", "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
                            "clusters:\n- name: c\n  cluster: {server: 'https://from-b'}\n");
  ::setenv("KUBECONFIG", (other.string() + ":" + good.string()).c_str(), 1);
  CHECK(load_default(good.string()).server == "https://from-a");
  CHECK(load_default().server == "https://from-b");
  ::unsetenv("KUBECONFIG");
}
