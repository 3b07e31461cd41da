// kube-testserver: a Kubernetes API server stand-in for tests and benchmarks (see
// tests/support/README.md). Flags → store/preload → server; stdout's first line is the URL.

#include "api.hpp"
#include "crypto.hpp"
#include "server.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace ts = chainsd::testserver;
namespace fs = std::filesystem;

namespace {

const char* usage = R"(usage: kube-testserver [flags]
  --listen HOST:PORT            address to serve on (default 127.0.0.1:0, 0 = ephemeral port)
  --kubeconfig-out FILE         write a kubeconfig for this server (written before the URL line)
  --load PATH                   preload objects from a YAML/JSON file or a folder (repeatable)
  --tls-cert FILE --tls-key FILE [--tls-ca FILE]
                                serve HTTPS; the CA (default: the cert) goes into the kubeconfig
  --tls-self-signed             serve HTTPS with a certificate generated at start-up
  --token TOKEN                 require "Authorization: Bearer TOKEN" on API requests
  --issuer URL                  service-account token issuer (default https://kubernetes.default.svc)
  --history N                   watch events kept for resumption (default 10000)
  --bookmark-interval DURATION  period of BOOKMARK events (default 1s; e.g. 500ms, 2s, 1m)
  --watcher-queue N             events queued per watcher before it is dropped (default 100000)
  --resource G/V/R:Kind[:cluster]
                                serve another resource type (repeatable)
  --lenient-status              keep .status on create/update of types with a status subresource
  --drop-watch-after-events N   fault: close each watch abruptly after N events
  --fail-nth-request N[:STATUS] fault: fail the Nth API request (default status 500)
  --fail-fraction F[:STATUS]    fault: fail a fraction of API requests (default status 429)
  --latency-ms N                fault: delay every API request
  --latency-annotation K=V      stats: time from an object's arrival (create, /testserver/load) to
                                the first write that sets annotation K to V (p50/p90/p99/max ms)
  --log-requests                one JSON line per request on stderr
  --exit-with-parent            exit when the process that started the server dies (test harnesses)
)";

std::string read_file(const std::string& path) {
  // One read into a pre-sized string: preload files can be a gigabyte.
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot read " + path);
  std::string out;
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (!ec) out.reserve(size);
  char buf[1 << 16];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

bool parse_duration(std::string_view s, std::chrono::milliseconds& out) {
  std::size_t i = 0;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
  if (i == 0) return false;
  double v = std::stod(std::string(s.substr(0, i)));
  std::string_view unit = s.substr(i);
  double ms;
  if (unit.empty() || unit == "s") ms = v * 1000;
  else if (unit == "ms") ms = v;
  else if (unit == "m") ms = v * 60000;
  else if (unit == "h") ms = v * 3600000;
  else return false;
  out = std::chrono::milliseconds(static_cast<long long>(ms));
  return true;
}

std::size_t load_documents(ts::store& s, const std::string& text, const std::string& origin) {
  std::size_t n = 0;
  auto load_one = [&](boost::json::value&& v) {
    try {
      s.load(std::move(v), false);
    } catch (const ts::api_error& e) {
      throw std::runtime_error(origin + ": " + e.what());
    }
    ++n;
  };
  ts::for_each_document(text, [&](boost::json::value&& doc) {
    if (!doc.is_object()) return;
    auto& o = doc.get_object();
    std::string_view kind = ts::string_at(o, "kind");
    if (kind.size() >= 4 && kind.substr(kind.size() - 4) == "List" && o.contains("items") && o["items"].is_array()) {
      for (auto& item : o["items"].get_array()) load_one(std::move(item));
      return;
    }
    load_one(std::move(doc));
  }, /*transient=*/true);
  return n;
}

std::size_t load_path(ts::store& s, const std::string& path) {
  if (fs::is_directory(path)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(path)) {
      if (!e.is_regular_file()) continue;
      auto ext = e.path().extension().string();
      if (ext == ".yaml" || ext == ".yml" || ext == ".json" || ext == ".jsonl") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    std::size_t n = 0;
    for (const auto& f : files) n += load_documents(s, read_file(f.string()), f.string());
    return n;
  }
  return load_documents(s, read_file(path), path);
}

void write_kubeconfig(const std::string& path, const std::string& url, const std::string& ca_pem,
                      const std::string& token) {
  std::string y = "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-testserver\n  cluster:\n    server: " + url + "\n";
  if (!ca_pem.empty()) y += "    certificate-authority-data: " + ts::base64_encode(ca_pem) + "\n";
  y += "contexts:\n- name: kube-testserver\n  context:\n    cluster: kube-testserver\n    user: kube-testserver\n    namespace: default\n";
  y += "current-context: kube-testserver\npreferences: {}\nusers:\n- name: kube-testserver\n  user:\n    token: " +
       (token.empty() ? std::string("kube-testserver") : token) + "\n";
  // Written under a temporary name and renamed, so a reader never sees half a file.
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + tmp);
    out << y;
  }
  fs::rename(tmp, path);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    ts::server_config cfg;
    std::string kubeconfig_out, tls_cert, tls_key, tls_ca, token, latency_annotation;
    std::string issuer = "https://kubernetes.default.svc";
    std::vector<std::string> loads, extra_resources, fault_docs;
    std::size_t history = 10000, watcher_queue = 100000;
    bool self_signed = false, lenient = false;
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      std::string value;
      bool has_inline = false;
      if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline = true;
      }
      auto next = [&]() -> std::string {
        if (has_inline) return value;
        if (i + 1 >= argc) throw std::runtime_error("flag " + arg + " needs a value");
        return argv[++i];
      };
      if (arg == "--help" || arg == "-h") {
        std::cout << usage;
        return 0;
      } else if (arg == "--listen") {
        std::string v = next();
        auto colon = v.rfind(':');
        if (colon == std::string::npos) throw std::runtime_error("--listen wants HOST:PORT");
        cfg.host = v.substr(0, colon);
        if (cfg.host.size() >= 2 && cfg.host.front() == '[') cfg.host = cfg.host.substr(1, cfg.host.size() - 2);
        if (cfg.host.empty()) cfg.host = "127.0.0.1";
        cfg.port = static_cast<unsigned short>(std::stoul(v.substr(colon + 1)));
      } else if (arg == "--kubeconfig-out") {
        kubeconfig_out = next();
      } else if (arg == "--load") {
        loads.push_back(next());
      } else if (arg == "--tls-cert") {
        tls_cert = next();
      } else if (arg == "--tls-key") {
        tls_key = next();
      } else if (arg == "--tls-ca") {
        tls_ca = next();
      } else if (arg == "--tls-self-signed") {
        self_signed = true;
      } else if (arg == "--token") {
        token = next();
      } else if (arg == "--issuer") {
        issuer = next();
      } else if (arg == "--history") {
        history = std::stoull(next());
      } else if (arg == "--watcher-queue") {
        watcher_queue = std::stoull(next());
      } else if (arg == "--bookmark-interval") {
        std::string v = next();
        if (!parse_duration(v, cfg.bookmark_interval) || cfg.bookmark_interval.count() <= 0)
          throw std::runtime_error("bad --bookmark-interval " + v);
      } else if (arg == "--log-requests") {
        cfg.log_requests = true;
      } else if (arg == "--exit-with-parent") {
        // A killed test binary must not leave its server behind.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() == 1) return 0;
      } else if (arg == "--lenient-status") {
        lenient = true;
      } else if (arg == "--resource") {
        extra_resources.push_back(next());
      } else if (arg == "--drop-watch-after-events") {
        fault_docs.push_back("{\"drop_watch_after_events\":" + std::to_string(std::stoull(next())) + "}");
      } else if (arg == "--latency-annotation") {
        latency_annotation = next();
        if (latency_annotation.find('=') == std::string::npos) throw std::runtime_error("--latency-annotation wants KEY=VALUE");
      } else if (arg == "--latency-ms") {
        fault_docs.push_back("{\"latency_ms\":" + std::to_string(std::stoull(next())) + "}");
      } else if (arg == "--fail-nth-request" || arg == "--fail-fraction") {
        std::string v = next();
        auto colon = v.find(':');
        std::string num = v.substr(0, colon);
        std::string status = colon == std::string::npos ? (arg == "--fail-fraction" ? "429" : "500") : v.substr(colon + 1);
        if (arg == "--fail-nth-request")
          fault_docs.push_back("{\"fail_nth_request\":{\"n\":" + std::to_string(std::stoull(num)) + ",\"status\":" + std::to_string(std::stoul(status)) + "}}");
        else
          fault_docs.push_back("{\"fail_fraction\":{\"fraction\":" + std::to_string(std::stod(num)) + ",\"status\":" + std::to_string(std::stoul(status)) + "}}");
      } else {
        std::cerr << "unknown flag " << arg << "\n" << usage;
        return 2;
      }
    }
    if (tls_cert.empty() != tls_key.empty()) throw std::runtime_error("--tls-cert and --tls-key go together");

    ts::resource_registry registry;
    for (const auto& r : extra_resources) {
      std::string error;
      if (!registry.add_from_flag(r, error)) throw std::runtime_error("--resource " + r + ": " + error);
    }
    ts::store store(registry, history, watcher_queue, lenient);
    for (const char* ns : {"default", "kube-system", "kube-public", "tekton-chains"}) store.ensure_namespace(ns, false);
    auto t0 = std::chrono::steady_clock::now();
    std::size_t loaded = 0;
    for (const auto& p : loads) loaded += load_path(store, p);
    if (!loads.empty()) {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::fprintf(stderr, "{\"level\":\"info\",\"msg\":\"preloaded objects\",\"count\":\"%zu\",\"seconds\":\"%.3f\"}\n", loaded, secs);
    }

    std::string ca_pem;
    if (self_signed) {
      ts::pem_pair p = ts::make_self_signed_cert();
      cfg.tls_cert_pem = p.cert;
      cfg.tls_key_pem = p.key;
      ca_pem = p.cert;
    } else if (!tls_cert.empty()) {
      cfg.tls_cert_pem = read_file(tls_cert);
      cfg.tls_key_pem = read_file(tls_key);
      ca_pem = tls_ca.empty() ? cfg.tls_cert_pem : read_file(tls_ca);
    }

    ts::token_issuer issuer_keys(issuer);
    ts::api api(store, issuer_keys, ts::api_options{token, issuer, 0, latency_annotation});
    for (const auto& doc : fault_docs) api.configure_faults(boost::json::parse(doc));

    return ts::run_server(cfg, api, store, [&](const std::string& url) {
      if (!kubeconfig_out.empty()) write_kubeconfig(kubeconfig_out, url, ca_pem, token);
      std::printf("%s\n", url.c_str());
      std::fflush(stdout);
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kube-testserver: %s\n", e.what());
    return 1;
  }
}
