#pragma once
// Debian's docker-registry (distribution 2.8) started by the test itself on 127.0.0.1 with a free
// port, filesystem storage in a temp dir, optionally htpasswd basic auth and TLS with a CA made at
// test time (openssl CLI); started through tests/support/child_process.hpp (stopped with SIGTERM,
// then SIGKILL) and its directory removed on destruction.

#include "../../support/child_process.hpp"
#include "../../support/temp_dir.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace oci_test {

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_text(const std::filesystem::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary);
  out << s;
}

inline void shell(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("command failed: " + cmd);
}

using chainsd::test_support::make_temp_dir;

inline unsigned short free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("no free port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

inline bool port_open(unsigned short port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

struct registry_options {
  bool tls = false;
  std::string user;  // non-empty: htpasswd basic auth with user/password (token auth: the token server's)
  std::string password;
  bool token_auth = false;  // Docker token auth through token_server.py (TOKEN_SERVER env: its path)
};

class registry_process {
 public:
  explicit registry_process(registry_options o) : opts_(std::move(o)), dir_(make_temp_dir("chainsd-oci-reg-")) {
    port_ = free_port();
    std::string cfg = "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n"
                      "    rootdirectory: " + (dir_ / "data").string() + "\n  delete:\n    enabled: true\n"
                      "http:\n  addr: 127.0.0.1:" + std::to_string(port_) + "\n";
    if (opts_.tls) {
      const auto d = dir_.string();
      shell("cd " + d + " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
            "-keyout ca.key -out ca.crt -days 2 -subj /CN=chainsd-oci-test-ca 2>/dev/null");
      write_text(dir_ / "ext.cnf", "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                                   "extendedKeyUsage=serverAuth\n");
      shell("cd " + d + " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
            "-keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null && "
            "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 "
            "-extfile ext.cnf 2>/dev/null");
      cfg += "  tls:\n    certificate: " + d + "/server.crt\n    key: " + d + "/server.key\n";
    }
    if (opts_.token_auth) {
      const char* server = std::getenv("TOKEN_SERVER");
      if (!server) throw std::runtime_error("TOKEN_SERVER is not set (run through meson test)");
      const auto d = dir_.string();
      shell("cd " + d + " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
            "-keyout token.key -out token.crt -days 2 -subj /CN=chainsd-token-issuer 2>/dev/null");
      token_server_.emplace("token_server.py",
                            std::vector<std::string>{"/usr/bin/python3", server, "--key", d + "/token.key", "--cert",
                                                     d + "/token.crt", "--issuer", "chainsd-test-issuer", "--user",
                                                     opts_.user, "--password", opts_.password, "--log",
                                                     d + "/token-requests.jsonl"},
                            dir_ / "token-server.out", merged);
      std::string port;
      for (int i = 0; i < 200 && port.empty(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        port = read_text(dir_ / "token-server.out");
        if (auto nl = port.find('\n'); nl != std::string::npos) port.resize(nl); else port.clear();
      }
      if (port.empty()) throw std::runtime_error("token server did not start: " + read_text(dir_ / "token-server.out"));
      token_realm_ = "http://127.0.0.1:" + port + "/token";
      cfg += "auth:\n  token:\n    realm: " + token_realm_ + "\n    service: chainsd-test-registry\n"
             "    issuer: chainsd-test-issuer\n    rootcertbundle: " + d + "/token.crt\n";
    } else if (!opts_.user.empty()) {
      shell("htpasswd -Bbn '" + opts_.user + "' '" + opts_.password + "' > " + (dir_ / "htpasswd").string());
      cfg += "auth:\n  htpasswd:\n    realm: chainsd-test\n    path: " + (dir_ / "htpasswd").string() + "\n";
    }
    write_text(dir_ / "config.yml", cfg);
    registry_.emplace("docker-registry",
                      std::vector<std::string>{"/usr/bin/docker-registry", "serve", (dir_ / "config.yml").string()},
                      dir_ / "registry.log", merged);
    for (int i = 0; i < 200 && !port_open(port_); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!port_open(port_)) {
      stop();
      throw std::runtime_error("docker-registry did not start: " + read_text(dir_ / "registry.log"));
    }
  }
  ~registry_process() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  registry_process(const registry_process&) = delete;
  registry_process& operator=(const registry_process&) = delete;

  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string base_url() const { return (opts_.tls ? "https://" : "http://") + host(); }
  std::string ca_file() const { return (dir_ / "ca.crt").string(); }
  const std::filesystem::path& dir() const { return dir_; }
  std::string log() const { return read_text(dir_ / "registry.log"); }
  // One JSON line per token request (token auth only).
  std::string token_requests() const { return read_text(dir_ / "token-requests.jsonl"); }
  const std::string& token_realm() const { return token_realm_; }

 private:
  void stop() {
    registry_.reset();
    token_server_.reset();
  }
  static constexpr chainsd::test_support::child_process::options merged{true, false};  // stderr too

  registry_options opts_;
  std::filesystem::path dir_;
  unsigned short port_ = 0;
  std::optional<chainsd::test_support::child_process> registry_, token_server_;
  std::string token_realm_;
};

}  // namespace oci_test
