#pragma once
// One fetch in flight, many waiters: the first caller that needs a value (a public key, temporary
// credentials) begins the flight; later callers wait() until it ends, then look at the outcome
// again (it may have failed). Single-threaded: all calls on the host's executor.
// ensure() is the whole pattern: `ready` (a plain function) says whether the value is there,
// `fetch` (a plain function returning the fetching awaitable) gets it; waiters of a failed
// flight get its error, the next caller starts a new flight.

#include <chainsd/plugin/async_event.hpp>
#include <chainsd/plugin/errors.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <optional>

namespace signer_kms {

class flight {
 public:
  explicit flight(boost::asio::any_io_executor ex) : done_(std::move(ex)) {}

  bool busy() const { return busy_; }
  void begin() {
    busy_ = true;
    done_.reset();
  }
  void end() {
    busy_ = false;
    done_.set();  // wakes every waiter
  }
  // Returns when the flight in progress ends (at once when none is).
  boost::asio::awaitable<void> wait() {
    if (!busy_) co_return;
    co_await done_.wait();
  }

  template <class Ready, class Fetch>
  boost::asio::awaitable<chainsd::plugin::result<void>> ensure(Ready ready, Fetch fetch) {
    while (!ready()) {
      if (busy_) {
        co_await wait();
        if (!ready() && !busy_ && last_error_) {
          auto e = *last_error_;
          co_return e;
        }
        continue;
      }
      begin();
      auto r = co_await fetch();
      last_error_.reset();
      if (!r) last_error_ = r.error();
      end();
      if (!r) co_return r.error();
    }
    co_return chainsd::plugin::result<void>{};
  }

 private:
  std::optional<chainsd::plugin::error> last_error_;
  bool busy_ = false;
  chainsd::plugin::async_event done_;
};

}  // namespace signer_kms
