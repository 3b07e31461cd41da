#pragma once
// Process lifetime: one io_context thread, SIGTERM/SIGINT handling with a bounded drain, the
// health and metrics endpoints. The application's work is one "intake" coroutine (watches that
// bring new work) plus tracked tasks (work in flight). On a signal the intake is cancelled at once;
// tracked tasks get up to drain_timeout to finish, then the loop stops and run() returns 0.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace chainsd::net {
class http_server;
}

namespace chainsd::app {

struct app_options {
  std::string metrics_addr = "127.0.0.1:9090";   // empty: no HTTP endpoints
  std::chrono::milliseconds drain_timeout{10'000};
};

class app {
 public:
  explicit app(app_options opts);
  ~app();

  boost::asio::io_context& context() { return ctx_; }

  // Registers a component that must report ready before /readyz answers 200.
  void expect_ready(const std::string& component);
  void set_ready(const std::string& component);

  // Work in flight that a shutdown waits for (bounded by drain_timeout). The coroutine is
  // started now; exceptions are logged with `what` and never escape.
  void track(std::string what, std::function<boost::asio::awaitable<void>()> task);
  std::size_t in_flight() const { return in_flight_; }

  // Runs `intake` until it returns or a signal arrives, then drains. Returns the exit code:
  // 0 after a signal or a normal end, 1 if the intake failed with an exception.
  int run(std::function<boost::asio::awaitable<void>()> intake);

  // Same as receiving SIGTERM (for tests and fatal conditions).
  void request_stop(std::string reason);
  // Called once when shutdown starts (stop intake-side loops that do not watch the cancellation).
  void on_stop(std::function<void()> hook) { stop_hooks_.push_back(std::move(hook)); }
  // Called when the drain timeout passes with work still in flight: cancel it (it then has a
  // short grace period to unwind before the loop stops).
  void on_drain_timeout(std::function<void()> hook) { cancel_hooks_.push_back(std::move(hook)); }
  bool stopping() const { return stopping_; }

 private:
  boost::asio::awaitable<void> drain();
  static std::function<void(std::exception_ptr)> logged(std::string what);

  app_options opts_;
  boost::asio::io_context ctx_{1};
  std::unique_ptr<net::http_server> server_;
  std::map<std::string, bool> ready_;
  std::vector<std::function<void()>> stop_hooks_;
  std::vector<std::function<void()>> cancel_hooks_;
  std::size_t in_flight_ = 0;
  bool stopping_ = false;
  int exit_code_ = 0;
  struct signals;
  std::unique_ptr<signals> signals_;
};

}  // namespace chainsd::app
