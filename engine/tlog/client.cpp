#include "tlog/client.hpp"

#include "net/http_client.hpp"
#include "runtime/backoff.hpp"
#include "runtime/log.hpp"
#include "runtime/sleep.hpp"
#include "tlog/retry.hpp"

#include <boost/json/parse.hpp>

#include <map>

namespace chainsd::tlog {
namespace {

// Keys fetched on first use, by log URL, for the life of the process: a config reload builds a
// new client but must not re-trust whatever the log serves next. Touched only on the loop thread.
std::map<std::string, log_key>& pinned_keys() {
  static std::map<std::string, log_key> pins;
  return pins;
}

bool retryable_status(unsigned s) { return s == 429 || s >= 500; }

}  // namespace

client::client(net::http_client& http, client_options opts) : http_(http), opts_(std::move(opts)), base_(opts_.url) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
  if (!opts_.public_key_pem.empty()) {
    try {
      key_ = parse_log_key(opts_.public_key_pem);
    } catch (const verify_error& e) {
      throw std::invalid_argument(std::string("transparency.publickey: ") + e.what());
    }
  }
}

std::string client::entry_url(std::int64_t log_index) const {
  return opts_.url + "/api/v1/log/entries?logIndex=" + std::to_string(log_index);
}

namespace detail {

std::string log_message(const net::response& r) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  if (!ec && v.is_object()) {
    if (const auto* m = v.as_object().if_contains("message"); m && m->is_string()) return std::string(m->get_string());
  }
  return r.body.substr(0, 300);
}

boost::asio::awaitable<net::response> send_retrying(net::http_client& http, net::request req, int attempts,
                                                    std::chrono::milliseconds initial, std::chrono::milliseconds max,
                                                    std::chrono::milliseconds window) {
  runtime::backoff delay(initial, max);
  std::string last;
  const auto first = std::chrono::steady_clock::now();
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1 && std::chrono::steady_clock::now() - first > window) {
      // An attempt that ran into its own deadline (a black-holed log): the pass's retry rules
      // take it from here instead of 4 × the deadline in this call.
      throw tlog_error(last + " (after " + std::to_string(attempt - 1) + " attempts in " +
                           std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                              std::chrono::steady_clock::now() - first).count()) + " s)",
                       false);
    }
    bool retry = false;
    try {
      net::response r = co_await http.send(req);
      if (!retryable_status(r.status)) co_return r;
      last = req.method + " " + req.url + ": HTTP " + std::to_string(r.status) + ": " + log_message(r);
      retry = true;
    } catch (const net::http_error& e) {
      if (e.error_code() == boost::asio::error::operation_aborted) throw tlog_error(e.what(), false);
      last = e.what();
      retry = true;
    }
    if (retry && attempt < attempts) {
      log::debug("transparency log request failed; retrying", {{"error", last}, {"attempt", std::to_string(attempt)}});
      co_await runtime::sleep_for(delay.next());
    }
  }
  throw tlog_error(last + " (after " + std::to_string(attempts) + " attempts)", false);
}

}  // namespace detail

using detail::log_message;
using detail::send_retrying;

boost::asio::awaitable<log_key> client::public_key() {
  if (key_) co_return *key_;
  auto& pins = pinned_keys();
  if (auto it = pins.find(base_); it != pins.end()) {
    key_ = it->second;
    co_return *key_;
  }
  net::request req;
  req.url = base_ + "/api/v1/log/publicKey";
  req.headers = {{"Accept", "application/x-pem-file"}};
  req.timeout = opts_.timeout;
  req.max_body = 64 << 10;
  net::response r = co_await send_retrying(http_, std::move(req), opts_.attempts, opts_.backoff_initial, opts_.backoff_max,
                                           opts_.retry_window);
  if (r.status != 200)
    throw tlog_error("GET " + base_ + "/api/v1/log/publicKey: HTTP " + std::to_string(r.status) + ": " + log_message(r),
                     r.status >= 400 && r.status < 500);
  log_key k;
  try {
    k = parse_log_key(r.body);
  } catch (const verify_error& e) {
    throw tlog_error(base_ + "/api/v1/log/publicKey: " + e.what(), false);
  }
  // Another upload may have pinned a key while we waited: the first one wins, a different one
  // is an error rather than a silent switch.
  auto [it, inserted] = pins.emplace(base_, k);
  if (!inserted && it->second.log_id != k.log_id)
    throw tlog_error("transparency log " + base_ + " served a public key different from the pinned one", false);
  if (inserted) log::info("pinned transparency log public key", {{"url", base_}, {"log_id", k.log_id}});
  key_ = it->second;
  co_return *key_;
}

