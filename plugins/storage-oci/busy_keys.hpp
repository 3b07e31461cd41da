#pragma once
// Keys some coroutine is working on (a tag being rewritten, credentials being read), each with a
// timer that never fires on its own: others wait on it and are woken when the work ends.
// One event loop; the set outlives every coroutine that waits on it.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <map>
#include <memory>
#include <string>

namespace storage_oci {

class busy_keys {
 public:
  // Waits once if `key` is busy and returns true (the caller re-checks its state); false if free.
  boost::asio::awaitable<bool> wait_if_busy(const std::string& key) {
    auto it = keys_.find(key);
    if (it == keys_.end()) co_return false;
    auto timer = it->second;
    auto waited = co_await timer->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    (void)waited;
    co_return true;
  }
  void mark(std::string key, boost::asio::any_io_executor ex) {
    keys_.emplace(std::move(key), std::make_shared<boost::asio::steady_timer>(
                                      ex, boost::asio::steady_timer::time_point::max()));
  }
  // Waits until `key` is free, then marks it busy (pair with a `release`).
  boost::asio::awaitable<void> lock(std::string key, boost::asio::any_io_executor ex) {
    for (;;) {  // (no co_await in a loop condition: GCC 12 miscompiles it)
      const bool waited = co_await wait_if_busy(key);
      if (!waited) break;
    }
    mark(std::move(key), std::move(ex));
  }
  // Frees the key and wakes its waiters when the working coroutine's frame goes, however it ends.
  struct release {
    busy_keys* set;
    std::string key;
    ~release() {
      auto it = set->keys_.find(key);
      if (it == set->keys_.end()) return;
      it->second->cancel();
      set->keys_.erase(it);
    }
  };

 private:
  std::map<std::string, std::shared_ptr<boost::asio::steady_timer>> keys_;
};

}  // namespace storage_oci
