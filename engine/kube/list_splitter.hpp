#pragma once
// Splits a Kubernetes List body (`{"kind":…,"metadata":{…},"items":[{…},{…}]}`) into its items
// as the bytes arrive, so a page is never held whole: memory is one item (at most max_item_bytes)
// whatever the page size. Each item is handed out with the metadata read on the way (namespace,
// name, uid, resourceVersion at items[i].metadata); an item over max_item_bytes is not kept but
// still named (its metadata strings are read as they pass), so the caller can skip it with an
// error that says which object it was. The list's metadata.resourceVersion and .continue are read
// the same way.
//
// A structural scanner (strings, escapes, nesting), not a validator: malformed JSON either throws
// json_error (unbalanced nesting, bytes after the end, a truncated body at finish()) or yields an
// item its consumer will fail to parse. Bytes are classified 64 at a time (byte_classes.hpp) and
// only those the state needs are visited: quotes and brackets (and commas near the top) outside
// strings, quotes and backslashes inside; an item and a captured string are copied as spans, and
// an item that arrived within one feed() is handed out as a view of it, not copied. Below
// items[i].<field> only nesting and strings are tracked, a block at a time from its masks (string
// parity from the unescaped quotes). The result is the same as a
// byte-at-a-time reading of the same grammar whatever the pieces the body arrives in (tested
// against one on random bodies cut at random points).

#include "kube/byte_classes.hpp"
#include "kube/json_scan.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace chainsd::kube {

class list_splitter {
 public:
  // raw is valid during the call only.
  using item_fn = std::function<void(const object_meta& meta, std::string_view raw)>;
  // An item over the limit: its metadata (name etc. when they came before the limit was passed
  // or at all) and its full size in bytes.
  using oversize_fn = std::function<void(const object_meta& meta, std::size_t bytes)>;

  list_splitter(std::size_t max_item_bytes, item_fn on_item, oversize_fn on_oversize);

  void feed(std::string_view bytes);
  // The body ended: throws json_error unless the top-level value was complete.
  list_meta finish();

  std::size_t bytes_seen() const { return seen_; }
  std::size_t items() const { return meta_.items; }
  const list_meta& meta() const { return meta_; }

 private:
  // Below the tracked levels: strings, escapes and nesting from the masks of the rest of the block
  // (`every`: the block's bytes). came_up: back at the tracked levels, ahead starts after that
  // bracket; needs_events: a \u escape or a backslash outside a string, for step() to read.
  enum class skipped { to_block_end, came_up, needs_events };
  skipped skip_deeper(const byte_classes& c, const char* block, std::uint64_t every, std::uint64_t& ahead);
  void step(const char* at);      // one byte the state cares about
  void escaped(char ch);          // a byte of an escape sequence (after the backslash)
  void begin_string(const char* at);
  void string_done();
  void open(char kind, const char* at);
  void close(char kind, const char* at);
  void keep(const char* from, const char* to);     // bytes of the current item
  void capture(const char* from, const char* to);  // text of the current string

  std::size_t max_item_;
  item_fn on_item_;
  oversize_fn on_oversize_;

  struct level {
    char kind;         // '{' or '['
    bool expect_key;   // object: the next string is a key
    std::string key;   // object: the key whose value is being read
  };
  static constexpr std::size_t tracked_levels = 4;  // root, items, an item, its fields
  std::vector<level> stack_;  // at most tracked_levels
  std::string deeper_;        // '{' or '[' of each level below those: only nesting matters there
  bool in_string_ = false;
  bool escape_ = false;
  int unicode_left_ = 0;  // hex digits of a \u escape still to come
  unsigned unicode_ = 0;
  bool string_is_key_ = false;
  bool capture_ = false;  // the current string's text is wanted (a key or a metadata value)
  std::string text_;
  bool done_ = false;
  bool in_item_ = false;
  bool item_oversize_ = false;
  std::size_t item_bytes_ = 0;  // kept so far (in item_ unless over the limit)
  std::string item_;           // the current item's bytes from earlier feeds
  const char* item_from_ = nullptr;  // in the current feed: where its bytes not yet kept start
  const char* text_from_ = nullptr;  // in the current feed: the captured string's unread text
  object_meta item_meta_;
  list_meta meta_;
  std::size_t seen_ = 0;
};

}  // namespace chainsd::kube