boost::asio::awaitable<log_entry> client::fetch(std::string path) {
  net::request req;
  req.url = base_ + path;
  req.headers = {{"Accept", "application/json"}};
  req.timeout = opts_.timeout;
  net::response r = co_await send_retrying(http_, std::move(req), opts_.attempts, opts_.backoff_initial, opts_.backoff_max,
                                           opts_.retry_window);
  if (r.status != 200)
    throw tlog_error("GET " + base_ + path + ": HTTP " + std::to_string(r.status) + ": " + log_message(r),
                     r.status >= 400 && r.status < 500);
  try {
    co_return parse_log_entry(r.body);
  } catch (const verify_error& e) {
    throw tlog_error("GET " + base_ + path + ": " + e.what(), false);
  }
}

boost::asio::awaitable<log_entry> client::fetch_verified(std::string path) {
  auto k = co_await public_key();
  auto e = co_await fetch(std::move(path));
  try {
    verify_set(e, k);
    verify_inclusion(e);
    verify_checkpoint(e, k);
  } catch (const verify_error& ex) {
    throw tlog_error("transparency log " + base_ + " entry " + e.uuid + ": " + ex.what(), false);
  }
  co_return e;
}

boost::asio::awaitable<log_entry> client::get_by_uuid(std::string uuid) {
  return fetch_verified("/api/v1/log/entries/" + net::url_encode_component(uuid));
}

boost::asio::awaitable<log_entry> client::get_by_index(std::int64_t index) {
  return fetch_verified("/api/v1/log/entries?logIndex=" + std::to_string(index));
}

boost::asio::awaitable<log_entry> client::upload(proposal p) {
  auto k = co_await public_key();
  net::request req;
  req.method = "POST";
  req.replayable = true;  // Rekor answers a repeated entry with 409 and its location
  req.url = base_ + "/api/v1/log/entries";
  req.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
  req.body = p.json;
  req.timeout = opts_.timeout;
  net::response r = co_await send_retrying(http_, std::move(req), opts_.attempts, opts_.backoff_initial, opts_.backoff_max,
                                           opts_.retry_window);

  log_entry e;
  if (r.status == 201 || r.status == 200) {
    try {
      e = parse_log_entry(r.body);
    } catch (const verify_error& ex) {
      throw tlog_error("POST " + base_ + "/api/v1/log/entries: " + ex.what(), false);
    }
  } else if (r.status == 409) {
    // Already logged (e.g. a retry after a lost response, or a restarted controller): the
    // existing entry is as good as a new one, and fetching it avoids a duplicate.
    std::string location(r.header("Location"));
    std::string path;
    if (!location.empty()) {
      auto pos = location.find("/api/v1/log/entries/");
      if (pos == std::string::npos)
        throw tlog_error("POST " + base_ + "/api/v1/log/entries: 409 with an unexpected Location " + location, false);
      path = location.substr(pos);
    } else {
      auto msg = log_message(r);
      auto pos = msg.find("UUID ");
      if (pos == std::string::npos)
        throw tlog_error("POST " + base_ + "/api/v1/log/entries: 409 without a Location or UUID: " + msg, false);
      path = "/api/v1/log/entries/" + net::url_encode_component(msg.substr(pos + 5, msg.find_first_of(" \n", pos + 5) - pos - 5));
    }
    e = co_await fetch(std::move(path));
  } else {
    throw tlog_error("POST " + base_ + "/api/v1/log/entries: HTTP " + std::to_string(r.status) + ": " + log_message(r),
                     r.status >= 400 && r.status < 500);
  }
  try {
    verify_entry(e, k, p);
  } catch (const verify_error& ex) {
    throw tlog_error("transparency log " + base_ + " entry " + e.uuid + ": " + ex.what(), false);
  }
  co_return e;
}

}  // namespace chainsd::tlog
