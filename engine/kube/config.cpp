#include "kube/config.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

namespace chainsd::kube {
namespace fs = std::filesystem;

namespace {

bool read_whole(const fs::path& p, std::string& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return false;
  out = std::move(ss).str();
  return true;
}

std::string trim(std::string s) {
  auto not_space = [](char c) { return c != ' ' && c != '\n' && c != '\r' && c != '\t'; };
  while (!s.empty() && !not_space(s.back())) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && !not_space(s[i])) ++i;
  return s.substr(i);
}

std::string getenv_str(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

}  // namespace

// ---- token_source ----------------------------------------------------------------------------

token_source::token_source(std::string fixed) : token_(std::move(fixed)) {}

token_source::token_source(fs::path file, std::chrono::milliseconds check_interval,
                           std::chrono::milliseconds max_age)
    : file_(std::move(file)), check_interval_(check_interval), max_age_(max_age) {
  read_file(true);
}

bool token_source::read_file(bool throw_on_error) {
  std::error_code ec;
  auto mtime = fs::last_write_time(file_, ec);
  std::string text;
  if (ec || !read_whole(file_, text)) {
    if (throw_on_error) throw config_error("token file " + file_.string() + ": cannot be read");
    return false;
  }
  text = trim(std::move(text));
  if (text.empty()) {
    // A rotation caught between truncate and write; keep the old token.
    if (throw_on_error) throw config_error("token file " + file_.string() + ": is empty");
    return false;
  }
  auto now = std::chrono::steady_clock::now();
  last_read_ = last_check_ = now;
  mtime_ = mtime;
  bool changed = text != token_;
  token_ = std::move(text);
  return changed;
}

const std::string& token_source::get() {
  if (file_.empty()) return token_;
  auto now = std::chrono::steady_clock::now();
  if (now - last_check_ < check_interval_) return token_;
  last_check_ = now;
  std::error_code ec;
  auto mtime = fs::last_write_time(file_, ec);
  if ((!ec && mtime != mtime_) || now - last_read_ >= max_age_) read_file(false);
  return token_;
}

bool token_source::reload() {
  if (file_.empty()) return false;
  return read_file(false);
}

// ---- base64 ----------------------------------------------------------------------------------

std::string base64_decode(std::string_view in) {
  // Kubeconfigs carry standard base64; the URL-safe alphabet is accepted too.
  std::string standard(in);
  for (char& c : standard) {
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
  }
  try {
    return plugin::base64_decode(standard);
  } catch (const std::invalid_argument& e) {
    throw config_error(std::string("invalid base64 data: ") + e.what());
  }
}

// ---- in-cluster ------------------------------------------------------------------------------

client_config load_in_cluster() {
  std::string host = getenv_str("KUBERNETES_SERVICE_HOST");
  std::string port = getenv_str("KUBERNETES_SERVICE_PORT");
  std::string dir = getenv_str("CHAINSD_SERVICEACCOUNT_DIR");
  if (dir.empty()) dir = default_serviceaccount_dir;
  return load_in_cluster(dir, std::move(host), std::move(port));
}

client_config load_in_cluster(const fs::path& sa_dir, std::string host, std::string port) {
  if (host.empty() || port.empty())
    throw config_error(
        "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set "
        "(not running in a pod? pass --kubeconfig)");
  client_config cfg;
  // IPv6 service addresses need brackets in a URL.
  bool v6 = host.find(':') != std::string::npos && host.front() != '[';
  cfg.server = "https://" + (v6 ? "[" + host + "]" : host) + ":" + port;
  auto ca = sa_dir / "ca.crt";
  std::error_code ec;
  if (!fs::exists(ca, ec))
    throw config_error("in-cluster config: " + ca.string() + " is missing");
  cfg.tls.ca_file = ca.string();
  cfg.token = std::make_shared<token_source>(sa_dir / "token", std::chrono::seconds(10));
  std::string ns;
  if (read_whole(sa_dir / "namespace", ns) && !trim(ns).empty()) cfg.namespace_name = trim(ns);
  cfg.source = "in-cluster (" + sa_dir.string() + ")";
  return cfg;
}

// ---- kubeconfig ------------------------------------------------------------------------------

namespace {

struct kubeconfig_reader {
  fs::path file;
  fs::path dir;

  [[noreturn]] void fail(const std::string& what) const {
    throw config_error("kubeconfig " + file.string() + ": " + what);
  }

  // The entry of a named list (clusters/users/contexts) with the given name, its inner map.
  YAML::Node find_named(const YAML::Node& root, const char* list, const char* inner,
                        const std::string& name, const char* what) const {
    YAML::Node l = root[list];
    if (l && !l.IsSequence()) fail(std::string("\"") + list + "\" must be a list");
    if (l) {
      for (const auto& e : l) {
        if (e["name"] && e["name"].as<std::string>() == name) {
          YAML::Node n = e[inner];
          if (!n || !n.IsMap()) fail(std::string(what) + " \"" + name + "\" has no \"" + inner + "\" map");
          return n;
        }
      }
    }
    fail(std::string(what) + " \"" + name + "\" not found in \"" + list + "\"");
  }

  std::string str(const YAML::Node& n, const char* key) const {
    YAML::Node v = n[key];
    if (!v || v.IsNull()) return {};
    if (!v.IsScalar()) fail(std::string("field \"") + key + "\" must be a string");
    return v.as<std::string>();
  }

  fs::path resolve(const std::string& p) const {
    fs::path path(p);
    if (path.is_relative()) path = dir / path;
    return path;
  }

