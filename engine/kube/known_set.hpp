#pragma once
// What a watch consumer has already been told: key (namespace/name) → resourceVersion and uid.
// It is all the watcher keeps per object (never the object), so a relist after 410 Gone can be
// reconciled into exactly the events the consumer missed: added for new keys, modified for a
// changed resourceVersion, nothing for unchanged ones, deleted for keys that vanished.
// Cost per object is ~180 bytes with 40-character keys (hash node, key, short rv string, uid packed
// in 16 bytes): ~18 MB for 100,000 objects (measured in tests/engine/kube/known_set_test.cpp).

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace chainsd::kube {

enum class event_type { added, modified, deleted };

class known_set {
 public:
  struct forgotten {
    std::string key;
    std::string uid;
    std::string resource_version;
  };

  static std::string make_key(std::string_view ns, std::string_view name);
  static std::pair<std::string_view, std::string_view> split_key(std::string_view key);

  // A live ADDED/MODIFIED event or a list item. Returns the event to emit (added/modified), or
  // nothing when the consumer already saw this resourceVersion. `replaced` is set when the uid
  // changed (deleted and recreated under the same name while we were not watching): the caller
  // emits deleted for the old uid first.
  std::optional<event_type> upsert(std::string_view key, std::string_view uid, std::string_view rv,
                                   std::optional<forgotten>* replaced = nullptr);

  // A live DELETED event. Returns false when the key was unknown (nothing to tell).
  bool erase(std::string_view key);

  // Relist: begin_sweep(), upsert() every item, then end_sweep() returns what vanished (and
  // forgets it).
  void begin_sweep();
  std::vector<forgotten> end_sweep();

  std::size_t size() const { return map_.size(); }
  // Last resourceVersion told for a key, empty when unknown (tests).
  std::string resource_version(std::string_view key) const;

 private:
  struct entry {
    std::string rv;
    std::array<std::uint8_t, 16> uid{};  // canonical UUID packed
    std::unique_ptr<std::string> odd_uid;  // only for uids that are not UUIDs
    std::uint32_t generation = 0;
  };
  struct hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  static void set_uid(entry& e, std::string_view uid);
  static std::string get_uid(const entry& e);
  static bool same_uid(const entry& e, std::string_view uid);

  std::unordered_map<std::string, entry, hash, std::equal_to<>> map_;
  std::uint32_t generation_ = 0;
};

}  // namespace chainsd::kube
