#pragma once
// Runs one awaitable to completion on a test's io_context and returns its value (or rethrows
// its exception): the synchronous bridge the C++ integration tests use.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <optional>

namespace chainsd::test_support {

template <class T>
T run(boost::asio::io_context& ctx, boost::asio::awaitable<T> a) {
  std::optional<T> out;
  std::exception_ptr err;
  auto done = [&out, &err](std::exception_ptr e, T v) {
    err = e;
    if (!e) out = std::move(v);
  };
  boost::asio::co_spawn(ctx, std::move(a), done);
  ctx.restart();
  ctx.run();
  if (err) std::rethrow_exception(err);
  return std::move(*out);
}

}  // namespace chainsd::test_support

namespace test_support = chainsd::test_support;
