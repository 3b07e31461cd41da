#include "app/app.hpp"

#include "net/http_server.hpp"
#include "runtime/log.hpp"
#include "runtime/metrics.hpp"
#include "runtime/process_metrics.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <exception>

namespace asio = boost::asio;

namespace chainsd::app {

struct app::signals {
  explicit signals(asio::io_context& ctx) : set(ctx, SIGTERM, SIGINT) {}
  asio::signal_set set;
  asio::cancellation_signal intake_cancel;
};

app::app(app_options opts) : opts_(std::move(opts)), signals_(std::make_unique<signals>(ctx_)) {
  if (!opts_.metrics_addr.empty()) {
    server_ = std::make_unique<net::http_server>(ctx_.get_executor(), opts_.metrics_addr);
    server_->route("/metrics", [](std::string_view) {
      return net::simple_response{200, "text/plain; version=0.0.4; charset=utf-8",
                                  metrics::global().render() + metrics::render_process()};
    });
    server_->route("/healthz", [](std::string_view) { return net::simple_response{200, "text/plain", "ok\n"}; });
    server_->route("/readyz", [this](std::string_view) {
      std::string waiting;
      for (const auto& [name, ok] : ready_)
        if (!ok) waiting += (waiting.empty() ? "" : ", ") + name;
      if (stopping_) return net::simple_response{503, "text/plain", "shutting down\n"};
      if (!waiting.empty()) return net::simple_response{503, "text/plain", "waiting for: " + waiting + "\n"};
      return net::simple_response{200, "text/plain", "ok\n"};
    });
  }
}

app::~app() = default;

void app::expect_ready(const std::string& component) { ready_.emplace(component, false); }

void app::set_ready(const std::string& component) {
  auto& flag = ready_[component];
  if (!flag) log::info("component ready", {{"component", component}});
  flag = true;
}

void app::track(std::string what, std::function<asio::awaitable<void>()> task) {
  ++in_flight_;
  auto done = [this, what](std::exception_ptr e) {
    --in_flight_;
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::error("task failed", {{"task", what}, {"error", ex.what()}});
    }
  };
  asio::co_spawn(ctx_, std::move(task), std::move(done));
}

void app::request_stop(std::string reason) {
  if (stopping_) return;
  stopping_ = true;
  log::info("shutting down", {{"reason", reason},
                              {"in_flight", std::to_string(in_flight_)},
                              {"drain_timeout_ms", std::to_string(opts_.drain_timeout.count())}});
  signals_->intake_cancel.emit(asio::cancellation_type::terminal);
  for (auto& hook : stop_hooks_) hook();
  auto drainer = [this]() { return drain(); };
  asio::co_spawn(ctx_, drainer, logged("drain"));
}

// The completion of a coroutine nobody waits for: an exception is logged, never lost.
std::function<void(std::exception_ptr)> app::logged(std::string what) {
  return [what = std::move(what)](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::error("task failed", {{"task", what}, {"error", ex.what()}});
    } catch (...) {
      log::error("task failed", {{"task", what}, {"error", "a non-standard exception"}});
    }
  };
}

asio::awaitable<void> app::drain() {
  asio::steady_timer t(ctx_);
  auto deadline = std::chrono::steady_clock::now() + opts_.drain_timeout;
  while (in_flight_ > 0 && std::chrono::steady_clock::now() < deadline) {
    t.expires_after(std::chrono::milliseconds(20));
    co_await t.async_wait(asio::use_awaitable);
  }
  if (in_flight_ > 0) {
    // Cut what is left: a cancelled pass writes nothing, so its run stays as it was and is
    // picked up again by the next process (a pass cut half-way never leaves partial annotations).
    log::warn("drain timeout reached, cancelling work in flight", {{"in_flight", std::to_string(in_flight_)}});
    for (auto& hook : cancel_hooks_) hook();
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (in_flight_ > 0 && std::chrono::steady_clock::now() < deadline) {
      t.expires_after(std::chrono::milliseconds(10));
      co_await t.async_wait(asio::use_awaitable);
    }
    if (in_flight_ > 0) log::warn("abandoning work that ignored cancellation", {{"in_flight", std::to_string(in_flight_)}});
  } else {
    log::info("drained");
  }
  if (server_) server_->stop();
  ctx_.stop();
}

int app::run(std::function<asio::awaitable<void>()> intake) {
  if (server_) {
    server_->start();
    log::info("serving health and metrics", {{"address", server_->local_address()}});
  }
  auto on_signal = [this](boost::system::error_code ec, int sig) {
    if (ec) return;
    request_stop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
  };
  signals_->set.async_wait(on_signal);

  auto intake_done = [this](std::exception_ptr e) {
    if (e && !stopping_) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::error("fatal", {{"error", ex.what()}});
      }
      exit_code_ = 1;
    }
    request_stop("intake finished");
  };
  asio::co_spawn(ctx_, std::move(intake),
                 asio::bind_cancellation_slot(signals_->intake_cancel.slot(), intake_done));
  // One write per 100 ms of info lines instead of one per line (a line per signed run adds up);
  // warnings and errors still go out at once, and whatever is kept is written on the way out.
  struct unbuffer {
    ~unbuffer() { log::set_buffered(false); }
  } on_exit;
  log::set_buffered(true);
  auto flusher = [this]() -> asio::awaitable<void> {
    asio::steady_timer t(ctx_);
    for (;;) {
      t.expires_after(std::chrono::milliseconds(100));
      co_await t.async_wait(asio::use_awaitable);
      log::flush();
    }
  };
  asio::co_spawn(ctx_, flusher, logged("log flusher"));
  ctx_.run();
  return exit_code_;
}

}  // namespace chainsd::app
