#pragma once
// Runs one blocking, bounded computation (a cosign key derivation: up to 128 MiB of scrypt for
// ~0.4 s) on a thread of its own and resumes the awaiting coroutine on its executor, so the loop
// keeps serving /healthz and other runs meanwhile. The work guard keeps the io_context running
// until the result is posted back. Not cancellable: the computation is bounded.

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <thread>
#include <utility>

namespace signer_x509 {

// `fn` must not throw; it runs on another thread and must touch nothing the loop uses.
template <class T, class F>
boost::asio::awaitable<T> off_loop(F fn) {
  auto ex = co_await boost::asio::this_coro::executor;
  auto initiation = [ex](auto handler, F work_fn) {
    std::thread([handler = std::move(handler), work_fn = std::move(work_fn),
                 guard = boost::asio::make_work_guard(ex)]() mutable {
      T value = work_fn();
      auto target = guard.get_executor();
      boost::asio::post(target, [handler = std::move(handler), value = std::move(value)]() mutable {
        std::move(handler)(std::move(value));
      });
    }).detach();
  };
  co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(T)>(
      initiation, boost::asio::use_awaitable, std::move(fn));
}

}  // namespace signer_x509
