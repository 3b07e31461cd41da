#pragma once
// Where the API server is and how to authenticate to it: in-cluster service account or a
// kubeconfig file. Loading happens once at start-up (blocking file reads are fine there); the
// token is re-read later by token_source, cheaply, on the loop thread.

#include "net/http_client.hpp"

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace chainsd::kube {

// Thrown for unusable configuration; what() names the file and the missing or bad field, e.g.
//   kubeconfig /home/a/.kube/config: user "dev" has no credentials (token, tokenFile, client-certificate)
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A bearer token that may rotate on disk (projected service-account tokens are rewritten by the
// kubelet before they expire). get() re-reads the file when its mtime changed, checked at most
// every `check_interval`, and unconditionally once `max_age` passed (mtime can be unreliable on
// some volume types). A read failure keeps the previous token: a half-written rotation must not
// take the controller down.
class token_source {
 public:
  // Fixed token (kubeconfig `token:`).
  explicit token_source(std::string fixed);
  // Token file. Throws config_error when the file cannot be read now.
  token_source(std::filesystem::path file, std::chrono::milliseconds check_interval,
               std::chrono::milliseconds max_age = std::chrono::minutes(1));

  const std::string& get();
  // Re-reads the file now (e.g. after a 401). Returns true if the token changed.
  bool reload();
  bool from_file() const { return !file_.empty(); }
  const std::filesystem::path& file() const { return file_; }

 private:
  bool read_file(bool throw_on_error);

  std::filesystem::path file_;
  std::string token_;
  std::chrono::milliseconds check_interval_{0};
  std::chrono::milliseconds max_age_{0};
  std::chrono::steady_clock::time_point last_check_{};
  std::chrono::steady_clock::time_point last_read_{};
  std::filesystem::file_time_type mtime_{};
};

struct client_config {
  std::string server;            // https://host:port, no trailing slash
  net::tls_options tls;
  std::shared_ptr<token_source> token;  // null: no bearer token (client certificate or none)
  std::string namespace_name = "default";  // the context's (or service account's) namespace
  std::string source;            // "in-cluster" or "kubeconfig PATH (context NAME)", for logs
};

// In-cluster: KUBERNETES_SERVICE_HOST/PORT plus token, ca.crt and namespace from `sa_dir`
// (default /var/run/secrets/kubernetes.io/serviceaccount, overridden by env
// CHAINSD_SERVICEACCOUNT_DIR). The token is re-read on rotation.
inline constexpr const char* default_serviceaccount_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
client_config load_in_cluster();
client_config load_in_cluster(const std::filesystem::path& sa_dir, std::string host, std::string port);

// A kubeconfig file. `context` empty = current-context. Relative paths inside the file resolve
// against the file's folder.
client_config load_kubeconfig(const std::filesystem::path& file, const std::string& context = {});

// Resolution order (as knative/Tekton controllers): explicit --kubeconfig; then $KUBECONFIG
// (only the FIRST file of a colon-separated list is used, no merging); then in-cluster when
// KUBERNETES_SERVICE_HOST is set; then ~/.kube/config. Throws config_error when nothing works.
client_config load_default(const std::string& kubeconfig_flag = {}, const std::string& context = {});

// Standard base64 (padding optional, whitespace ignored). Throws config_error on bad input.
std::string base64_decode(std::string_view in);

}  // namespace chainsd::kube
