#pragma once
// Splits a Kubernetes List body (`{"kind":…,"metadata":{…},"items":[{…},{…}]}`) into its items
// as the bytes arrive, so a page is never held whole: memory is one item (at most max_item_bytes)
// whatever the page size. Each item is handed out with the metadata read on the way (namespace,
// name, uid, resourceVersion at items[i].metadata); an item over max_item_bytes is not kept but
// still named (its metadata strings are read as they pass), so the caller can skip it with an
// error that says which object it was. The list's metadata.resourceVersion and .continue are read
// the same way.
//
// A byte-level scanner (strings, escapes, nesting), not a validator: malformed JSON either throws
// json_error (unbalanced nesting, bytes after the end, a truncated body at finish()) or yields an
// item its consumer will fail to parse.

#include "kube/json_scan.hpp"

#include <cstddef>
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
  void keep(std::string_view bytes);  // bytes of the current item (if any)
  void on_char(char ch);
  void string_done();
  void open(char kind);
  void close(char kind);

  std::size_t max_item_;
  item_fn on_item_;
  oversize_fn on_oversize_;

  struct level {
    char kind;         // '{' or '['
    bool expect_key;   // object: the next string is a key
    std::string key;   // object: the key whose value is being read
  };
  std::vector<level> stack_;
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
  std::size_t item_bytes_ = 0;
  std::string item_;
  object_meta item_meta_;
  list_meta meta_;
  std::size_t seen_ = 0;
};

}  // namespace chainsd::kube
