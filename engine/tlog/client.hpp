#pragma once
// Rekor REST v1 client: upload an entry, or find the one already there (409), and verify what
// the log returns before anyone trusts it. Runs on the http_client's executor (one thread).
//
// Ownership: the client borrows the http_client, which must outlive it (the controller owns one
// for the process). Instances live in a plugin_set (one per config snapshot) and are shared by
// the runs that use that snapshot.
// Cancellation: the awaitables pass cancellation through to http_client (operation_aborted
// surfaces as a retryable tlog_error).

#include "tlog/entry.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace chainsd::net {
class http_client;
}

namespace chainsd::tlog {

struct client_options {
  std::string url = "https://rekor.sigstore.dev";  // transparency.url, as configured
  // The log's public key (PEM). Empty: fetched from /api/v1/log/publicKey on first use and pinned
  // for the rest of the process (a later config with the same URL keeps the pin).
  std::string public_key_pem;
  std::chrono::milliseconds timeout{20'000};       // per HTTP exchange
  int attempts = 4;                                // for 5xx, 429 and transport failures
  std::chrono::milliseconds backoff_initial{200};
  std::chrono::milliseconds backoff_max{3'000};
  std::chrono::milliseconds retry_window{10'000};  // no attempt starts later after the first (retry.hpp)
};

// `permanent`: asking again cannot help (a 4xx from the log). Verification failures and
// exhausted retries are not permanent: the run's retry state machine may try once more.
// `bad_config` (also permanent): the configuration cannot work (the message names the keys),
// e.g. a signing key Rekor v2 refuses; plugin::errc::bad_config for the run.
class tlog_error : public std::runtime_error {
 public:
  enum class kind { retryable, permanent, bad_config };
  tlog_error(std::string what, bool permanent)
      : std::runtime_error(std::move(what)), kind_(permanent ? kind::permanent : kind::retryable) {}
  tlog_error(std::string what, kind k) : std::runtime_error(std::move(what)), kind_(k) {}
  bool permanent() const noexcept { return kind_ != kind::retryable; }
  bool bad_config() const noexcept { return kind_ == kind::bad_config; }
  kind error_kind() const noexcept { return kind_; }

 private:
  kind kind_;
};

class client {
 public:
  client(net::http_client& http, client_options opts);

  // Uploads `p` (or, on 409, fetches the equivalent entry the log already has), verifies body,
  // SET, inclusion proof and checkpoint, and returns the entry. Throws tlog_error.
  boost::asio::awaitable<log_entry> upload(proposal p);

  // Reads an entry (verified for SET, proof and checkpoint, not against a proposal).
  boost::asio::awaitable<log_entry> get_by_uuid(std::string uuid);
  boost::asio::awaitable<log_entry> get_by_index(std::int64_t index);

  // The log's key: configured, pinned, or fetched now and pinned.
  boost::asio::awaitable<log_key> public_key();

  // The annotation value upstream writes: "<transparency.url>/api/v1/log/entries?logIndex=<N>".
  std::string entry_url(std::int64_t log_index) const;
  const std::string& url() const { return opts_.url; }

 private:
  boost::asio::awaitable<log_entry> fetch(std::string path);
  // fetch, then the SET, inclusion proof and checkpoint checked against the log's key.
  boost::asio::awaitable<log_entry> fetch_verified(std::string path);

  net::http_client& http_;
  client_options opts_;
  std::string base_;  // url without a trailing slash
  std::optional<log_key> key_;
};

}  // namespace chainsd::tlog
