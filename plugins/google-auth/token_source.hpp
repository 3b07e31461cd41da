#pragma once
// Access tokens for the JSON API, cached until shortly before they expire: from a service
// account's key file (a signed JWT exchanged at its token_uri) or from the metadata server
// (workload identity). Concurrent stores needing a token share one exchange.

#include "credentials.hpp"

#include <chainsd/plugin/host.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace google_auth {

class token_source {
 public:
  using clock = std::chrono::steady_clock;
  // `scope`: the OAuth scope asked for; `label` starts every message ("gcs storage"); `key` is the
  // chains-config key of the backend, named when there are no credentials at all.
  token_source(chainsd::plugin::host& h, credentials c, std::string scope, std::string label, std::string key);
  ~token_source();

  // A token valid for a while yet. Errors: retryable (token endpoint down, 5xx), unauthenticated
  // (the grant refused), bad_config (no credentials: no key file and no metadata server).
  boost::asio::awaitable<chainsd::plugin::result<std::string>> get();
  // Sends `req` with a bearer token; a token the API refuses (401) is replaced once. Every HTTP
  // status comes back as a response; a transport failure is retryable: "<label>: <what>: <error>"
  // (naming the URL).
  boost::asio::awaitable<chainsd::plugin::result<chainsd::plugin::http_response>> send(chainsd::plugin::http_request req,
                                                                                      std::string what);
  // The JSON API refused `token` (401): the next get() fetches a new one.
  void invalidate(const std::string& token);
  // Whose token it is, for messages: the service account's email or "workload identity (...)".
  std::string principal() const;
  // Where tokens come from (the token URI or the metadata URL), for messages.
  const std::string& source_url() const { return url_; }

 private:
  struct inflight;
  boost::asio::awaitable<chainsd::plugin::result<access_token>> fetch();
  boost::asio::awaitable<chainsd::plugin::result<access_token>> fetch_service_account();
  boost::asio::awaitable<chainsd::plugin::result<access_token>> fetch_metadata();

  chainsd::plugin::host& host_;
  credentials c_;
  std::string scope_, label_, key_;
  std::string url_;
  bool metadata_answered_ = false;  // once it did, the metadata server being away is transient
  std::optional<std::string> token_;
  clock::time_point refresh_at_{};
  clock::time_point expires_at_{};
  clock::duration grace_{};
  std::shared_ptr<inflight> inflight_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace google_auth
