#pragma once
// Request routing and the Kubernetes REST semantics on top of the store, free of any I/O: the
// server hands over a parsed request and gets back either a complete response (shared byte
// pieces, written with one gather write) or the parameters of a watch it must stream.
// Also owns the test-only control plane: fault injection and request statistics.

#include "crypto.hpp"
#include "store.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace chainsd::testserver {

struct api_request {
  std::string method;
  std::string target;
  std::string content_type;
  std::string accept;
  std::string authorization;
  std::string user_agent;
  std::string body;
};

struct api_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::shared_ptr<const std::string>> parts;

  std::size_t size() const;
};

struct watch_params {
  watch_filter filter;
  std::string resource_version;
  bool bookmarks = false;
  bool send_initial_events = false;
  std::chrono::seconds timeout{1800};
};

struct dispatch_result {
  std::optional<api_response> response;
  std::optional<watch_params> watch;
  std::string verb;      // for request logs
  std::string resource;  // for request logs
  // Filled once the request names an object: kube puts them in Status.details of errors.
  std::string name;
  std::string group;
  std::string plural;
};

struct fault_settings {
  std::uint64_t drop_watch_after_events = 0;
  std::uint64_t fail_nth = 0;
  unsigned fail_nth_status = 500;
  bool fail_nth_repeat = false;
  double fail_fraction = 0;
  unsigned fail_fraction_status = 429;
  unsigned retry_after_seconds = 1;
  std::uint64_t latency_ms = 0;
};

struct api_options {
  std::string token;   // empty: no authentication
  std::string issuer;
  std::uint64_t seed = 0;  // 0: random
  // "KEY=VALUE": time from an object's arrival (POST /testserver/load or create) to the first write
  // that leaves annotation KEY equal to VALUE, reported in the stats (benchmarks: a controller's
  // latency measured where its effect lands, with no client in between).
  std::string latency_annotation;
};

class api {
 public:
  api(store& s, token_issuer& issuer, api_options opt);

  void set_base_url(std::string url) { base_url_ = std::move(url); }
  dispatch_result handle(const api_request& req);

  const fault_settings& faults() const { return faults_; }
  // Applies a JSON fault document (the body of POST /testserver/faults). Throws api_error 400.
  void configure_faults(const json::value& doc);
  // The artificial latency for this request (0 for the control plane).
  std::uint64_t latency_ms(const api_request& req) const;
  json::object faults_json() const;
  json::object stats_json() const;
  json::value annotation_latency_json() const;
  void reset_stats();
  void count_watch_event() { ++watch_events_sent_; }

  static api_response status_response(unsigned code, std::string_view reason, std::string_view message,
                                      json::object details = {});

 private:
  void route(const api_request& req, dispatch_result& out);
  std::optional<api_response> control(const api_request& req, std::string_view path);
  std::optional<api_response> inject_fault();
  void count(const std::string& resource, const std::string& verb);
  bool authorized(const api_request& req) const;
  api_response token_request(const std::string& ns, const std::string& name, const api_request& req);

  store& store_;
  token_issuer& issuer_;
  api_options opt_;
  std::string base_url_;
  fault_settings faults_;
  std::uint64_t fault_counter_ = 0;
  std::mt19937_64 rng_;
  std::map<std::string, std::uint64_t> verbs_;
  std::map<std::string, std::map<std::string, std::uint64_t>> resources_;
  std::uint64_t total_ = 0;
  std::uint64_t faults_injected_ = 0;
  std::uint64_t watch_events_sent_ = 0;
  std::set<std::string> issued_tokens_;
  void arrived(const object_ptr& o);
  void written(const object_ptr& o);
  std::string latency_needle_;  // `"KEY":"VALUE"` as the stored (compact) JSON spells it
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> awaiting_annotation_;
  std::vector<double> annotation_latencies_ms_;
};

}  // namespace chainsd::testserver