  std::string read_referenced(const std::string& p, const char* field) const {
    auto path = resolve(p);
    std::string out;
    if (!read_whole(path, out)) fail(std::string("cannot read \"") + field + "\" file " + path.string());
    return out;
  }

  std::string decode(const std::string& data, const char* field) const {
    try {
      return base64_decode(data);
    } catch (const config_error&) {
      fail(std::string("field \"") + field + "\" is not valid base64");
    }
  }
};

}  // namespace

client_config load_kubeconfig(const fs::path& file, const std::string& context) {
  kubeconfig_reader r{file, file.parent_path()};
  std::string text;
  if (!read_whole(file, text)) throw config_error("kubeconfig " + file.string() + ": cannot be read");
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    r.fail(std::string("invalid YAML: ") + e.what());
  }
  if (!root.IsMap()) r.fail("not a kubeconfig (top level is not a map)");

  client_config cfg;
  try {
    std::string ctx_name = context.empty() ? r.str(root, "current-context") : context;
    if (ctx_name.empty()) r.fail("no \"current-context\" set and no context given (--kube-context)");
    YAML::Node ctx = r.find_named(root, "contexts", "context", ctx_name, "context");
    std::string cluster_name = r.str(ctx, "cluster");
    if (cluster_name.empty()) r.fail("context \"" + ctx_name + "\" has no field \"cluster\"");
    std::string user_name = r.str(ctx, "user");
    if (auto ns = r.str(ctx, "namespace"); !ns.empty()) cfg.namespace_name = ns;

    YAML::Node cluster = r.find_named(root, "clusters", "cluster", cluster_name, "cluster");
    cfg.server = r.str(cluster, "server");
    if (cfg.server.empty()) r.fail("cluster \"" + cluster_name + "\" has no field \"server\"");
    while (!cfg.server.empty() && cfg.server.back() == '/') cfg.server.pop_back();
    if (cluster["insecure-skip-tls-verify"] && cluster["insecure-skip-tls-verify"].as<bool>())
      cfg.tls.verify = false;
    if (auto data = r.str(cluster, "certificate-authority-data"); !data.empty())
      cfg.tls.ca_pem = r.decode(data, "certificate-authority-data");
    else if (auto ca = r.str(cluster, "certificate-authority"); !ca.empty()) {
      auto path = r.resolve(ca);
      std::error_code ec;
      if (!fs::exists(path, ec))
        r.fail("cluster \"" + cluster_name + "\": certificate-authority file " + path.string() + " not found");
      cfg.tls.ca_file = path.string();
    }

    if (!user_name.empty()) {
      YAML::Node user = r.find_named(root, "users", "user", user_name, "user");
      if (user["exec"] || user["auth-provider"])
        r.fail("user \"" + user_name + "\": exec and auth-provider credentials are not supported; "
               "use token, tokenFile or client certificates");
      if (auto t = r.str(user, "token"); !t.empty())
        cfg.token = std::make_shared<token_source>(t);
      else if (auto tf = r.str(user, "tokenFile"); !tf.empty()) {
        try {
          cfg.token = std::make_shared<token_source>(r.resolve(tf), std::chrono::seconds(10));
        } catch (const config_error& e) {
          r.fail("user \"" + user_name + "\": tokenFile: " + e.what());
        }
      }
      if (auto d = r.str(user, "client-certificate-data"); !d.empty())
        cfg.tls.client_cert_pem = r.decode(d, "client-certificate-data");
      else if (auto f = r.str(user, "client-certificate"); !f.empty())
        cfg.tls.client_cert_pem = r.read_referenced(f, "client-certificate");
      if (auto d = r.str(user, "client-key-data"); !d.empty())
        cfg.tls.client_key_pem = r.decode(d, "client-key-data");
      else if (auto f = r.str(user, "client-key"); !f.empty())
        cfg.tls.client_key_pem = r.read_referenced(f, "client-key");
      if (cfg.tls.client_cert_pem.empty() != cfg.tls.client_key_pem.empty())
        r.fail("user \"" + user_name + "\": client-certificate and client-key must be given together");
      if (!cfg.token && cfg.tls.client_cert_pem.empty() && (user["username"] || user["password"]))
        r.fail("user \"" + user_name + "\": basic authentication (username/password) is not supported");
    }
    cfg.source = "kubeconfig " + file.string() + " (context " + ctx_name + ")";
  } catch (const YAML::Exception& e) {
    r.fail(std::string("malformed: ") + e.what());
  }
  return cfg;
}

client_config load_default(const std::string& kubeconfig_flag, const std::string& context) {
  if (!kubeconfig_flag.empty()) return load_kubeconfig(kubeconfig_flag, context);
  std::string env = getenv_str("KUBECONFIG");
  if (!env.empty()) {
    auto colon = env.find(':');
    std::string first = env.substr(0, colon);
    if (!first.empty()) return load_kubeconfig(first, context);
  }
  if (!getenv_str("KUBERNETES_SERVICE_HOST").empty()) return load_in_cluster();
  std::string home = getenv_str("HOME");
  if (!home.empty()) {
    fs::path p = fs::path(home) / ".kube" / "config";
    std::error_code ec;
    if (fs::exists(p, ec)) return load_kubeconfig(p, context);
  }
  throw config_error(
      "no Kubernetes configuration: pass --kubeconfig, set $KUBECONFIG, run in a pod, or create "
      "~/.kube/config");
}

}  // namespace chainsd::kube
