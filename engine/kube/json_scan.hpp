#pragma once
// Streaming extraction of what the client layer needs from API JSON (object metadata, list
// metadata, watch event envelopes) with a simdjson on-demand parser reused across calls. No DOM
// of a list or of a stream is ever built: items are visited one by one and handed out as raw
// JSON views into the input.
//
// Not thread-safe; one json_scanner per watcher/stream. Views passed to callbacks are valid only
// during the callback (list) or until the next parse_event call (events).

#include "kube/errors.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace chainsd::kube {

struct object_meta {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string resource_version;
};

struct list_meta {
  std::string resource_version;
  std::string continue_token;
  std::size_t items = 0;
};

enum class raw_event_type { added, modified, deleted, bookmark, error, unknown };

struct watch_line {
  raw_event_type type = raw_event_type::unknown;
  object_meta meta;
  std::string_view object;  // raw JSON of "object"
  api_status status;        // filled for ERROR events (the object is a Status)
};

// Thrown when JSON is malformed or lacks what the client needs (e.g. a list without "items").
class json_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// metadata.resourceVersion of an object body, found without parsing the rest: every other value
// is skipped (strings with memchr), so an object carrying tens of KB of annotations costs a few
// microseconds. nullopt when the body is not a JSON object with that field as a plain string
// (callers then parse it in full, which reports what is wrong).
std::optional<std::string> quick_resource_version(std::string_view body);

class json_scanner {
 public:
  json_scanner();
  ~json_scanner();
  json_scanner(const json_scanner&) = delete;
  json_scanner& operator=(const json_scanner&) = delete;

  using item_fn = std::function<void(const object_meta& meta, std::string_view raw_item)>;
  // Visits every element of "items" of a List body, in order. `body` may be grown (capacity) for
  // the parser's padding; its contents are unchanged.
  list_meta scan_list(std::string& body, const item_fn& on_item);

  // Parses one newline-delimited watch event. Returns false for a blank line. With
  // `readable_after` >= 64 (that many bytes after the line are allocated memory, whatever they
  // hold), the line is parsed where it lies and out.object points into it; otherwise it is copied.
  bool parse_event(std::string_view line, watch_line& out, std::size_t readable_after = 0);
  static constexpr std::size_t parse_padding = 64;  // simdjson::SIMDJSON_PADDING

  // metadata of a single object body (e.g. a get or create response).
  object_meta scan_object(std::string_view body);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace chainsd::kube
