#pragma once
// Coroutine sleep on the current executor; honours cancellation (throws operation_aborted).

#include <boost/asio/awaitable.hpp>

#include <chrono>

namespace chainsd::runtime {

boost::asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration d);

}  // namespace chainsd::runtime
