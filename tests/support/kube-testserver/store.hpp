#pragma once
// The in-memory object store: one ordered map per resource type, a global resourceVersion, a
// bounded event history for watch resumption, and watcher fan-out. Objects are kept only as
// their serialized JSON (plus the few fields selectors need): each change is serialized once and
// the same bytes are shared by list responses, watch events and the history.
//
// Single-threaded: every call happens on the server's io_context thread. Watchers are owned by
// the caller (a watch connection) and must call stop_watch before they are destroyed.

#include "patch.hpp"
#include "resources.hpp"
#include "selectors.hpp"

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace chainsd::testserver {

struct stored_object {
  std::string ns;
  std::string name;
  std::uint64_t rv = 0;
  label_map labels;
  std::string bytes;
};
using object_ptr = std::shared_ptr<const stored_object>;

enum class event_type { added, modified, deleted, bookmark, error };
std::string_view event_type_name(event_type t);

// One watch event on the wire: `{"type":"<type>","object":<object>}\n`.
struct frame {
  event_type type;
  std::shared_ptr<const std::string> object;
};

struct watch_filter {
  std::size_t resource = 0;
  std::string ns;  // empty: all namespaces
  label_selector labels;
  field_selector fields;
};

struct watcher {
  watch_filter filter;
  std::deque<frame> queue;
  bool overflow = false;     // dropped for being too slow; the connection closes
  std::function<void()> notify;  // wakes the connection's writer
};

struct list_result {
  std::vector<object_ptr> items;
  std::uint64_t rv = 0;
  std::string continue_token;
};

struct write_options {
  std::string manager;      // fieldManager, or derived from the User-Agent
  std::string subresource;  // "" or "status"
  bool force = false;       // server-side apply ?force=true
  bool dry_run = false;
};

enum class patch_kind { merge, strategic, json, apply };

struct delete_result {
  object_ptr object;
  bool deleted = false;  // false: finalizers pending, object only got a deletionTimestamp
};

class store {
 public:
  store(const resource_registry& registry, std::size_t history_limit, std::size_t watcher_queue_limit,
        bool lenient_status);

  const resource_registry& registry() const { return registry_; }
  std::uint64_t current_rv() const { return rv_; }
  std::uint64_t oldest_watchable_rv() const { return compacted_rv_; }
  std::size_t object_count() const;
  std::size_t watcher_count() const;

  // Forgets the history: a watch from any older resourceVersion then gets 410 Gone.
  void compact();

  // All mutating calls throw api_error on NotFound / AlreadyExists / Conflict / Invalid.
  object_ptr get(std::size_t res, const std::string& ns, const std::string& name) const;
  list_result list(std::size_t res, const std::string& ns, const label_selector& labels,
                   const field_selector& fields, std::size_t limit, std::string_view continue_token) const;
  object_ptr create(std::size_t res, const std::string& ns, json::value body, const write_options& opt);
  object_ptr update(std::size_t res, const std::string& ns, const std::string& name, json::value body,
                    const write_options& opt);
  // Returns the object; `created` is set when a server-side apply created it.
  object_ptr patch(std::size_t res, const std::string& ns, const std::string& name, patch_kind kind,
                   const json::value& patch, const write_options& opt, bool& created);
  delete_result remove(std::size_t res, const std::string& ns, const std::string& name,
                       const json::value& delete_options);
  std::size_t remove_collection(std::size_t res, const std::string& ns, const label_selector& labels,
                                const field_selector& fields);

  // Adds an object as-is (status kept), assigning uid/timestamps/resourceVersion when missing.
  // `emit` false during start-up preload: no history, no fan-out.
  object_ptr load(json::value obj, bool emit);
  void ensure_namespace(const std::string& ns, bool emit);

  // Registers `w` and returns the frames it must send first: synthetic ADDED events for
  // rv "" / "0", or the history after `rv`. Throws api_error 410 (Expired) when `rv` is older
  // than the history, 400 for a malformed rv.
  std::vector<frame> start_watch(watcher& w, std::string_view rv);
  void stop_watch(watcher& w);

  std::shared_ptr<const std::string> bookmark_object(std::size_t res, bool initial_events_end) const;
  static std::shared_ptr<const std::string> status_object(unsigned code, std::string_view reason,
                                                          std::string_view message);

 private:
  struct event {
    std::uint64_t rv;
    std::size_t resource;
    event_type type;
    object_ptr obj;
    object_ptr prev;
  };

  std::string key_of(const resource_type& t, const std::string& ns, const std::string& name) const;
  object_ptr find(std::size_t res, const std::string& ns, const std::string& name) const;
  // `client_write`: a create/update/patch/apply, refused beyond etcd's request size.
  object_ptr commit(std::size_t res, json::value obj, event_type type, object_ptr prev, bool emit,
                    bool client_write = false);
  object_ptr finish_update(std::size_t res, object_ptr existing, const json::value& old_value,
                           json::value next, const write_options& opt, bool record_fields);
  object_ptr erase(std::size_t res, object_ptr existing, json::value value);
  void fan_out(const event& e);
  bool matches(const watch_filter& f, const stored_object& o) const;
  void prepare_new(std::size_t res, const std::string& ns, json::value& body);
  [[noreturn]] void not_found(std::size_t res, const std::string& name) const;

  const resource_registry& registry_;
  std::size_t history_limit_;
  std::size_t watcher_queue_limit_;
  bool lenient_status_;
  std::uint64_t rv_ = 1;
  std::uint64_t compacted_rv_ = 1;
  std::vector<std::map<std::string, object_ptr>> objects_;
  std::deque<event> history_;
  std::vector<std::vector<watcher*>> watchers_;
  // Paginated lists in progress: id → the full result of the first page. They pin old object
  // versions, so abandoned ones go after a while and the oldest go first beyond a count.
  struct snapshot {
    std::chrono::steady_clock::time_point created;
    std::vector<object_ptr> items;
  };
  static constexpr std::size_t max_snapshots = 64;
  static constexpr std::chrono::seconds snapshot_ttl{300};
  mutable std::map<std::uint64_t, snapshot> snapshots_;
  mutable std::uint64_t next_snapshot_ = 0;
};

}  // namespace chainsd::testserver
