#pragma once
// List+watch of one resource (optionally one namespace, label/field selector), delivering each
// change to the consumer exactly once:
//   1. list (paginated) → added events for every object, then `on_synced` once (/readyz);
//   2. watch from the list's resourceVersion with bookmarks; every event and bookmark advances
//      the resume point; a dropped or stalled stream (no byte within idle_timeout, not even a
//      bookmark) resumes from there after backoff+jitter;
//   3. 410 Gone/Expired (HTTP status or ERROR event) → relist and reconcile against known_set:
//      added for new, modified for a changed resourceVersion, nothing for unchanged, deleted for
//      vanished objects. Only key→resourceVersion/uid is kept, never objects.
// Events whose resourceVersion the consumer already saw are dropped, so a server replaying
// history does not produce duplicates either.
//
// Ownership: the client and the watcher must outlive run(). One run() at a time; running the same
// watcher again after it returned resumes from its last resourceVersion without re-delivering
// what the consumer already saw.
// Cancellation: run() returns normally when its cancellation slot fires or after stop(); a
// list request in flight finishes first unless the slot cancels it. The handler runs on the
// executor thread, synchronously; an exception it throws ends run() with that exception (the
// event counts as delivered: a later run() does not repeat it).

#include "kube/client.hpp"
#include "kube/known_set.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace chainsd::kube {

struct watch_event {
  event_type type = event_type::added;
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string resource_version;
  // Raw JSON of the object. Empty for a deletion detected by a relist (its final state is
  // unknown; resource_version is then the last one the consumer saw).
  std::string object;
};

struct watcher_options {
  std::string namespace_name;   // "" = all namespaces
  std::string label_selector;
  std::string field_selector;
  unsigned page_size = 500;      // --list-page-size; halved for the rest of a list when a page is
                                 // refused, fails or passes max_page_bytes (same continue token)
  std::size_t max_page_bytes = 64u << 20;  // a page is read as a stream, item by item; past this
                                           // many bytes it is cut and asked again, smaller
  std::size_t max_list_item_bytes = 32u << 20;  // a listed object over this is skipped (logged)
  // Server-side watch timeout; each request uses a random value in [t, 2t) so that many
  // watchers do not reconnect in step (as client-go).
  int timeout_seconds = 300;
  std::chrono::milliseconds idle_timeout{120'000};
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30'000};
  std::size_t max_event_bytes = 32u << 20;  // a watch event over this is skipped (logged)
};

struct watcher_stats {
  std::size_t lists = 0;        // complete lists (the first one included)
  std::size_t watches = 0;      // watch requests opened
  std::size_t gone = 0;         // 410s seen (each leads to a relist)
  std::size_t failures = 0;     // transport/API failures followed by backoff
  std::size_t bookmarks = 0;
  std::size_t events = 0;       // events delivered to the consumer
  std::size_t skipped = 0;      // stream events dropped as already seen
  std::size_t oversize = 0;     // listed objects and watch events skipped as too big
  std::size_t smaller_pages = 0;  // times the page limit was halved
};

class watcher {
 public:
  using event_handler = std::function<void(watch_event)>;
  using synced_handler = std::function<void()>;

  watcher(client& c, resource r, watcher_options o = {});
  ~watcher();
  watcher(const watcher&) = delete;
  watcher& operator=(const watcher&) = delete;

  boost::asio::awaitable<void> run(event_handler on_event, synced_handler on_synced);
  // Without a synced handler. (An inline overload, not a default argument: g++ 12 mishandles
  // defaulted class-type coroutine parameters.)
  boost::asio::awaitable<void> run(event_handler on_event) {
    return run(std::move(on_event), synced_handler{});
  }
  // Ends run() soon: closes the open stream and interrupts a backoff pause.
  void stop();

  bool synced() const;
  const std::string& resource_version() const;  // where a resume would start
  std::size_t known_objects() const;
  const watcher_stats& stats() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace chainsd::kube
