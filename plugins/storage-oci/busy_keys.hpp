#pragma once
// Keys some coroutine is working on (a tag being rewritten, credentials being read), each with an
// event others wait on: it is set (waking them) when the work ends, however it ends.
// One event loop; the set outlives every coroutine that waits on it.

#include <chainsd/plugin/async_event.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

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
    auto done = it->second;  // the entry goes when the work ends: keep the event alive
    co_await done->wait();
    co_return true;
  }
  void mark(std::string key, boost::asio::any_io_executor ex) {
    keys_.emplace(std::move(key), std::make_shared<chainsd::plugin::async_event>(std::move(ex)));
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
      it->second->set();
      set->keys_.erase(it);
    }
  };

 private:
  std::map<std::string, std::shared_ptr<chainsd::plugin::async_event>> keys_;
};

}  // namespace storage_oci
