#pragma once
// The HTTP exchange every tlog request goes through (internal to engine/tlog; defined in
// client.cpp): bounded retries of what may pass (5xx, 429, transport failures including the
// request's own deadline) with exponential backoff and jitter; the last response is returned for
// the caller to judge, a tlog_error thrown when every attempt failed in transport or with
// 5xx/429. Cancellation (operation_aborted) is not retried.

#include "net/http_client.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>

namespace chainsd::tlog::detail {

// No attempt starts later than this after the first: a log that lets requests run into their
// deadline (20 s) costs one deadline per call, and the reconciler's retries (backoff, then
// `failed`) decide what follows.
inline constexpr std::chrono::milliseconds retry_window{10'000};

boost::asio::awaitable<net::response> send_retrying(net::http_client& http, net::request req, int attempts,
                                                    std::chrono::milliseconds initial, std::chrono::milliseconds max,
                                                    std::chrono::milliseconds window = retry_window);

// A log's error message: the JSON "message" when there is one, else the body's start.
std::string log_message(const net::response& r);

}  // namespace chainsd::tlog::detail
