// The log step alone under load (scenario C with Rekor v2, before the reconciler drives it):
// tlog::logger uploads M signatures to a Rekor v2 log (and timestamps them when a TSA is given)
// with at most N in flight, on one io_context thread as chainsd does. The log holds every upload
// until its next checkpoint (about a second), so throughput is in-flight uploads / interval:
// this measures whether the engine side keeps up (CPU per upload, memory per waiting upload).
//
//   tlog_v2_load --log URL --log-key FILE [--tsa URL --tsa-chain FILE] [--uploads M]
//                [--in-flight N] [--idle-per-host K]
//
// The signatures are made before the clock starts (signing is measured by scenario A). Prints one
// JSON line: uploads, seconds, uploads_per_s, cpu_ms_per_upload, rss_mib_before/peak,
// kib_per_in_flight_upload, failures (and the first error).
#include "net/http_client.hpp"
#include "runtime/log.hpp"
#include "tlog/logger.hpp"
#include "../tests/support/test_pki.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

using namespace chainsd;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double status_mib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(std::string(field).size() + 1)) / 1024.0;
  return 0;
}

struct shared_state {
  std::vector<tlog::log_request> requests;
  std::size_t next = 0;
  std::size_t in_flight = 0, max_in_flight = 0;
  std::size_t failures = 0;
  std::string first_error;
  double peak_rss_in_flight = 0;
};

boost::asio::awaitable<void> worker(tlog::logger* lg, shared_state* s) {
  while (true) {
    if (s->next >= s->requests.size()) co_return;
    auto r = std::move(s->requests[s->next++]);
    ++s->in_flight;
    if (s->in_flight > s->max_in_flight) s->max_in_flight = s->in_flight;
    try {
      auto res = co_await lg->log(std::move(r));
      (void)res;
    } catch (const std::exception& e) {
      if (s->failures++ == 0) s->first_error = e.what();
    }
    --s->in_flight;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string log_url, log_key, tsa_url, tsa_chain;
  std::size_t uploads = 5000, in_flight = 2000, idle = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--log") log_url = v;
    else if (a == "--log-key") log_key = v;
    else if (a == "--tsa") tsa_url = v;
    else if (a == "--tsa-chain") tsa_chain = v;
    else if (a == "--uploads") uploads = std::stoul(v);
    else if (a == "--in-flight") in_flight = std::stoul(v);
    else if (a == "--idle-per-host") idle = std::stoul(v);
    else {
      std::cerr << "unknown option " << a << "\n";
      return 2;
    }
  }
  if (log_url.empty() || log_key.empty()) {
    std::cerr << "usage: tlog_v2_load --log URL --log-key FILE [--tsa URL --tsa-chain FILE] [--uploads M] "
                 "[--in-flight N] [--idle-per-host K]\n";
    return 2;
  }
  log::set_level(log::level::warn);
  tlog::logger_options o;
  o.version = 2;
  o.v2.url = log_url;
  o.v2.public_key_pem = read_file(log_key);
  if (!tsa_url.empty()) {
    tlog::tsa_options t;
    t.url = tsa_url;
    t.chain_pems = {read_file(tsa_chain)};
    o.tsa = t;
  }
  boost::asio::io_context ctx;
  net::client_options co;
  co.max_idle_per_host = idle;
  net::http_client http(ctx.get_executor(), co);
  tlog::logger lg(http, o);

  shared_state s;
  test_support::test_key k;  // ECDSA P-256, signing with SHA-256 as the x509 signer
  auto pem = k.public_pem();
  for (std::size_t i = 0; i < uploads; ++i) {
    tlog::log_request r;
    r.payload = R"({"critical":{"identity":{"docker-reference":"registry.example/app"},"image":{"docker-manifest-digest":"sha256:)" +
                std::to_string(i) + R"("},"type":"cosign container image signature"},"optional":null})";
    r.signature = k.sign(r.payload);
    r.public_key_pem = pem;
    r.signer_key = "artifacts.oci.signer";
    s.requests.push_back(std::move(r));
  }
  double rss_before = status_mib("VmRSS:");
  double cpu0 = cpu_seconds();
  auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < in_flight && i < uploads; ++i) {
    auto done = [&s](std::exception_ptr e) {
      if (e && s.failures++ == 0) s.first_error = "worker failed";
    };
    boost::asio::co_spawn(ctx, worker(&lg, &s), done);
  }
  ctx.run();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu = cpu_seconds() - cpu0;
  double peak = status_mib("VmHWM:");
  std::string error;
  log::json_escape(error, s.first_error.substr(0, 200));
  std::printf(
      "{\"uploads\":%zu,\"in_flight_max\":%zu,\"timestamps\":%s,\"seconds\":%.3f,\"uploads_per_s\":%.1f,"
      "\"cpu_ms_per_upload\":%.3f,\"rss_mib_before\":%.1f,\"rss_mib_peak\":%.1f,\"kib_per_in_flight_upload\":%.1f,"
      "\"connections_opened\":%zu,\"failures\":%zu,\"first_error\":\"%s\"}\n",
      uploads, s.max_in_flight, tsa_url.empty() ? "false" : "true", seconds, static_cast<double>(uploads) / seconds,
      cpu / static_cast<double>(uploads) * 1000, rss_before, peak,
      s.max_in_flight ? (peak - rss_before) * 1024 / static_cast<double>(s.max_in_flight) : 0.0, http.connections_opened(),
      s.failures, error.c_str());
  return s.failures ? 1 : 0;
}
